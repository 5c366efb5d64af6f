// Manifest reading and validation. Both formats turn each job into a RawJob (one slot per
// field, holding the text as written and where it was), and one Checker turns RawJobs into
// JobSpecs, so YAML and CSV get the same rules and the same messages.
#include "batchcut/manifest/manifest.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <sstream>
#include <unordered_map>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batchcut/job/validate.hpp"
#include "batchcut/job/index.hpp"
#include "batchcut/manifest/csv.hpp"
#include "batchcut/util/suggest.hpp"

namespace batchcut {

namespace {

// ---- the fields ----

// JobField as plain ints, which index a RawJob.
enum Field : int {
  f_project = static_cast<int>(JobField::project_id),
  f_live_video = static_cast<int>(JobField::live_video_id),
  f_visibility = static_cast<int>(JobField::visibility),
  f_from_ms = static_cast<int>(JobField::from_ms),
  f_to_ms = static_cast<int>(JobField::to_ms),
  f_dt_from = static_cast<int>(JobField::date_time_from),
  f_dt_to = static_cast<int>(JobField::date_time_to),
  f_label = static_cast<int>(JobField::label),
  f_kind = static_cast<int>(JobField::kind),
  f_title = static_cast<int>(JobField::title),
  f_clip_id = static_cast<int>(JobField::clip_id),
};
constexpr int kFieldCount = kJobFieldCount;

constexpr JobField job_field(Field f) { return static_cast<JobField>(f); }
constexpr Field field_of(JobField f) { return static_cast<Field>(f); }
std::string_view canonical(Field f) { return api_name(job_field(f)); }

struct KnownName {
  std::string_view name;
  Field field;
};
// The API spells "Milisecond" with one l; the correct spelling is accepted as an alias.
constexpr std::array<KnownName, 13> kKnown = {{{"projectId", f_project},
                                               {"liveVideoId", f_live_video},
                                               {"videoVisibilityOptionId", f_visibility},
                                               {"fromMilisecond", f_from_ms},
                                               {"toMilisecond", f_to_ms},
                                               {"dateTimeFrom", f_dt_from},
                                               {"dateTimeTo", f_dt_to},
                                               {"label", f_label},
                                               {"fromMillisecond", f_from_ms},
                                               {"toMillisecond", f_to_ms},
                                               {"kind", f_kind},
                                               {"title", f_title},
                                               {"clipId", f_clip_id}}};

constexpr std::array<std::string_view, 13> kAllNames = {
    "projectId",    "liveVideoId",  "videoVisibilityOptionId", "fromMilisecond", "toMilisecond",
    "dateTimeFrom", "dateTimeTo",   "label",                   "fromMillisecond", "toMillisecond",
    "kind",         "title",        "clipId"};

std::optional<Field> lookup(std::string_view name) {
  for (const auto& k : kKnown)
    if (k.name == name) return k.field;
  return std::nullopt;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// A name folded for comparison: lower case, without '_', '-', '.' and spaces, so that
// live_video_id, "Project ID" and PROJECTID meet the names they mean.
std::string folded(std::string_view name) {
  std::string out;
  for (char c : name)
    if (c != '_' && c != '-' && c != '.' && c != ' ') out += lower(c);
  return out;
}

// What people write for a field that edit distance cannot place (folded, see above).
struct Hint {
  std::string_view written;
  std::string_view meant;
};
constexpr std::string_view kMeanFrom = "'fromMilisecond' (an offset in ms) or 'dateTimeFrom' (a date-time)";
constexpr std::string_view kMeanTo = "'toMilisecond' (an offset in ms) or 'dateTimeTo' (a date-time)";
constexpr std::array<Hint, 24> kHints = {{
    {"visibility", "'videoVisibilityOptionId'"},      {"videovisibility", "'videoVisibilityOptionId'"},
    {"visibilityid", "'videoVisibilityOptionId'"},    {"visibilityoption", "'videoVisibilityOptionId'"},
    {"visibilityoptionid", "'videoVisibilityOptionId'"}, {"privacy", "'videoVisibilityOptionId'"},
    {"from", kMeanFrom},                              {"start", kMeanFrom},
    {"begin", kMeanFrom},                             {"to", kMeanTo},
    {"end", kMeanTo},                                 {"stop", kMeanTo},
    {"fromms", "'fromMilisecond'"},                   {"toms", "'toMilisecond'"},
    {"starttime", "'dateTimeFrom'"},                  {"endtime", "'dateTimeTo'"},
    {"project", "'projectId'"},                       {"livevideo", "'liveVideoId'"},
    {"videoid", "'liveVideoId'"},                     {"live", "'liveVideoId'"},
    {"type", "'kind'"},                               {"name", "'label' (or, for a clip, 'title')"},
    {"cliptitle", "'title'"},                         {"clip", "'kind: clip' or 'clipId'"},
}};

// " (did you mean 'videoVisibilityOptionId'?)" for an unknown field name, or "": the name
// folded (case, '_', '-'), then the hint table, then edit distance.
std::string field_hint(std::string_view name) {
  const std::string f = folded(name);
  for (std::string_view known : kAllNames)
    if (folded(known) == f) return " (did you mean '" + std::string(known) + "'?)";
  for (const Hint& h : kHints)
    if (h.written == f) return " (did you mean " + std::string(h.meant) + "?)";
  return did_you_mean(name, kAllNames);
}

// ---- raw jobs ----

enum class Kind : std::uint8_t { absent, null, scalar, list, map, bad };

struct Value {
  Kind kind = Kind::absent;
  std::string_view text;  // for scalars
  std::string_view name;  // the field name as written (canonical or alias)
  std::size_t line = 0;
  bool inherited = false;  // from YAML defaults, whose warnings were given once, there
};

using RawJob = std::array<Value, kFieldCount>;

bool present(const Value& v) { return v.kind != Kind::absent && v.kind != Kind::null; }

// ---- validation shared by both formats ----

class Checker {
 public:
  Checker(const std::string& file, Manifest& m) : file_(file), m_(m) {}

  void error(std::size_t line, std::string_view field, std::string message) {
    m_.add(Diagnostic{file_, line, std::string(field), std::move(message)});
  }
  void warning(std::size_t line, std::string_view field, std::string message) {
    m_.add(Diagnostic{file_, line, std::string(field), std::move(message), Severity::warning});
  }

  // Checks one present field's value and stores it in `spec`. A value already reported
  // (Kind::bad) fails silently. Returns whether it is valid.
  bool check_value(Field f, const Value& v, JobSpec& spec) {
    if (v.kind == Kind::bad) return false;
    if (!scalar(f, v)) return false;
    switch (f) {
      case f_project:
      case f_live_video:
        if (auto problem = check_id(v.text)) return fail(v, std::move(*problem));
        (f == f_project ? spec.project_id : spec.live_video_id).assign(v.text);
        return true;
      case f_visibility: return store(v, parse_visibility(v.text), spec.visibility);
      case f_from_ms: return store(v, parse_offset_ms(v.text), spec.from_ms);
      case f_to_ms: return store(v, parse_offset_ms(v.text), spec.to_ms);
      case f_dt_from: return store(v, parse_date_time(v.text), spec.from_time);
      case f_dt_to: return store(v, parse_date_time(v.text), spec.to_time);
      case f_label:
        spec.label.assign(v.text);
        return true;
      case f_kind: return store(v, parse_kind(v.text), spec.kind);
      case f_title:  // checked with the job: only a clip has one
        spec.title.assign(v.text);
        return true;
      case f_clip_id:
        if (auto problem = check_clip_id(v.text)) return fail(v, std::move(*problem));
        spec.clip_id.assign(v.text);
        return true;
    }
    return false;
  }

  // Validates a whole job. `missing_reported` marks required fields whose absence was
  // already reported once for the whole file (a CSV without that column).
  void check_job(const RawJob& raw, std::size_t job_line, JobSpec& spec,
                 const std::array<bool, kFieldCount>& missing_reported) {
    spec.line = job_line;
    std::array<bool, kFieldCount> ok{};
    for (int f = 0; f < kFieldCount; ++f)
      if (present(raw[f])) ok[f] = check_value(static_cast<Field>(f), raw[f], spec);

    for (Field f : {f_project, f_live_video, f_visibility})
      if (!present(raw[f]) && !missing_reported[f]) error(job_line, canonical(f), "required field is missing");
    if (present(raw[f_kind]) && !ok[f_kind]) {
      spec.project_id.clear();  // its identity is unknown too: no duplicate check either
      return;                   // not knowing the kind, the rest would only add noise
    }
    if (!check_kind_fields(raw, job_line, spec)) return;

    // Messages that name another field use the spelling this job used.
    RangeNames names;
    auto spelled = [&](Field f, std::string_view& name) {
      if (present(raw[f])) name = raw[f].name;
    };
    spelled(f_from_ms, names.from_ms);
    spelled(f_to_ms, names.to_ms);
    spelled(f_dt_from, names.date_time_from);
    spelled(f_dt_to, names.date_time_to);
    const RangeShape shape = check_range_shape(
        {present(raw[f_from_ms]), present(raw[f_to_ms]), present(raw[f_dt_from]), present(raw[f_dt_to])}, names);
    if (shape.problem) return report(raw, job_line, *shape.problem);

    std::optional<FieldProblem> order;
    if (shape.kind == RangeKind::ms) {
      if (!ok[f_from_ms] || !ok[f_to_ms]) return;  // already reported
      order = check_ms_order(spec.from_ms, spec.to_ms, names);
    } else if (shape.kind == RangeKind::datetime) {
      if (!ok[f_dt_from] || !ok[f_dt_to]) return;
      order = check_date_time_order(spec.from_time, spec.to_time, names);
    }
    if (order) return report(raw, job_line, *order);
    spec.range = shape.kind;
    if (spec.kind == JobKind::clip)
      if (auto problem = check_clip_range(shape.kind)) {
        const Field at = shape.kind == RangeKind::datetime ? (present(raw[f_dt_from]) ? f_dt_from : f_dt_to) : f_from_ms;
        if (present(raw[at])) error(raw[at].line, raw[at].name, std::move(*problem));
        else error(job_line, canonical(at), std::move(*problem));
      }
  }

 private:
  bool fail(const Value& v, std::string message) {
    error(v.line, v.name, std::move(message));
    return false;
  }

  // A clip needs a valid title; a stop-and-cut takes neither a title nor a clipId (its VOD
  // is named after the live video), so that nobody believes one was given.
  bool check_kind_fields(const RawJob& raw, std::size_t job_line, const JobSpec& spec) {
    if (spec.kind == JobKind::stop_and_cut) {
      bool ok = true;
      for (Field f : {f_title, f_clip_id})
        if (present(raw[f]) && !raw[f].inherited) {
          error(raw[f].line, raw[f].name,
                std::string(canonical(f)) + " is only for kind: clip (a stop-and-cut's VOD is named after the live video)");
          ok = false;
        }
      return ok;
    }
    if (!present(raw[f_title])) {
      error(job_line, canonical(f_title), "a clip needs a title: required field is missing");
      return false;
    }
    if (raw[f_title].kind != Kind::scalar) return false;  // reported with the value
    if (auto problem = check_title(raw[f_title].text)) return fail(raw[f_title], std::move(*problem));
    return true;
  }

  bool scalar(Field f, const Value& v) {
    if (v.kind == Kind::scalar) return true;
    const char* got = v.kind == Kind::list ? "a list" : "a mapping";
    return fail(v, std::string(expected_value(job_field(f))) + ", got " + got);
  }

  template <class T>
  bool store(const Value& v, Checked<T> checked, T& into) {
    if (!checked) return fail(v, std::move(checked.error));
    if (!checked.warning.empty() && !v.inherited) warning(v.line, v.name, std::move(checked.warning));
    into = *checked;
    return true;
  }

  // A problem found by the pair rules: on its field where the job gives it, otherwise
  // (a missing half) where the job starts, under the API's name.
  void report(const RawJob& raw, std::size_t job_line, const FieldProblem& p) {
    const Value& v = raw[field_of(p.field)];
    if (present(v)) error(v.line, v.name, p.message);
    else error(job_line, api_name(p.field), p.message);
  }

  const std::string& file_;
  Manifest& m_;
};

// Where every checked job goes, from either format: counted against the job limit,
// fingerprinted for the duplicate check, and handed on. Only the fingerprints are kept (24
// bytes a job), so a streamed manifest is checked for duplicates in flat memory.
class Intake {
 public:
  using Each = std::function<void(JobSpec&&)>;
  Intake(const std::string& file, Manifest& m, Each each) : file_(file), m_(m), each_(std::move(each)) {}

  // false once the job limit is passed: the reader stops there.
  bool take(JobSpec&& j) {
    if (++m_.job_count > max_manifest_jobs) {
      m_.add(Diagnostic{file_, j.line, "",
                        "more than " + std::to_string(max_manifest_jobs) +
                            " jobs; split the manifest into several files and run each"});
      return false;
    }
    // A job whose identity is unknown was reported already: no duplicate check for it.
    if (!j.project_id.empty() && !j.live_video_id.empty() && !(j.kind == JobKind::clip && j.title.empty())) {
      const JobIdentity id = j.identity();
      const By by = id.kind == JobKind::stop_and_cut ? By::stream : id.by_clip_id ? By::clip_id : By::title;
      identities_.push_back(Seen{digest(id.project_id, id.live_video_id, by, id.clip), j.line, by});
      // Clips of one live video with one title but different clipIds: allowed, but a lookup
      // (which searches by title) could not tell them apart.
      if (by == By::clip_id) titles_.push_back(Seen{digest(j.project_id, j.live_video_id, By::title, j.title), j.line, by});
    }
    each_(std::move(j));
    return true;
  }

  // Once every job is in: a job with the identity of an earlier one is an error, a clip with
  // an earlier clip's title (same live video) a warning; each names the first one's line.
  void finish() {
    for_repeats(identities_, [&](const Seen& again, const Seen& first) {
      const bool clip = again.by != By::stream;
      m_.add(Diagnostic{file_, again.line, clip ? (again.by == By::clip_id ? "clipId" : "title") : "",
                        std::string(clip ? "duplicate clip: the same live video and " +
                                               std::string(again.by == By::clip_id ? "clipId" : "title")
                                         : std::string("duplicate job: the same live video")) +
                            " as line " + std::to_string(first.line)});
    });
    for_repeats(titles_, [&](const Seen& again, const Seen& first) {
      m_.add(Diagnostic{file_, again.line, "title",
                        "another clip of this live video has this title (line " + std::to_string(first.line) +
                            "): if an answer is lost, the lookup, which searches by title, cannot tell them apart",
                        Severity::warning});
    });
  }

 private:
  enum class By : std::uint8_t { stream, clip_id, title };
  struct Digest {
    std::uint64_t hi, lo;
    auto operator<=>(const Digest&) const = default;
  };
  struct Seen {
    Digest digest;
    std::uint32_t line;
    By by;
  };

  // FNV-1a, 128 bits: at ten million jobs the chance that two different identities share a
  // digest is about 10^-25, so equal digests are taken for equal identities.
  static Digest digest(std::string_view project, std::string_view live, By by, std::string_view clip) {
    __extension__ using u128 = unsigned __int128;
    const u128 prime = (u128{1} << 88) | 0x13b;
    u128 h = (u128{0x6c62272e07bb0142ULL} << 64) | 0x62b821756295c58dULL;
    const auto mix = [&](std::string_view s) {
      for (unsigned char ch : s) h = (h ^ ch) * prime;
      h = (h ^ 0xff) * prime;  // a byte no id holds ends each part: ("ab","c") is not ("a","bc")
    };
    mix(project);
    mix(live);
    h = (h ^ static_cast<unsigned char>(by)) * prime;
    mix(clip);
    return {static_cast<std::uint64_t>(h >> 64), static_cast<std::uint64_t>(h)};
  }

  // Reports each repeat of a digest with the first (lowest-line) one, then frees `seen`.
  template <class Report>
  static void for_repeats(std::vector<Seen>& seen, Report report) {
    std::sort(seen.begin(), seen.end(), [](const Seen& x, const Seen& y) {
      return x.digest != y.digest ? x.digest < y.digest : x.line < y.line;
    });
    std::size_t first = 0;
    for (std::size_t i = 1; i < seen.size(); ++i) {
      if (seen[i].digest != seen[first].digest) first = i;
      else report(seen[i], seen[first]);
    }
    std::vector<Seen>().swap(seen);
  }

  const std::string& file_;
  Manifest& m_;
  Each each_;
  std::vector<Seen> identities_, titles_;
};

// ---- YAML ----

std::size_t line_of(const YAML::Node& n) { return n.Mark().line >= 0 ? static_cast<std::size_t>(n.Mark().line) + 1 : 0; }

const char* describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Scalar: return "a single value";
    default: return "nothing";
  }
}

// The line where the second YAML document starts: its '---', or its first token when it
// follows a '...' without one. Found by parsing again, which is done only to report it;
// `fallback` is used should that fail.
std::size_t second_document_line(std::string_view text, std::size_t fallback) {
  struct DocumentStarts : YAML::EventHandler {
    std::vector<YAML::Mark> marks;
    void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  } starts;
  try {
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    while (starts.marks.size() < 2 && parser.HandleNextDocument(starts)) {
    }
  } catch (const YAML::Exception&) {
  }
  if (starts.marks.size() < 2 || starts.marks[1].line < 0) return fallback;
  return static_cast<std::size_t>(starts.marks[1].line) + 1;
}

// The bytes of every scalar under `n`, an alias counted as all it stands for, without
// expanding anything: an alias is the anchored node itself (the same Mark), so each distinct
// node is sized once, however often it is referred to. Saturates at `cap`.
std::uint64_t expanded_bytes(const YAML::Node& n, std::unordered_map<int, std::uint64_t>& sized, std::uint64_t cap) {
  if (n.IsScalar()) return n.Scalar().size();
  if (!n.IsMap() && !n.IsSequence()) return 0;
  const int at = n.Mark().pos;
  if (auto known = sized.find(at); known != sized.end()) return known->second;
  std::uint64_t total = 0;
  const auto add = [&](const YAML::Node& child) { total = std::min(cap, total + expanded_bytes(child, sized, cap)); };
  for (const auto& item : n) {
    if (n.IsMap()) {
      add(item.first);
      add(item.second);
    } else {
      add(item);
    }
    if (total >= cap) break;
  }
  sized.emplace(at, total);
  return total;
}

class YamlReader {
 public:
  YamlReader(const std::string& file, Manifest& m, Intake& intake)
      : file_(file), m_(m), check_(file, m), intake_(intake) {}

