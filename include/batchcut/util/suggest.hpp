// "Did you mean" hints for a misspelt name (manifest fields, config keys).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

namespace batchcut {

// Levenshtein distance, ignoring ASCII case.
std::size_t edit_distance_ignoring_case(std::string_view a, std::string_view b);

// " (did you mean 'NAME'?)" for the candidate closest to `name`, when close enough to be a
// typo, else "". `candidates`: any range of things a string_view can be made from.
template <class Names>
std::string did_you_mean(std::string_view name, const Names& candidates) {
  std::string_view best;
  std::size_t best_d = SIZE_MAX;
  for (std::string_view c : candidates) {
    const std::size_t d = edit_distance_ignoring_case(name, c);
    if (d < best_d) best_d = d, best = c;
  }
  if (!best.empty() && best_d <= std::max<std::size_t>(2, best.size() / 3))
    return " (did you mean '" + std::string(best) + "'?)";
  return "";
}

}  // namespace batchcut
