// A count with its noun for messages: counted(1, "job") is "1 job", counted(2, "job") is
// "2 jobs"; give the plural when it is not the noun plus 's': counted(n, "retry", "retries").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace batchcut {

inline std::string counted(std::size_t n, std::string_view noun, std::string_view plural = {}) {
  std::string out = std::to_string(n);
  out += ' ';
  if (n == 1) out += noun;
  else if (!plural.empty()) out += plural;
  else (out += noun) += 's';
  return out;
}

}  // namespace batchcut
