// The API's wire contract as batchcut speaks it: where requests go, what they carry, and
// what an answer means. Pure functions; the transport only moves the bytes.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "batchcut/job/spec.hpp"

namespace batchcut {

inline constexpr const char* default_base_url = "https://livestream.vp.gjirafa.tech";

struct BaseUrl {
  bool tls = true;
  std::string host;
  std::uint16_t port = 443;
  std::string path_prefix;  // without a trailing slash; usually empty

  std::string to_string() const;
  std::string host_header() const;  // host, plus :port when not the scheme's default
};

// Same scheme, host and port (one connection can serve both).
inline bool same_origin(const BaseUrl& a, const BaseUrl& b) {
  return a.tls == b.tls && a.host == b.host && a.port == b.port;
}

// http(s)://host[:port][/prefix]; an error message when malformed.
std::optional<BaseUrl> parse_base_url(std::string_view text, std::string* error = nullptr);

// POST {prefix}/api/v2/{projectId}/live-videos/{id}/stop-and-cut
std::string stop_and_cut_target(const BaseUrl& base, const JobSpec& job);
// GET {prefix}/api/v1/{projectId}/live-videos/{id}
std::string live_video_target(const BaseUrl& base, const JobSpec& job);

// The JSON body: all five fields, the unused range pair as null, dates as UTC .fffZ.
std::string stop_and_cut_body(const JobSpec& job);

// POST {prefix}/api/v2/{projectId}/live-videos/{id}/cut-and-publish
std::string cut_and_publish_target(const BaseUrl& base, const JobSpec& job);
// {"title":..,"fromMilisecond":N,"toMilisecond":N,"videoVisibilityOptionId":N}
std::string cut_and_publish_body(const JobSpec& job);

// The job's own request, by its kind: stop-and-cut or cut-and-publish.
std::string cut_target(const BaseUrl& base, const JobSpec& job);
std::string cut_body(const JobSpec& job);

// Appends `text` percent-encoded: every byte outside RFC 3986's unreserved set, so it can
// be neither a path separator nor a query delimiter, nor leave its line.
void append_percent_encoded(std::string& out, std::string_view text);

// ---- what came back from one attempt ----

enum class TransportError {
  none,
  resolve,       // the host name did not resolve
  connect,       // refused, unreachable, or connect timed out
  tls_handshake, // the TLS handshake failed (not a verification failure)
  tls_verify,    // the server's certificate did not verify: fatal, we may be talking to an impostor
  write,         // the request could not be written in full
  timeout,       // no complete answer within the attempt's timeout
  closed,        // the connection closed (EOF, reset) before a complete answer
  protocol,      // the answer was not valid HTTP/1.1
  too_large,     // the answer's body was over the limit
};

const char* to_string(TransportError e);

struct AttemptResult {
  TransportError error = TransportError::none;
  bool request_sent = false;  // the whole request was handed to the connection
  int status = 0;             // HTTP status, when a header arrived
  std::string body;
  std::string retry_after;    // the Retry-After header, verbatim
  std::string error_text;     // detail for logs and the ledger
  // tls_verify because the certificate names another host: a wrong --base-url (or a
  // proxy in the way), not a missing CA.
  bool name_mismatch = false;
  std::chrono::microseconds elapsed{0};
};

enum class Verdict {
  success,    // the VOD exists; we have its videoPublicId
  retry,      // try again after a backoff
  permanent,  // this job can never succeed as it is; do not retry
  fatal,      // the whole run must stop (401, certificate failure)
};

const char* to_string(Verdict v);

struct Classification {
  Verdict verdict = Verdict::retry;
  // The request may have reached the backend and acted: a retry could cut twice.
  bool ambiguous = false;
  std::string video_public_id;  // on success
  std::optional<std::chrono::milliseconds> retry_after;  // server-requested minimum wait
  std::string error;            // one line for people: "HTTP 503: Backend fetch failed"
  std::vector<std::string> messages;  // the API's errors[] and messages[]
};

// One place for the decision "what does this answer mean". `now` resolves HTTP-date
// Retry-After values.
Classification classify(const AttemptResult& result,
                        std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// The live video's canStopAndCut, read from a GET answer's body; nullopt when the body
// does not say (wrong shape, not JSON), and also when it says true while liveStatus is
// "Processing": a stop is under way, so "can stop" is not yet an answer to trust.
std::optional<bool> parse_can_stop_and_cut(std::string_view body);
// The live video's title from the same answer ("" when it does not say): a lookup of a
// stopped stream's VOD searches by it.
std::string parse_live_video_title(std::string_view body);

// Retry-After: delta-seconds or an HTTP-date. nullopt when absent or malformed.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

}  // namespace batchcut