  void read(std::string_view text) {
    // Every document is read: YAML::Load would stop after the first and drop the jobs of
    // any other without a word.
    std::vector<YAML::Node> documents;
    try {
      documents = YAML::LoadAll(std::string(text));
    } catch (const YAML::Exception& e) {
      std::size_t line = e.mark.line >= 0 ? static_cast<std::size_t>(e.mark.line) + 1 : 0;
      check_.error(line, "", "YAML syntax error: " + e.msg);
      return;
    }
    if (documents.size() > 1) {
      check_.error(second_document_line(text, line_of(documents[1])), "",
                   "the manifest holds " + std::to_string(documents.size()) +
                       " YAML documents; put every job in one 'jobs' list");
      return;
    }
    const YAML::Node root = documents.empty() ? YAML::Node() : documents.front();
    if (root.IsNull()) {
      check_.error(0, "", "no jobs (the manifest is empty)");
      return;
    }
    if (!root.IsMap()) {
      check_.error(line_of(root), "",
                   std::string("the top level must be a mapping with a 'jobs' list, got ") + describe(root));
      return;
    }

    // (A default-constructed YAML::Node counts as defined, hence the optionals.)
    std::optional<YAML::Node> defaults_node, jobs_node;
    std::size_t jobs_line = 0;
    for (const auto& kv : root) {
      const std::size_t kline = line_of(kv.first);
      if (!kv.first.IsScalar()) {
        check_.error(kline, "", "top-level keys must be plain names");
        continue;
      }
      const std::string& key = kv.first.Scalar();
      std::optional<YAML::Node>* slot = key == "defaults" ? &defaults_node : key == "jobs" ? &jobs_node : nullptr;
      if (!slot) {
        std::string hint = did_you_mean(key, std::array<std::string_view, 2>{"defaults", "jobs"});
        if (hint.empty() && lookup(key)) hint = " (job fields go under 'defaults' or in each item of 'jobs')";
        check_.error(kline, key, "unknown top-level key" + hint);
        continue;
      }
      if (*slot) {
        check_.error(kline, key, "given twice");
        continue;
      }
      slot->emplace(kv.second);
      if (key == "jobs") jobs_line = kline;
    }

    RawJob defaults{};
    if (defaults_node && !defaults_node->IsNull()) {
      if (!defaults_node->IsMap()) {
        check_.error(line_of(*defaults_node), "defaults",
                     std::string("must be a mapping of job fields, got ") + describe(*defaults_node));
      } else {
        read_fields(*defaults_node, defaults);
        // Each default is checked once, here; a bad one is not reported again per job.
        JobSpec scratch;
        for (int f = 0; f < kFieldCount; ++f)
          if (present(defaults[f]) && !check_.check_value(static_cast<Field>(f), defaults[f], scratch))
            defaults[f].kind = Kind::bad;
      }
    }

    if (!jobs_node) {
      check_.error(0, "", "no jobs (the manifest has no 'jobs' list)");
      return;
    }
    const YAML::Node& jobs = *jobs_node;
    if (jobs.IsNull() || (jobs.IsSequence() && jobs.size() == 0)) {
      check_.error(jobs_line, "jobs", "no jobs (the list is empty)");
      return;
    }
    if (!jobs.IsSequence()) {
      check_.error(line_of(jobs), "jobs", std::string("must be a list of jobs, got ") + describe(jobs));
      return;
    }

    // Aliases (*name) may make a small file stand for a huge one: the expanded size is
    // counted before any value is read, and the manifest refused where it passes the limit.
    std::unordered_map<int, std::uint64_t> sized;
    std::uint64_t expanded = defaults_node ? expanded_bytes(*defaults_node, sized, max_yaml_expanded_bytes) : 0;
    for (const auto& item : jobs) {
      expanded += expanded_bytes(item, sized, max_yaml_expanded_bytes);
      if (expanded >= max_yaml_expanded_bytes) {
        check_.error(line_of(item), "",
                     "with its aliases (*name) expanded, the manifest holds more than " +
                         std::to_string(max_yaml_expanded_bytes >> 20) +
                         " MiB of values; write the values out, or put shared fields under 'defaults'");
        return;
      }
    }

    if (jobs.size() > max_manifest_jobs) {
      check_.error(jobs_line, "jobs", "more than " + std::to_string(max_manifest_jobs) +
                                          " jobs; split the manifest into several files and run each");
      return;
    }
    const std::array<bool, kFieldCount> none{};
    for (const auto& item : jobs) {
      const std::size_t line = item.IsNull() ? jobs_line : line_of(item);
      if (!item.IsMap()) {
        check_.error(line, "", std::string("a job must be a mapping of fields, got ") + describe(item));
        continue;
      }
      RawJob raw{};
      read_fields(item, raw);
      for (int f = 0; f < kFieldCount; ++f) {
        if (raw[f].kind == Kind::absent && defaults[f].kind != Kind::absent) {
          raw[f] = defaults[f];
          raw[f].line = line;  // a problem with an inherited value shows up in this job
          raw[f].inherited = true;
        } else if (raw[f].kind == Kind::null) {
          raw[f].kind = Kind::absent;  // an explicit null clears a default
        }
      }
      JobSpec spec;
      check_.check_job(raw, line, spec, none);
      if (!intake_.take(std::move(spec))) return;
    }
  }

