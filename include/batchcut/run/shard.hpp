// Sharding: N processes (or machines) split one manifest, each cutting a disjoint part into
// its own ledger. Which part a job belongs to is a function of its live video alone
// ("projectId/liveVideoId"): FNV-1a 64 of it, mod N. A stream's clips and its stop-and-cut
// go to the same shard, which settles the clips before it stops the stream. So every shard
// computes the same split from the same manifest, whatever the order of its rows and
// whatever the platform, and the shards together cover every job exactly once.
//
// Shards are 0-based, as Kubernetes' JOB_COMPLETION_INDEX is: "K/N" with 0 <= K < N.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "batchcut/job/spec.hpp"

namespace batchcut {

inline constexpr std::uint32_t max_shards = 100000;

struct Shard {
  std::uint32_t index = 0;  // K, 0-based: 0 <= index < count
  std::uint32_t count = 1;  // N

  bool operator==(const Shard&) const = default;
};

// "K/N", as --shard takes it and the ledger's run record stores it.
std::string to_string(const Shard& shard);

// "K/N" -> a shard; nullopt (and why, in `error`) for anything else, K >= N included.
std::optional<Shard> parse_shard(std::string_view text, std::string& error);

// FNV-1a, 64 bits: fixed by its definition, the same on every platform and in every build.
std::uint64_t fnv1a64(std::string_view bytes);

// The shard (0..count-1) a job of this key belongs to.
std::uint32_t shard_of(std::string_view job_key, std::uint32_t count);
bool in_shard(const JobSpec& job, const Shard& shard);

// Where this process's shard comes from (`run`, `replay`, `--dry-run`):
// - `--shard K/N` (flag): that one; $JOB_COMPLETION_INDEX is not looked at.
// - `--shards N` (count): K from $JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs), which must
//   be set and below N.
// - neither: no sharding. $JOB_COMPLETION_INDEX alone is ignored, so an unrelated
//   environment never shards a run by surprise.
// Both flags at once is an error. `completion_index` is the variable's value, if set.
struct ShardChoice {
  std::optional<Shard> shard;  // nullopt: not sharded
  std::string error;           // set: bad usage, nothing may be sent

  bool ok() const { return error.empty(); }
};
ShardChoice resolve_shard(const std::optional<std::string>& flag, const std::optional<std::string>& count,
                          const std::optional<std::string>& completion_index);

// A sharded run's default ledger: beside the manifest, NAME.shard-K-of-N.ledger.jsonl, so
// two shards never share one by accident.
std::filesystem::path sharded_ledger_path(const std::filesystem::path& manifest, const Shard& shard);

}  // namespace batchcut
