// Finding the VOD a lost answer made. Stop-and-cut and cut-and-publish are not idempotent
// and take no idempotency key: after a timeout, a dropped connection or a proxy's 503, the
// VOD may exist while its id was never seen. The only documented way to look for it is the
// manage API's video list, searched by title (and parentVideoId where the API answers it).
//
// Best effort by nature: titles are the operator's. So a lookup settles a job only when the
// answer is unambiguous (exactly one VOD that can be ours, created since the job's first
// cut); anything else leaves the job in doubt, for a person.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "batchcut/job/lifecycle.hpp"
#include "batchcut/job/spec.hpp"
#include "batchcut/net/api.hpp"

namespace batchcut {

struct LookupQuery {
  JobKind kind = JobKind::clip;
  std::string project_id;
  std::string live_video_id;
  // clip: its title (matched exactly); stop-and-cut: the live video's title as a read saw it
  // ("" when unknown: then only an item that names its parentVideoId can match).
  std::string title;
  std::int64_t since_ms = 0;  // only VODs inserted at or after this (Unix ms) can be ours
  static constexpr std::int64_t since_unknown = std::numeric_limits<std::int64_t>::min();
};

// The lookup of `job`, whose lifecycle says when its first cut left; `skew` widens the window
// back (the server's clock may be behind ours).
LookupQuery lookup_query(const JobSpec& job, const Lifecycle& life, std::chrono::milliseconds skew);

// GET {manage}/api/projects/{projectId}/videos?search=..&parentVideoId=..&page=1&take=100
std::string lookup_target(const BaseUrl& manage, const LookupQuery& query);

inline constexpr int lookup_page_size = 100;

struct LookupResult {
  LookupVerdict verdict = LookupVerdict::unreadable;
  std::string video_public_id;  // found
  int candidates = 0;
  std::string error;  // for people: what was found, or why nothing could be
};

// What one answer to lookup_target says. An item can be ours when:
//   - its title equals the clip's title (a stop-and-cut: when it names no parentVideoId, its
//     title equals the live video's);
//   - its parentVideoId, when the item has one, is the live video;
//   - its insertDate (required: without it nothing proves it is new) is at or after since_ms;
//   - a stop-and-cut's: its liveCutStartDate, when the item has the key, is not null.
// More results than one page, a non-200 or a body of the wrong shape: unreadable.
LookupResult match_lookup(int http_status, std::string_view body, const LookupQuery& query);

}  // namespace batchcut