 private:
  void read_fields(const YAML::Node& map, RawJob& raw) {
    for (const auto& kv : map) {
      const std::size_t kline = line_of(kv.first);
      if (!kv.first.IsScalar()) {
        check_.error(kline, "", "field names must be plain names");
        continue;
      }
      const std::string& name = kv.first.Scalar();
      auto f = lookup(name);
      if (!f) {
        check_.error(kline, name, "unknown field" + field_hint(name));
        continue;
      }
      Value& v = raw[*f];
      if (v.kind != Kind::absent) {
        if (v.name == name)
          check_.error(kline, name, "given twice (first at line " + std::to_string(v.line) + ")");
        else
          check_.error(kline, name,
                       "same field as " + std::string(v.name) + " (line " + std::to_string(v.line) +
                           "); give only one spelling");
        continue;
      }
      const YAML::Node& val = kv.second;
      v.name = name;  // the key string lives as long as the document
      v.line = kline;
      switch (val.Type()) {
        case YAML::NodeType::Scalar:
          v.kind = Kind::scalar, v.text = val.Scalar();
          if (v.text.size() > max_manifest_field_bytes) {
            check_.error(kline, name, "longer than " + std::to_string(max_manifest_field_bytes) + " bytes");
            v.kind = Kind::bad;
          }
          break;
        case YAML::NodeType::Sequence: v.kind = Kind::list; break;
        case YAML::NodeType::Map: v.kind = Kind::map; break;
        default: v.kind = Kind::null; break;
      }
    }
  }

