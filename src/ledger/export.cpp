// Exports of a ledger: results as CSV / JSON Lines, and jobs as a manifest.
#include "batchcut/ledger/export.hpp"

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "batchcut/manifest/csv.hpp"
#include "batchcut/util/time_util.hpp"

namespace batchcut {

std::filesystem::path default_ledger_path(const std::filesystem::path& manifest) {
  std::filesystem::path p = manifest;
  p.replace_extension(".ledger.jsonl");
  return p;
}

namespace {

bool wanted(const std::set<JobState>& states, const JobRecord& r) {
  return states.empty() || states.count(r.life.state) > 0;
}

}  // namespace

// Rows end with LF (the reader in csv.hpp, and every spreadsheet, accept LF and CRLF).
void export_csv(const LedgerContents& ledger, const std::set<JobState>& states, std::ostream& os) {
  std::string out =
      "projectId,liveVideoId,label,state,videoPublicId,attempts,httpStatus,error,kind,title,clipId,publishStatus,"
      "duration,durationMismatch,recovered\n";
  for (const JobRecord& r : ledger.jobs) {
    if (!wanted(states, r)) continue;
    const Lifecycle& l = r.life;
    append_csv_cell(out, r.spec.project_id, CsvCell::verbatim);
    out += ',';
    append_csv_cell(out, r.spec.live_video_id, CsvCell::verbatim);
    out += ',';
    append_csv_cell(out, r.spec.label);
    out += ',';
    out += to_string(l.state);
    out += ',';
    append_csv_cell(out, l.video_public_id);
    out += ',';
    out += std::to_string(l.attempts);
    out += ',';
    if (l.http_status != 0) out += std::to_string(l.http_status);
    out += ',';
    append_csv_cell(out, l.error);
    // The job's kind and clip identity, then its VOD as last read (empty: never read).
    out += ',';
    out += to_string(r.spec.kind);
    out += ',';
    append_csv_cell(out, r.spec.title);
    out += ',';
    append_csv_cell(out, r.spec.clip_id);
    out += ',';
    if (r.vod) out += to_string(r.vod->status);
    out += ',';
    if (r.vod && r.vod->duration_s) out += fmt::format("{:g}", *r.vod->duration_s);
    out += ',';
    if (r.vod) out += r.vod->duration_mismatch ? "true" : "false";
    out += ',';
    out += l.recovered ? "true" : "false";
    out += '\n';
    if (out.size() > (1 << 16)) {
      os << out;
      out.clear();
    }
  }
  os << out;
}

void export_jsonl(const LedgerContents& ledger, const std::set<JobState>& states, std::ostream& os) {
  for (const JobRecord& r : ledger.jobs) {
    if (!wanted(states, r)) continue;
    const Lifecycle& l = r.life;
    boost::json::object o;
    o["projectId"] = r.spec.project_id;
    o["liveVideoId"] = r.spec.live_video_id;
    o["label"] = r.spec.label;
    o["state"] = to_string(l.state);
    if (l.video_public_id.empty())
      o["videoPublicId"] = nullptr;
    else
      o["videoPublicId"] = l.video_public_id;
    o["attempts"] = l.attempts;
    if (l.http_status == 0)
      o["httpStatus"] = nullptr;
    else
      o["httpStatus"] = l.http_status;
    o["error"] = l.error;
    o["kind"] = to_string(r.spec.kind);
    o["title"] = r.spec.title;
    o["clipId"] = r.spec.clip_id;
    // The VOD as last read on the manage API; null when never read.
    if (r.vod) {
      o["publishStatus"] = to_string(r.vod->status);
      o["duration"] = r.vod->duration_s ? boost::json::value(*r.vod->duration_s) : boost::json::value(nullptr);
      o["durationMismatch"] = r.vod->duration_mismatch;
    } else {
      o["publishStatus"] = nullptr;
      o["duration"] = nullptr;
      o["durationMismatch"] = nullptr;
    }
    o["recovered"] = l.recovered;
    os << boost::json::serialize(o) << '\n';
  }
}

void export_manifest_csv(const LedgerContents& ledger, const std::set<JobState>& states, std::ostream& os) {
  std::string out =
      "projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond,dateTimeFrom,"
      "dateTimeTo,label,kind,title,clipId\n";
  for (const JobRecord& j : ledger.jobs) {
    if (!wanted(states, j)) continue;
    const JobSpec& s = j.spec;
    out += s.project_id + "," + s.live_video_id + "," + std::to_string(static_cast<int>(s.visibility)) + ",";
    if (s.range == RangeKind::ms) out += std::to_string(s.from_ms) + "," + std::to_string(s.to_ms);
    else out += ",";
    out += ",";
    if (s.range == RangeKind::datetime) out += format_iso8601(s.from_time) + "," + format_iso8601(s.to_time);
    else out += ",";
    out += ",";
    append_csv_cell(out, s.label);
    // A clip must come back as a clip: run as a stop-and-cut it would stop the stream.
    out += ",";
    out += to_string(s.kind);
    out += ",";
    append_csv_cell(out, s.title);
    out += ",";
    append_csv_cell(out, s.clip_id);
    out += "\n";
  }
  os << out;
}

void export_manifest_yaml(const LedgerContents& ledger, const std::set<JobState>& states, std::ostream& os) {
  YAML::Emitter y;
  y << YAML::BeginMap << YAML::Key << "jobs" << YAML::Value << YAML::BeginSeq;
  for (const JobRecord& j : ledger.jobs) {
    if (!wanted(states, j)) continue;
    const JobSpec& s = j.spec;
    y << YAML::BeginMap;
    y << YAML::Key << "projectId" << YAML::Value << YAML::DoubleQuoted << s.project_id;
    y << YAML::Key << "liveVideoId" << YAML::Value << YAML::DoubleQuoted << s.live_video_id;
    y << YAML::Key << "videoVisibilityOptionId" << YAML::Value << static_cast<int>(s.visibility);
    if (s.range == RangeKind::ms) {
      y << YAML::Key << "fromMilisecond" << YAML::Value << s.from_ms;
      y << YAML::Key << "toMilisecond" << YAML::Value << s.to_ms;
    } else if (s.range == RangeKind::datetime) {
      y << YAML::Key << "dateTimeFrom" << YAML::Value << format_iso8601(s.from_time);
      y << YAML::Key << "dateTimeTo" << YAML::Value << format_iso8601(s.to_time);
    }
    if (!s.label.empty()) y << YAML::Key << "label" << YAML::Value << YAML::DoubleQuoted << s.label;
    if (s.kind == JobKind::clip) {  // run as a stop-and-cut, a clip would stop the stream
      y << YAML::Key << "kind" << YAML::Value << "clip";
      y << YAML::Key << "title" << YAML::Value << YAML::DoubleQuoted << s.title;
      if (!s.clip_id.empty()) y << YAML::Key << "clipId" << YAML::Value << YAML::DoubleQuoted << s.clip_id;
    }
    const Lifecycle& l = j.life;
    std::string note = std::string("was ") + to_string(l.state);
    if (!l.error.empty()) note += ": " + l.error.substr(0, 120);
    for (char& ch : note)
      if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';  // a comment is one line
    y << YAML::Comment(note);
    y << YAML::EndMap;
  }
  y << YAML::EndSeq << YAML::EndMap;
  os << y.c_str() << "\n";
}

}  // namespace batchcut
