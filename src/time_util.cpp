// STUB: replaced by the manifest work.
#include "batchcut/time_util.hpp"
#include <stdexcept>
namespace batchcut {
std::optional<utc_time> parse_iso8601(std::string_view) { throw std::logic_error("todo"); }
std::string format_api_time(utc_time) { throw std::logic_error("todo"); }
std::string format_iso8601(utc_time) { throw std::logic_error("todo"); }
std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view) { throw std::logic_error("todo"); }
std::string format_http_date(std::chrono::sys_seconds) { throw std::logic_error("todo"); }
}  // namespace batchcut
