#include "batchcut/vod/vod.hpp"

namespace batchcut {

const char* to_string(PublishStatus s) {
  switch (s) {
    case PublishStatus::unknown: return "unknown";
    case PublishStatus::processing: return "processing";
    case PublishStatus::ready: return "ready";
    case PublishStatus::failed: return "failed";
    case PublishStatus::reencoding: return "reencoding";
  }
  return "?";
}

std::optional<PublishStatus> parse_publish_status(std::string_view s) {
  for (PublishStatus v : {PublishStatus::unknown, PublishStatus::processing, PublishStatus::ready,
                          PublishStatus::failed, PublishStatus::reencoding})
    if (s == to_string(v)) return v;
  return std::nullopt;
}

std::optional<PublishStatus> publish_status_from_id(std::int64_t id) {
  switch (id) {
    case 1: return PublishStatus::processing;
    case 2: return PublishStatus::ready;
    case 4: return PublishStatus::failed;
    case 8: return PublishStatus::reencoding;
    default: return std::nullopt;
  }
}

}  // namespace batchcut