  const std::string& file_;
  Manifest& m_;
  Checker check_;
  Intake& intake_;
};

// ---- CSV ----

// Told, now and then, how far into the text the reader is done; lets a file-backed caller
// drop pages behind the reader so a huge manifest is never resident all at once.
using ReleaseFn = std::function<void(std::size_t done_from, std::size_t done_upto)>;
constexpr std::size_t kReleaseStep = std::size_t{8} << 20;

// A CSV saved with another list separator: ';' (Excel in many European locales) or a tab.
// Found on the header line, which then has no ',' (no header is valid with one column),
// and said once there, instead of one odd column and a missing column each.
std::optional<std::string> separator_mistake(std::string_view text, std::size_t& line) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  line = 1;
  while (!text.empty() && (text.front() == '\n' || text.front() == '\r')) {
    if (text.front() == '\n' || text.substr(0, 2) != "\r\n") ++line;
    text.remove_prefix(1);
  }
  const std::string_view header = text.substr(0, text.find_first_of("\r\n"));
  if (header.find(',') != std::string_view::npos) return std::nullopt;
  const char* used = header.find(';') != std::string_view::npos    ? "';'"
                     : header.find('\t') != std::string_view::npos ? "tabs"
                                                                    : nullptr;
  if (!used) return std::nullopt;
  return std::string("this file uses ") + used +
         " as separator; a manifest CSV separates its columns with ',' (save or export it as comma-separated)";
}

