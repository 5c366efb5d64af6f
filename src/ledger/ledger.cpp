// Ledger pieces that are neither reading nor writing: state names, the default path,
// and the CSV / JSONL exports. Reading is in ledger_read.cpp, writing in ledger_writer.cpp.
#include "batchcut/ledger/ledger.hpp"

#include <boost/json.hpp>

namespace batchcut {

const char* to_string(JobState s) {
  switch (s) {
    case JobState::pending: return "pending";
    case JobState::succeeded: return "succeeded";
    case JobState::failed: return "failed";
    case JobState::retry_exhausted: return "retry_exhausted";
    case JobState::in_doubt: return "in_doubt";
  }
  return "?";
}

std::optional<JobState> parse_job_state(std::string_view s) {
  if (s == "pending") return JobState::pending;
  if (s == "succeeded") return JobState::succeeded;
  if (s == "failed") return JobState::failed;
  if (s == "retry_exhausted") return JobState::retry_exhausted;
  if (s == "in_doubt") return JobState::in_doubt;
  return std::nullopt;
}

const JobRecord* LedgerContents::find(const std::string& key) const {
  auto it = index.find(key);
  return it == index.end() ? nullptr : &jobs[it->second];
}

std::filesystem::path default_ledger_path(const std::filesystem::path& manifest) {
  std::filesystem::path p = manifest;
  p.replace_extension(".ledger.jsonl");
  return p;
}

namespace {

// RFC 4180: a field holding a comma, quote, CR or LF is quoted, quotes doubled.
void append_csv_field(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += field;
    return;
  }
  out += '"';
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace

// Rows end with LF (the reader in csv.hpp, and every spreadsheet, accept LF and CRLF).
std::string export_csv(const LedgerContents& ledger) {
  std::string out = "projectId,liveVideoId,label,state,videoPublicId,attempts,httpStatus,error\n";
  for (const JobRecord& r : ledger.jobs) {
    append_csv_field(out, r.spec.project_id);
    out += ',';
    append_csv_field(out, r.spec.live_video_id);
    out += ',';
    append_csv_field(out, r.spec.label);
    out += ',';
    out += to_string(r.state);
    out += ',';
    append_csv_field(out, r.video_public_id);
    out += ',';
    out += std::to_string(r.attempts);
    out += ',';
    if (r.http_status != 0) out += std::to_string(r.http_status);
    out += ',';
    append_csv_field(out, r.error);
    out += '\n';
  }
  return out;
}

std::string export_jsonl(const LedgerContents& ledger) {
  std::string out;
  for (const JobRecord& r : ledger.jobs) {
    boost::json::object o;
    o["projectId"] = r.spec.project_id;
    o["liveVideoId"] = r.spec.live_video_id;
    o["label"] = r.spec.label;
    o["state"] = to_string(r.state);
    if (r.video_public_id.empty())
      o["videoPublicId"] = nullptr;
    else
      o["videoPublicId"] = r.video_public_id;
    o["attempts"] = r.attempts;
    if (r.http_status == 0)
      o["httpStatus"] = nullptr;
    else
      o["httpStatus"] = r.http_status;
    o["error"] = r.error;
    out += boost::json::serialize(o);
    out += '\n';
  }
  return out;
}

}  // namespace batchcut
