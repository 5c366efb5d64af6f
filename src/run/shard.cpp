// Sharding (run/shard.hpp): parsing K/N, where the index comes from, which jobs are in.
#include "batchcut/run/shard.hpp"

#include <charconv>

namespace batchcut {

namespace {

constexpr const char* kForm = "K/N, 0-based, with 0 <= K < N (as Kubernetes' JOB_COMPLETION_INDEX)";

// Digits only (no sign, no spaces), at most max_shards.
std::optional<std::uint32_t> parse_count(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  for (char ch : text)
    if (ch < '0' || ch > '9') return std::nullopt;
  std::uint32_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  if (v > max_shards) return std::nullopt;
  return v;
}

}  // namespace

std::string to_string(const Shard& shard) {
  return std::to_string(shard.index) + "/" + std::to_string(shard.count);
}

std::optional<Shard> parse_shard(std::string_view text, std::string& error) {
  const auto slash = text.find('/');
  const auto k = slash == std::string_view::npos ? std::nullopt : parse_count(text.substr(0, slash));
  const auto n = slash == std::string_view::npos ? std::nullopt : parse_count(text.substr(slash + 1));
  if (!k || !n || *n == 0) {
    error = "'" + std::string(text) + "' is not " + kForm + "; N at most " + std::to_string(max_shards);
    return std::nullopt;
  }
  if (*k >= *n) {
    error = "'" + std::string(text) + "': K must be below N (shards are 0-based: 0/" + std::to_string(*n) +
            " .. " + std::to_string(*n - 1) + "/" + std::to_string(*n) + ")";
    return std::nullopt;
  }
  return Shard{*k, *n};
}

std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // offset basis
  for (unsigned char b : bytes) {
    h ^= b;
    h *= 0x100000001b3ULL;  // FNV prime
  }
  return h;
}

std::uint32_t shard_of(std::string_view job_key, std::uint32_t count) {
  return static_cast<std::uint32_t>(fnv1a64(job_key) % count);
}

bool in_shard(const JobSpec& job, const Shard& shard) {
  // By the live video, not the job: a stream's clips and its stop-and-cut go to one shard,
  // where the runner can settle the clips before the stop. (A stop-and-cut's key is this.)
  return shard_of(job.project_id + "/" + job.live_video_id, shard.count) == shard.index;
}

ShardChoice resolve_shard(const std::optional<std::string>& flag, const std::optional<std::string>& count,
                          const std::optional<std::string>& completion_index) {
  ShardChoice c;
  if (flag && count) {
    c.error = "--shard K/N and --shards N do not go together: --shards takes K from $JOB_COMPLETION_INDEX";
    return c;
  }
  if (flag) {
    std::string why;
    c.shard = parse_shard(*flag, why);
    if (!c.shard) c.error = "--shard " + why;
    return c;
  }
  if (!count) return c;  // not sharded; $JOB_COMPLETION_INDEX alone is ignored
  const auto n = parse_count(*count);
  if (!n || *n == 0) {
    c.error = "--shards '" + *count + "' is not a shard count (1.." + std::to_string(max_shards) + ")";
    return c;
  }
  if (!completion_index) {
    c.error = "--shards " + std::to_string(*n) +
              " takes this shard's index from $JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs), which is "
              "not set; pass --shard K/N instead (" + kForm + ")";
    return c;
  }
  const auto k = parse_count(*completion_index);
  if (!k) {
    c.error = "JOB_COMPLETION_INDEX='" + *completion_index + "' is not a shard index (0-based digits)";
    return c;
  }
  if (*k >= *n) {
    c.error = "JOB_COMPLETION_INDEX=" + std::to_string(*k) + " is not below --shards " + std::to_string(*n) +
              " (shards are 0-based: 0.." + std::to_string(*n - 1) + ")";
    return c;
  }
  c.shard = Shard{*k, *n};
  return c;
}

std::filesystem::path sharded_ledger_path(const std::filesystem::path& manifest, const Shard& shard) {
  std::filesystem::path p = manifest;
  p.replace_extension(".shard-" + std::to_string(shard.index) + "-of-" + std::to_string(shard.count) +
                      ".ledger.jsonl");
  return p;
}

}  // namespace batchcut