void read_csv(std::string_view text, const std::string& file, Manifest& m, Intake& intake,
              const ReleaseFn& release) {
  Checker check(file, m);
  std::size_t separator_line = 0;
  if (auto mistake = separator_mistake(text.substr(0, 64 * 1024), separator_line)) {
    check.error(separator_line, "", std::move(*mistake));
    return;
  }
  CsvReader reader(text);
  reader.max_fields = max_manifest_columns;
  reader.max_field_bytes = max_manifest_field_bytes;
  reader.max_record_bytes = max_manifest_record_bytes;
  CsvRow row;
  auto syntax_error = [&] {
    const CsvError& e = *reader.error();
    check.error(e.line, "", (e.limit ? "over a manifest's limits: " : "CSV syntax error: ") + e.message);
  };

  if (!reader.next(row)) {
    if (reader.error()) syntax_error();
    else check.error(0, "", "no jobs (the file is empty)");
    return;
  }

  // Header: map each column to a field; -1 for columns that are reported and ignored.
  const std::size_t header_line = row.line;
  const std::size_t columns = row.fields.size();
  std::vector<int> column_field(columns, -1);
  std::vector<std::string> column_name = row.fields;
  std::array<bool, kFieldCount> has_column{};
  for (std::size_t i = 0; i < columns; ++i) {
    const std::string& name = column_name[i];
    if (name.empty()) {
      check.error(header_line, "", "column " + std::to_string(i + 1) + " has no name");
      continue;
    }
    auto f = lookup(name);
    if (!f) {
      check.error(header_line, name, "unknown column" + field_hint(name));
      continue;
    }
    auto same = std::find(column_name.begin(), column_name.begin() + static_cast<std::ptrdiff_t>(i), name);
    if (same != column_name.begin() + static_cast<std::ptrdiff_t>(i)) {
      check.error(header_line, name,
                  "duplicate column (also column " + std::to_string(same - column_name.begin() + 1) + ")");
      continue;
    }
    column_field[i] = *f;
    has_column[*f] = true;
  }
  // A required column missing from the header is reported once, not on every row.
  std::array<bool, kFieldCount> missing_reported{};
  for (Field f : {f_project, f_live_video, f_visibility}) {
    if (!has_column[f]) {
      check.error(header_line, canonical(f), "required column is missing");
      missing_reported[f] = true;
    }
  }

  std::size_t rows = 0;
  std::size_t released = 0;
  while (reader.next(row)) {
    ++rows;
    if (release && reader.offset() - released >= kReleaseStep) {
      release(released, reader.offset());
      released = reader.offset();
    }
    if (row.fields.size() != columns) {
      check.error(row.line, "",
                  "row has " + std::to_string(row.fields.size()) + " cells, the header has " +
                      std::to_string(columns));
      continue;
    }
    RawJob raw{};
    for (std::size_t i = 0; i < columns; ++i) {
      const int f = column_field[i];
      if (f < 0 || row.fields[i].empty()) continue;  // an empty cell is an absent field
      Value& v = raw[f];
      if (v.kind != Kind::absent) {
        check.error(row.line, column_name[i],
                    "same field as " + std::string(v.name) + "; fill only one of the two columns");
        continue;
      }
      v = Value{Kind::scalar, row.fields[i], column_name[i], row.line};
    }
    JobSpec spec;
    check.check_job(raw, row.line, spec, missing_reported);
    if (!intake.take(std::move(spec))) return;
  }
  if (reader.error()) syntax_error();
  else if (rows == 0) check.error(0, "", "no jobs (only a header row)");
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

}  // namespace

