// `batchcut track`: follow each succeeded job's VOD until it is Ready (or Failed), and say
// what is left to do. Also the tail of `run --wait-ready`.
#include "app/track.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <ostream>

#include "app/common.hpp"
#include "batchcut/ledger/writer.hpp"
#include "batchcut/net/auth.hpp"
#include "batchcut/net/loopback.hpp"
#include "batchcut/ops/log.hpp"
#include "batchcut/ops/progress.hpp"
#include "batchcut/run/clock.hpp"
#include "batchcut/util/plural.hpp"
#include "batchcut/vod/read_vod.hpp"

namespace batchcut {

namespace fs = std::filesystem;

std::optional<double> parse_duration_seconds(const std::string& text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return std::nullopt;
  // A plain number is seconds; anything else is a duration as --deadline takes it (2h, 1h30m).
  if (std::all_of(text.begin(), text.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)) || ch == '.'; })) {
    try {
      return std::stod(text);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (text.find_first_of(":T-") != std::string::npos) return std::nullopt;  // a time, not a duration
  const std::chrono::system_clock::time_point zero{};
  const auto end = parse_deadline(text, zero);
  if (!end) return std::nullopt;
  return std::chrono::duration<double>(*end - zero).count();
}

namespace app_detail {

namespace {

// Names shown per job in the summary, at most this many per list (export shows them all).
constexpr std::size_t max_listed = 20;

bool same_observation(const VodObservation& a, const VodObservation& b) {
  return a.status == b.status && a.http_status == b.http_status && a.error == b.error && a.duration_s == b.duration_s &&
         a.duration_mismatch == b.duration_mismatch;
}

std::string seconds(double s) { return fmt::format("{:.1f} s", s); }

void print_list(std::ostream& out, const char* what, const std::vector<std::string>& lines, const fs::path& ledger) {
  for (std::size_t i = 0; i < lines.size() && i < max_listed; ++i) out << "  " << what << ": " << lines[i] << "\n";
  if (lines.size() > max_listed)
    out << "  ... and " << lines.size() - max_listed << " more " << what << " (batchcut export " << ledger.string()
        << " lists every one)\n";
}

}  // namespace

std::vector<TrackItem> jobs_to_track(const LedgerContents& ledger) {
  std::vector<TrackItem> items;
  for (const auto& j : ledger.jobs) {
    if (j.life.state != JobState::succeeded || j.life.video_public_id.empty()) continue;
    if (j.vod && is_final(j.vod->status)) continue;
    items.push_back({j.spec, j.life.video_public_id});
  }
  return items;
}

TrackOutcome track_ledger(const TrackSettings& s, const RunCommand& c, const fs::path& ledger_path,
                          const LedgerContents& known, LedgerLog& log, std::ostream& out, std::ostream& err) {
  auto bad = [&](const std::string& what) {
    err << "batchcut: " << what << "\n";
    return TrackOutcome::usage;
  };
  if (!(s.timeout_seconds > 0)) return bad("--timeout (of tracking) must be > 0");
  if (!(s.poll_interval_seconds > 0)) return bad("--poll-interval must be > 0");
  if (s.duration_tolerance_seconds && !(*s.duration_tolerance_seconds >= 0))
    return bad("--duration-tolerance must be >= 0 seconds");
  if (c.concurrency < 1 || c.concurrency > 10000) return bad("--concurrency must be 1..10000");
  if (!(c.rate >= 0)) return bad("--rate must be >= 0 (0 means unlimited)");
  if (!(c.burst >= 1)) return bad("--burst must be >= 1");
  if (!(c.max_retry_after_seconds >= 0) || c.max_retry_after_seconds > 86400)
    return bad("--max-retry-after must be 0..86400 seconds");
  std::string url_error;
  const std::string manage_text = s.manage_base_url.value_or(
      known.target ? default_manage_base_for(known.target->base_url) : std::string(default_manage_base_url));
  const auto manage = parse_base_url(manage_text, &url_error);
  if (!manage) return bad("--manage-base-url: " + url_error);  // not echoed: it may hold a secret
  if (!manage->tls && !c.allow_insecure_http) {
    if (auto why = clear_text_refusal(manage->host, manage->port))
      return bad("--manage-base-url http://" + manage->host + " would send the API key in clear text (" + *why +
                 "); use https://, or pass --allow-insecure-http");
  }
  const auto& target = known.target;
  std::optional<fs::path> ca = c.ca_file;
  if (!ca && target && target->ca_file) ca = fs::path(*target->ca_file);
  if (ca && !fs::exists(*ca)) return bad("the CA file " + ca->string() + " does not exist; pass --ca-file");
  const AuthScheme scheme = c.auth_scheme ? *c.auth_scheme
                            : target && target->auth_scheme == "raw" ? AuthScheme::raw
                                                                     : AuthScheme::bearer;

  std::vector<TrackItem> items = jobs_to_track(known);
  std::size_t already_ready = 0, already_failed = 0;
  for (const auto& j : known.jobs)
    if (j.life.state == JobState::succeeded && j.vod) {
      already_ready += j.vod->status == PublishStatus::ready;
      already_failed += j.vod->status == PublishStatus::failed;
    }
  if (items.empty()) {
    out << "batchcut track: no VOD left to track in " << ledger_path.string() << " (" << already_ready << " ready, "
        << already_failed << " failed earlier)\n";
    return already_failed ? TrackOutcome::not_all_ready : TrackOutcome::all_ready;
  }
  auto key = load_api_key(c, err);
  if (!key) return TrackOutcome::usage;
  redact_in_logs(*key);

  TransportOptions transport;
  transport.base = *manage;
  transport.ca_file = ca;
  transport.verify_peer = !c.insecure;
  transport.authorization = authorization_value(scheme, *key);
  transport.loopback_only = !manage->tls && !c.allow_insecure_http;
  TrackOptions o;
  o.manage = *manage;
  o.concurrency = c.concurrency;
  o.rate = c.rate;
  o.burst = c.burst;
  o.poll_interval = std::chrono::milliseconds(static_cast<long long>(s.poll_interval_seconds * 1000));
  o.timeout = std::chrono::milliseconds(static_cast<long long>(s.timeout_seconds * 1000));
  o.request_timeout = std::chrono::milliseconds(static_cast<long long>(c.timeout_seconds * 1000));
  o.backoff.base = std::chrono::milliseconds(static_cast<long long>(c.backoff_base_seconds * 1000));
  o.backoff.cap = std::chrono::milliseconds(static_cast<long long>(c.backoff_cap_seconds * 1000));
  o.backoff.max_retry_after = std::chrono::milliseconds(static_cast<long long>(c.max_retry_after_seconds * 1000));
  o.duration_tolerance_s = s.duration_tolerance_seconds;
  o.seed = c.seed;

  // The ledger keeps what changed: a VOD read as Processing every 30 s for an hour is one
  // record, not 120. The first observation is compared with the ledger's latest.
  std::vector<std::optional<VodObservation>> last(items.size());
  for (std::size_t i = 0; i < items.size(); ++i)
    if (const auto* j = known.find(items[i].spec); j && j->vod) last[i] = *j->vod;
  std::vector<JobSpec> specs;
  specs.reserve(items.size());
  for (const auto& it : items) specs.push_back(it.spec);

  err << "batchcut track: " << counted(items.size(), "VOD") << " to follow on " << manage->to_string() << " (rate "
      << (c.rate > 0 ? fmt::format("{:g}/s", c.rate) : std::string("unlimited")) << ", a read every "
      << seconds_text(o.poll_interval) << " while processing, for at most " << duration_text(o.timeout) << ")\n";
  const auto started = RunClock::now();
  TrackSummary summary;
  try {
    summary = track_vods(o, transport, std::move(items), [&](std::size_t i, const VodObservation& v) {
      if (last[i] && same_observation(*last[i], v)) return;
      last[i] = v;
      append_vod(log, specs[i], v);
    });
  } catch (const std::exception& e) {  // the CA file could not be loaded; nothing was sent
    return bad(e.what());
  }
  try {
    log.flush();
  } catch (const LedgerError& e) {
    err << "batchcut: ledger write failed: " << e.what() << "\n";
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(RunClock::now() - started);

  // ---- the summary ----
  std::size_t ready = 0, processing = 0, failed = 0, unknown = 0;
  std::vector<std::string> failed_jobs, unknown_jobs, mismatched;
  for (std::size_t i = 0; i < summary.latest.size(); ++i) {
    const auto& v = summary.latest[i];
    const std::string who = specs[i].key() + " (videoPublicId " + v.video_public_id + ")";
    switch (v.status) {
      case PublishStatus::ready: ++ready; break;
      case PublishStatus::processing:
      case PublishStatus::reencoding: ++processing; break;
      case PublishStatus::failed: ++failed, failed_jobs.push_back(who); break;
      case PublishStatus::unknown: ++unknown, unknown_jobs.push_back(who + ": " + v.error); break;
    }
    if (v.duration_mismatch)
      mismatched.push_back(who + ": " + seconds(*v.duration_s) + ", asked for " + seconds(*v.expected_s));
  }
  out << "batchcut track: " << counted(summary.latest.size(), "VOD") << " followed for " << duration_text(elapsed) << " ("
      << counted(summary.requests, "request") << " to " << manage->to_string() << ")\n";
  out << "VODs: " << ready << " ready, " << processing << " processing, " << failed << " failed, " << unknown
      << " unknown\n";
  print_list(out, "failed", failed_jobs, ledger_path);
  print_list(out, "unknown", unknown_jobs, ledger_path);
  print_list(out, "duration mismatch", mismatched, ledger_path);
  if (summary.fatal) {
    err << "batchcut: tracking stopped: " << summary.fatal_error << "\n";
    return TrackOutcome::fatal;
  }
  if (processing || unknown)
    out << "Next: " << counted(processing + unknown, "VOD") << (processing + unknown == 1 ? " is" : " are")
        << " not final yet: run `batchcut track " << ledger_path.string() << "` again later.\n";
  if (failed)
    out << "Next: " << counted(failed, "VOD") << " failed to encode. batchcut does not cut a succeeded job again "
        << "(replay leaves succeeded jobs alone): contact support, or cut those again by hand (ids above).\n";
  if (!mismatched.empty())
    out << "Note: " << counted(mismatched.size(), "VOD") << (mismatched.size() == 1 ? " is" : " are")
        << " not as long as the job asked; check them before publishing.\n";
  return ready == summary.latest.size() ? TrackOutcome::all_ready : TrackOutcome::not_all_ready;
}

}  // namespace app_detail

using namespace app_detail;

int track_command(const TrackCommand& c, std::ostream& out, std::ostream& err) {
  if (!fs::exists(c.ledger)) {
    err << "batchcut: " << c.ledger.string() << ": no such ledger\n";
    return exit_usage;
  }
  std::unique_ptr<LedgerWriter> ledger;
  try {  // the lock first, then read: no run can append between the read and our appends
    ledger = LedgerWriter::open(c.ledger, c.connection.ledger_sync);
  } catch (const LedgerError& e) {
    err << "batchcut: " << e.what() << "\n";
    return exit_usage;
  }
  const LedgerContents known = read_ledger(c.ledger);
  if (!known.errors.empty()) {
    print_diagnostics(known.errors, err);
    err << "batchcut: the ledger " << c.ledger.string() << " is damaged; nothing tracked (it was not changed)\n";
    return exit_usage;
  }
  if (known.torn_tail) {
    err << "batchcut: repairing a torn last line in " << c.ledger.string() << "\n";
    try {
      ledger->truncate_torn_tail(known.torn_tail_offset);
    } catch (const LedgerError& e) {
      err << "batchcut: " << e.what() << "\n";
      return exit_usage;
    }
  }
  switch (track_ledger(c.track, c.connection, c.ledger, known, *ledger, out, err)) {
    case TrackOutcome::all_ready: return exit_ok;
    case TrackOutcome::not_all_ready: return exit_some_failed;
    case TrackOutcome::usage:
    case TrackOutcome::fatal: return exit_usage;
  }
  return exit_usage;
}

}  // namespace batchcut
