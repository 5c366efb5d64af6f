// "Did you mean" hints for a misspelt name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace batchcut {

// " (did you mean 'NAME'?)" for the candidate closest to `name` (case-insensitive edit
// distance, close enough to be a typo), else "".
std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace batchcut