std::span<const std::string_view> manifest_field_names() { return kAllNames; }

std::optional<ManifestFormat> parse_manifest_format(std::string_view name) {
  if (!name.empty() && name.front() == '.') name.remove_prefix(1);
  const std::string n = lowercase(name);
  if (n == "yaml" || n == "yml") return ManifestFormat::yaml;
  if (n == "csv") return ManifestFormat::csv;
  return std::nullopt;
}

namespace {

// Settles `detect` from the file name; on failure records the diagnostic.
std::optional<ManifestFormat> resolve_format(ManifestFormat format, const std::string& file_name, Manifest& m) {
  if (format != ManifestFormat::detect) return format;
  const std::string ext = std::filesystem::path(file_name).extension().string();
  auto detected = parse_manifest_format(ext);
  if (!detected || ext.empty())
    m.errors.push_back(Diagnostic{file_name, 0, "",
                                  "cannot tell the manifest format from the extension" +
                                      (ext.empty() ? std::string() : " '" + ext + "'") +
                                      "; use .yaml, .yml or .csv, or give the format explicitly"});
  return detected;
}

// A UTF-16 file (Excel's "Unicode Text", Windows Notepad's "Unicode"): a byte order mark,
// or, without one, a NUL byte in the first line, which UTF-8 text never has there.
bool looks_utf16(std::string_view text) {
  if (text.starts_with("\xFF\xFE") || text.starts_with("\xFE\xFF")) return true;
  const std::string_view start = text.substr(0, 4096);
  return start.substr(0, start.find('\n')).find('\0') != std::string_view::npos;
}

std::string over_limit(ManifestFormat format) {
  return format == ManifestFormat::yaml
             ? "over the limit of " + std::to_string(max_yaml_manifest_bytes >> 20) +
                   " MiB for YAML (which is parsed whole); use CSV for big batches, or split it"
             : "over the limit of " + std::to_string(max_manifest_bytes >> 20) +
                   " MiB for a manifest; split it into several files";
}

// Reads `text` in `format`, handing each job to `each`. `release` (may be empty) is told
// how far the reader is done with the text.
Manifest parse_resolved(std::string_view text, ManifestFormat format, const std::string& file_name,
                        const Intake::Each& each, const ReleaseFn& release) {
  Manifest m;
  const std::uint64_t limit = format == ManifestFormat::yaml ? max_yaml_manifest_bytes : max_manifest_bytes;
  if (text.size() > limit) {
    m.add(Diagnostic{file_name, 0, "", "the manifest is over " + std::to_string(text.size() >> 20) + " MiB, " + over_limit(format)});
    return m;
  }
  if (looks_utf16(text)) {
    m.add(Diagnostic{file_name, 1, "", "UTF-16 is not supported: save the file as UTF-8"});
    return m;
  }
  Intake intake(file_name, m, each);
  if (format == ManifestFormat::yaml) YamlReader(file_name, m, intake).read(text);
  else read_csv(text, file_name, m, intake, release);

  // Problems are found per job; duplicates only once every job is in.
  intake.finish();
  const auto by_line = [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; };
  std::stable_sort(m.errors.begin(), m.errors.end(), by_line);
  std::stable_sort(m.warnings.begin(), m.warnings.end(), by_line);
  return m;
}

// A read-only private mapping of a whole file, unmapped on destruction.
struct FileMapping {
  char* data = nullptr;
  std::size_t size = 0;
  FileMapping(int fd, std::size_t n) {
    void* p = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return;
    data = static_cast<char*>(p);
    size = n;
    ::madvise(data, size, MADV_SEQUENTIAL);
  }
  ~FileMapping() {
    if (data) ::munmap(data, size);
  }
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;
};

// Reads a manifest file, each job to `each`; `lines` (may be empty) is told the number of
// line ends first, for a caller that keeps the jobs and would rather not regrow.
Manifest read_manifest_file(const std::filesystem::path& path, ManifestFormat format, const Intake::Each& each,
                            const std::function<void(std::size_t)>& lines) {
  const std::string name = path.string();
  Manifest m;
  auto resolved = resolve_format(format, name, m);
  if (!resolved) return m;
  auto io_error = [&](const char* what, int err) {
    m.add(Diagnostic{name, 0, "", std::string(what) + ": " + std::strerror(err)});
    return std::move(m);
  };

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error("cannot read", errno);
  if (S_ISDIR(st.st_mode)) return io_error("cannot read", EISDIR);
  const std::uint64_t limit = *resolved == ManifestFormat::yaml ? max_yaml_manifest_bytes : max_manifest_bytes;
  if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > limit) {
    m.add(Diagnostic{name, 0, "", "the manifest is " + std::to_string(st.st_size >> 20) + " MiB, " + over_limit(*resolved)});
    return m;
  }

