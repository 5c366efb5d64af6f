// A problem found in an input file, reported as FILE:LINE: field: message.
#pragma once

#include <string>
#include <vector>

namespace batchcut {

struct Diagnostic {
  std::string file;
  std::size_t line = 0;  // 1-based; 0 when the problem is about the whole file
  std::string field;     // empty when not about one field
  std::string message;

  std::string to_string() const;
};

using Diagnostics = std::vector<Diagnostic>;

}  // namespace batchcut
