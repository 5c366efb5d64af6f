// Showing text that came from input (a file, a server) on a terminal or in a log: control
// characters and bytes that are not UTF-8 are escaped, so no input can move the cursor,
// recolour the screen or retitle the window, and long text is cut to a readable length.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace batchcut {

// `text` with every C0 and C1 control character and DEL written as \n, \r, \t or \xNN (C1:
// \u0080-\u009F) and every byte that is not part of valid UTF-8 as \xNN; a backslash is left
// as it is. Cut after `max_chars` characters of the input, with "..." added.
std::string escape_for_display(std::string_view text, std::size_t max_chars = 200);

}  // namespace batchcut
