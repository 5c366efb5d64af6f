#include "batchcut/vod/vod.hpp"

#include "batchcut/net/api.hpp"

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

std::string default_manage_base_for(std::string_view livestream_base_url) {
  const auto vp = parse_base_url(default_base_url);
  const auto given = parse_base_url(livestream_base_url);
  if (!given || (vp && same_origin(*given, *vp))) return default_manage_base_url;
  return given->to_string();
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