  // A big CSV is read through a mapping whose pages are dropped behind the reader, so the
  // file is never resident in full. (Dropped pages of a file mapping fault back in from the
  // file if touched again, so this is always safe.) Past the limit, nothing is mapped.
  if (*resolved == ManifestFormat::csv && S_ISREG(st.st_mode) && st.st_size > 0 &&
      static_cast<std::uint64_t>(st.st_size) <= limit) {
    FileMapping map(fd, static_cast<std::size_t>(st.st_size));
    if (map.data) {
      const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
      ReleaseFn release = [&](std::size_t from, std::size_t upto) {
        const std::size_t begin = from / page * page;
        const std::size_t end = upto / page * page;
        if (end > begin) ::madvise(map.data + begin, end - begin, MADV_DONTNEED);
      };
      const std::string_view text(map.data, map.size);
      if (lines) {  // counted in steps, so the pages can be released as the count goes
        std::size_t newlines = 0;
        for (std::size_t at = 0; at < text.size(); at += kReleaseStep) {
          const auto chunk = text.substr(at, kReleaseStep);
          newlines += static_cast<std::size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
          release(at, at + chunk.size());
        }
        lines(newlines);
      }
      return parse_resolved(text, *resolved, name, each, release);
    }
  }

  // Otherwise read it once into one string (pipes, empty files, YAML), never past the limit.
  std::string text;
  if (S_ISREG(st.st_mode)) text.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(st.st_size, limit + 1)));
  char buf[1 << 16];
  while (text.size() <= limit) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read", errno);
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
  return parse_resolved(text, *resolved, name, each, {});
}

}  // namespace

