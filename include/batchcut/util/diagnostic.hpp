// A problem found in an input file, reported as FILE:LINE: field: message; a warning (the
// input is taken, but not quite as written) as FILE:LINE: warning: field: message.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace batchcut {

enum class Severity : std::uint8_t { error, warning };

struct Diagnostic {
  std::string file;
  std::size_t line = 0;  // 1-based; 0 when the problem is about the whole file
  std::string field;     // empty when not about one field
  std::string message;
  Severity severity = Severity::error;

  std::string to_string() const;
};

using Diagnostics = std::vector<Diagnostic>;

}  // namespace batchcut
