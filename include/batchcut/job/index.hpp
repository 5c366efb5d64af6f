// Finds a job by its identity (JobSpec::identity(): projectId, liveVideoId, and for a clip its
// clipId or title) among jobs the caller keeps in a
// vector: open addressing over positions (8 bytes a slot, no key strings copied), comparing
// against the caller's own specs. Used for a manifest's duplicates and a ledger's fold, where
// a million jobs must be indexed in well under a second.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "batchcut/job/spec.hpp"

namespace batchcut {

class JobIndex {
 public:
  // `spec_at(pos)` returns the JobSpec at a position the index was given.
  template <class SpecAt>
  std::optional<std::size_t> find(const JobIdentity& id, const SpecAt& spec_at) const {
    if (slots_.empty()) return std::nullopt;
    const std::uint32_t h = hash(id);
    for (std::size_t i = h & mask();; i = (i + 1) & mask()) {
      const Slot& s = slots_[i];
      if (s.pos == 0) return std::nullopt;
      if (s.hash == h && spec_at(s.pos - 1).identity() == id) return s.pos - 1;
    }
  }

  // The position of the job if it is indexed; otherwise indexes it at `pos` and returns pos.
  template <class SpecAt>
  std::size_t find_or_add(const JobIdentity& id, std::size_t pos, const SpecAt& spec_at) {
    if ((count_ + 1) * 2 > slots_.size()) grow();
    const std::uint32_t h = hash(id);
    for (std::size_t i = h & mask();; i = (i + 1) & mask()) {
      Slot& s = slots_[i];
      if (s.pos == 0) {
        s = {static_cast<std::uint32_t>(pos + 1), h};
        ++count_;
        return pos;
      }
      if (s.hash == h && spec_at(s.pos - 1).identity() == id) return s.pos - 1;
    }
  }

  void reserve(std::size_t jobs) {
    while ((jobs + 1) * 2 > slots_.size()) grow();
  }

 private:
  struct Slot {
    std::uint32_t pos = 0;  // position + 1; 0: empty
    std::uint32_t hash = 0;
  };

  static std::uint32_t hash(const JobIdentity& id) {
    auto mix = [](std::size_t h, std::size_t v) { return h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)); };
    std::size_t h = std::hash<std::string_view>{}(id.project_id);
    h = mix(h, std::hash<std::string_view>{}(id.live_video_id));
    if (id.kind != JobKind::stop_and_cut)
      h = mix(h, std::hash<std::string_view>{}(id.clip) + (id.by_clip_id ? 1u : 2u));
    return static_cast<std::uint32_t>(h ^ (h >> 32));
  }
  std::size_t mask() const { return slots_.size() - 1; }

  void grow() {
    std::vector<Slot> old(slots_.empty() ? 1024 : slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& s : old) {
      if (s.pos == 0) continue;
      std::size_t i = s.hash & mask();
      while (slots_[i].pos != 0) i = (i + 1) & mask();
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::size_t count_ = 0;
};

}  // namespace batchcut