void Manifest::add(Diagnostic d) {
  const bool error = d.severity == Severity::error;
  Diagnostics& kept = error ? errors : warnings;
  if (kept.size() >= max_kept_problems) {
    ++(error ? more_errors : more_warnings);
    return;
  }
  if (d.field.size() > 256) d.field.resize(256);  // a field name from hostile input: shown cut anyway
  kept.push_back(std::move(d));
}

Manifest parse_manifest(std::string_view text, ManifestFormat format, const std::string& file_name) {
  Manifest m;
  auto resolved = resolve_format(format, file_name, m);
  if (!resolved) return m;
  std::vector<JobSpec> jobs;
  m = parse_resolved(text, *resolved, file_name, [&jobs](JobSpec&& j) { jobs.push_back(std::move(j)); }, {});
  m.jobs = std::move(jobs);
  return m;
}

Manifest load_manifest(const std::filesystem::path& path, ManifestFormat format) {
  std::vector<JobSpec> jobs;
  Manifest m = read_manifest_file(
      path, format, [&jobs](JobSpec&& j) { jobs.push_back(std::move(j)); },
      [&jobs](std::size_t lines) { jobs.reserve(std::min(lines + 1, max_manifest_jobs)); });
  m.jobs = std::move(jobs);
  return m;
}

Manifest scan_manifest(const std::filesystem::path& path, ManifestFormat format,
                       const std::function<void(const JobSpec&)>& each) {
  return read_manifest_file(path, format, [&each](JobSpec&& j) { each(j); }, {});
}

}  // namespace batchcut
