// Reading a ledger: read big chunks, split into lines, parse each with one reused
// Boost.JSON SAX parser (no DOM) into fixed slots, check the fields, turn the record into a
// lifecycle event and fold it through step(), the same function the runner uses.
// Built to load a million-job ledger (3-4M lines) in about a second.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json/basic_parser_impl.hpp>
#include <cerrno>
#include <cstring>
#include <limits>

#include "batchcut/ledger/ledger.hpp"
#include "batchcut/job/validate.hpp"
#include "batchcut/util/time_util.hpp"

namespace batchcut {

namespace json = boost::json;

namespace {

// ---- one line, parsed without building a DOM ----
// A SAX handler for json::basic_parser that drops the top-level members we know into
// fixed slots (unknown members are skipped). No allocation once the slot strings have
// grown to their working size; this is what makes a 3-4M line ledger load in about a second.

enum Field : std::uint8_t {
  f_type, f_ts, f_project_id, f_live_video_id, f_visibility, f_from_ms, f_to_ms, f_dt_from,
  f_dt_to, f_label, f_attempt, f_op, f_http_status, f_error, f_verdict, f_elapsed_ms, f_state,
  f_video_public_id, f_blind, f_messages, f_format, f_base_url, f_auth_scheme, f_ca_file,
  f_shard, f_kind, f_title, f_clip_id, f_live_title, f_candidates, f_publish_status, f_duration,
  f_expected_duration, f_duration_mismatch, f_count, f_none = 255
};

constexpr std::string_view kFieldNames[f_count] = {
    "type", "ts", "projectId", "liveVideoId", "videoVisibilityOptionId", "fromMilisecond",
    "toMilisecond", "dateTimeFrom", "dateTimeTo", "label", "attempt", "op", "httpStatus",
    "error", "verdict", "elapsedMs", "state", "videoPublicId", "blind", "messages", "format",
    "baseUrl", "authScheme", "caFile", "shard", "kind", "title", "clipId", "liveTitle", "candidates",
    "publishStatus", "duration", "expectedDuration", "durationMismatch"};

// Candidates by key length, so a key is compared with at most a few names.
constexpr std::size_t kMaxFieldName = 24;
constexpr auto kFieldsByLength = [] {
  std::array<std::array<Field, 8>, kMaxFieldName> t{};  // a row per length: at most 6 (error, label, state, blind, shard, title)
  for (auto& row : t) row.fill(f_none);
  for (std::uint8_t i = 0; i < f_count; ++i) {
    auto& row = t[kFieldNames[i].size()];
    std::size_t k = 0;
    while (row[k] != f_none) ++k;
    row[k] = static_cast<Field>(i);
  }
  return t;
}();

Field field_of(std::string_view key) {
  if (key.size() >= kMaxFieldName) return f_none;
  for (Field f : kFieldsByLength[key.size()]) {
    if (f == f_none) break;
    if (kFieldNames[f] == key) return f;
  }
  return f_none;
}

enum class Kind : std::uint8_t { missing, null, string, int64, uint64, number, boolean, object, array };

struct Slot {
  Kind kind = Kind::missing;
  std::string str;
  std::int64_t num = 0;
  double real = 0;  // any number's value (durations are not integers)
};

struct LineRecord {
  bool object = false;  // the line is a JSON object
  Slot slots[f_count];
  std::vector<std::string> messages;  // the first n_messages are this line's
  std::size_t n_messages = 0;
  bool messages_all_strings = true;

  const Slot& operator[](Field f) const { return slots[f]; }
};

class LineHandler {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  LineRecord rec;

  void reset() {
    rec.object = false;
    for (Slot& s : rec.slots) s.kind = Kind::missing;
    rec.n_messages = 0;
    rec.messages_all_strings = true;
    depth_ = 0;
    cur_ = f_none;
    in_string_ = in_key_ = false;
  }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    if (depth_ == 0)
      rec.object = true;
    else
      value(Kind::object);
    ++depth_;
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    --depth_;
    return true;
  }
  bool on_array_begin(json::error_code&) {
    value(Kind::array);
    ++depth_;
    return true;
  }
  bool on_array_end(std::size_t, json::error_code&) {
    --depth_;
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    if (!in_key_) key_.clear();
    in_key_ = true;
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    if (depth_ != 1) {
      in_key_ = false;
      return true;
    }
    if (in_key_) {
      key_.append(s.data(), s.size());
      cur_ = field_of(key_);
    } else {
      cur_ = field_of(std::string_view(s.data(), s.size()));
    }
    in_key_ = false;
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    if (!in_string_) begin_string();
    if (target_) target_->append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    if (!in_string_) begin_string();
    if (target_) target_->append(s.data(), s.size());
    in_string_ = false;
    if (target_ && depth_ == 2) ++rec.n_messages;
    value(Kind::string);
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t v, json::string_view, json::error_code&) {
    if (depth_ == 1 && cur_ != f_none) {
      rec.slots[cur_].num = v;
      rec.slots[cur_].real = static_cast<double>(v);
    }
    value(Kind::int64);
    return true;
  }
  bool on_uint64(std::uint64_t v, json::string_view, json::error_code&) {
    if (depth_ == 1 && cur_ != f_none) rec.slots[cur_].real = static_cast<double>(v);
    value(Kind::uint64);
    return true;
  }
  bool on_double(double v, json::string_view, json::error_code&) {
    if (depth_ == 1 && cur_ != f_none) rec.slots[cur_].real = v;
    value(Kind::number);
    return true;
  }
  bool on_bool(bool v, json::error_code&) {
    if (depth_ == 1 && cur_ != f_none) rec.slots[cur_].num = v;
    value(Kind::boolean);
    return true;
  }
  bool on_null(json::error_code&) {
    value(Kind::null);
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  // Where the characters of the string starting now go: a member's slot, or the next
  // element of "messages"; nowhere for anything else.
  void begin_string() {
    in_string_ = true;
    target_ = nullptr;
    if (depth_ == 1 && cur_ != f_none) {
      target_ = &rec.slots[cur_].str;
    } else if (depth_ == 2 && cur_ == f_messages && rec.slots[f_messages].kind == Kind::array) {
      if (rec.messages.size() <= rec.n_messages) rec.messages.emplace_back();
      target_ = &rec.messages[rec.n_messages];
    }
    if (target_) target_->clear();
  }

  // A value (scalar, or the start of a container) at the current depth.
  void value(Kind kind) {
    if (depth_ == 0) return;  // a top-level non-object: rec.object stays false
    if (depth_ == 1) {
      if (cur_ != f_none) rec.slots[cur_].kind = kind;
      if (cur_ == f_messages) {  // a repeated key: the last one wins
        rec.n_messages = 0;
        rec.messages_all_strings = true;
      }
    } else if (cur_ == f_messages && (depth_ > 2 || kind != Kind::string)) {
      rec.messages_all_strings = false;
    }
  }

  int depth_ = 0;
  Field cur_ = f_none;  // the top-level member whose value is being parsed
  std::string key_;
  bool in_key_ = false;
  bool in_string_ = false;
  std::string* target_ = nullptr;
};

// One line's checks; every problem found becomes a FILE:LINE: field: message diagnostic.
struct LineCheck {
  LedgerContents& out;
  const std::string& file;
  std::size_t line;
  const LineRecord& rec;
  bool ok = true;

  void error(std::string_view field, std::string message) {
    out.errors.push_back(Diagnostic{file, line, std::string(field), std::move(message)});
    ok = false;
  }

  const Slot* need(Field f) {
    const Slot& s = rec[f];
    if (s.kind != Kind::missing) return &s;
    error(kFieldNames[f], "missing");
    return nullptr;
  }

  bool string(Field f, std::string_view& value, bool allow_empty = true) {
    const Slot* s = need(f);
    if (!s) return false;
    if (s->kind != Kind::string) {
      error(kFieldNames[f], "must be a string");
      return false;
    }
    value = s->str;
    if (!allow_empty && value.empty()) {
      error(kFieldNames[f], "must not be empty");
      return false;
    }
    return true;
  }

  // A string or null; `value` is nullopt for null.
  bool nullable_string(Field f, std::optional<std::string_view>& value) {
    const Slot* s = need(f);
    if (!s) return false;
    if (s->kind == Kind::null) {
      value.reset();
      return true;
    }
    if (s->kind != Kind::string) {
      error(kFieldNames[f], "must be a string or null");
      return false;
    }
    value = std::string_view(s->str);
    return true;
  }

  bool integer(const Slot& s, Field f, std::int64_t& value, std::int64_t min, std::int64_t max) {
    if (s.kind == Kind::int64) {
      value = s.num;
    } else if (s.kind == Kind::uint64) {
      value = std::numeric_limits<std::int64_t>::max();  // out of range below
    } else {
      error(kFieldNames[f], "must be an integer");
      return false;
    }
    if (value < min || value > max) {
      error(kFieldNames[f], "out of range (" + std::to_string(min) + ".." + std::to_string(max) + ")");
      return false;
    }
    return true;
  }

  bool integer(Field f, std::int64_t& value, std::int64_t min = 0,
               std::int64_t max = std::numeric_limits<int>::max()) {
    const Slot* s = need(f);
    return s && integer(*s, f, value, min, max);
  }

  // A number (a duration in seconds) or null.
  bool nullable_number(Field f, std::optional<double>& value) {
    const Slot* s = need(f);
    if (!s) return false;
    if (s->kind == Kind::null) {
      value.reset();
      return true;
    }
    if (s->kind != Kind::int64 && s->kind != Kind::uint64 && s->kind != Kind::number) {
      error(kFieldNames[f], "must be a number or null");
      return false;
    }
    value = s->real;
    return true;
  }

  // An optional string member: absent is fine (value stays empty).
  bool optional_string(Field f, std::string_view& value) {
    if (rec[f].kind == Kind::missing) return true;
    return string(f, value);
  }

  bool nullable_integer(Field f, std::optional<std::int64_t>& value) {
    const Slot* s = need(f);
    if (!s) return false;
    if (s->kind == Kind::null) {
      value.reset();
      return true;
    }
    std::int64_t x = 0;
    if (!integer(*s, f, x, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()))
      return false;
    value = x;
    return true;
  }
};


class Folder {
 public:
  Folder(LedgerContents& out, std::string file)
      : out_(out), file_(std::move(file)), parser_(parse_options()) {}

  // Folds one line. Returns false only when the line is not JSON at all: for the last line
  // of a file, a write cut short (a line that parses is whole, and is checked as usual).
  bool line(std::string_view text, std::size_t lineno);
  void reserve(std::size_t jobs) {
    out_.jobs.reserve(jobs);
    out_.index.reserve(jobs);
  }

 private:
  static json::parse_options parse_options() {
    json::parse_options opt;
    // The writer passes label bytes through verbatim; never reject a record over them.
    opt.allow_invalid_utf8 = true;
    return opt;
  }

  void fold_run(LineCheck& c);
  void fold_job(LineCheck& c);
  JobRecord* existing(LineCheck& c, std::string_view type);
  std::optional<Event> read_event(LineCheck& c, std::string_view type);
  void fold_event(LineCheck& c, std::string_view type);
  void fold_vod(LineCheck& c);
  bool read_identity(LineCheck& c);

  LedgerContents& out_;
  std::string file_;
  json::basic_parser<LineHandler> parser_;
  std::string_view project_id_, live_video_id_;
  JobIdentity identity_;  // of the record being folded (views into the parser's slots)
  bool have_ids_ = false;
  bool header_seen_ = false;
  bool not_a_ledger_ = false;
  // Jobs that had a request dispatched since the last run record: at the next one, any of
  // them still waiting for its answer is Interrupted (that run is over).
  std::vector<std::size_t> dispatched_;
  std::size_t next_of_kind_[3] = {};  // see existing()
};

bool Folder::line(std::string_view text, std::size_t lineno) {
  if (not_a_ledger_) return true;
  LineHandler& h = parser_.handler();
  const LineRecord& rec = h.rec;
  LineCheck c{out_, file_, lineno, rec};
  h.reset();
  parser_.reset();
  json::error_code ec;
  std::size_t used = parser_.write_some(false, text.data(), text.size(), ec);
  if (!ec && used != text.size()) ec = json::make_error_code(json::error::extra_data);
  if (ec) {
    c.error("", "not valid JSON: " + ec.message());
    return false;
  }
  if (!rec.object) {
    c.error("", "not a JSON object");
    return true;
  }

  std::string_view type;
  if (!c.string(f_type, type)) return true;
  if (Kind k = rec[f_ts].kind; k != Kind::missing && k != Kind::string) c.error("ts", "must be a string");
  if (!header_seen_ && type != "run") {
    c.error("type", "not a batchcut ledger of format " + std::to_string(ledger_format) +
                        ": its first record must be a 'run' record (ledgers of batchcut 0.1 "
                        "cannot be resumed by this version)");
    not_a_ledger_ = true;
    return true;
  }
  if (type == "run") {
    fold_run(c);
    return true;
  }
  have_ids_ = c.string(f_project_id, project_id_, false);
  have_ids_ = c.string(f_live_video_id, live_video_id_, false) && have_ids_;
  have_ids_ = read_identity(c) && have_ids_;
  if (type == "job")
    fold_job(c);
  else if (type == "vod")
    fold_vod(c);
  else
    fold_event(c, type);
  return true;
}

// The rest of a job's identity: a clip's "kind" and its clipId, or its title without one.
bool Folder::read_identity(LineCheck& c) {
  identity_ = JobIdentity{project_id_, live_video_id_, JobKind::stop_and_cut, false, {}};
  std::string_view kind_text, clip_id, title;
  if (!c.optional_string(f_kind, kind_text)) return false;
  const auto kind = kind_text.empty() ? std::optional<JobKind>(JobKind::stop_and_cut) : parse_job_kind(kind_text);
  if (!kind) {
    c.error("kind", "unknown kind '" + std::string(kind_text) + "' (expected stop-and-cut or clip)");
    return false;
  }
  if (!c.optional_string(f_clip_id, clip_id) || !c.optional_string(f_title, title)) return false;
  identity_.kind = *kind;
  if (*kind == JobKind::stop_and_cut) {
    if (!clip_id.empty()) c.error("clipId", "only a clip has a clipId");
    if (!title.empty()) c.error("title", "only a clip has a title");
    return c.ok;
  }
  identity_.by_clip_id = !clip_id.empty();
  identity_.clip = identity_.by_clip_id ? clip_id : title;
  if (identity_.clip.empty()) {
    c.error("title", "a clip's record must name it by clipId or title");
    return false;
  }
  return true;
}

void Folder::fold_run(LineCheck& c) {
  std::int64_t format = 0;
  std::string_view base_url, auth_scheme;
  std::optional<std::string_view> ca_file;
  if (c.integer(f_format, format, 0) && (format < oldest_ledger_format || format > ledger_format))
    c.error("format", "ledger format " + std::to_string(format) + " is not one this batchcut reads (" +
                          std::to_string(oldest_ledger_format) + " to " + std::to_string(ledger_format) + ")");
  c.string(f_base_url, base_url, false);
  if (c.string(f_auth_scheme, auth_scheme) && auth_scheme != "bearer" && auth_scheme != "raw")
    c.error("authScheme", "must be bearer or raw");
  c.nullable_string(f_ca_file, ca_file);
  std::optional<Shard> shard;  // absent: the run took the whole manifest
  std::string_view shard_text;
  if (c.rec[f_shard].kind != Kind::missing && c.string(f_shard, shard_text)) {
    std::string why;
    shard = parse_shard(shard_text, why);
    if (!shard) c.error("shard", why);
  }
  header_seen_ = true;
  if (!c.ok) {
    if (out_.runs == 0) not_a_ledger_ = true;  // a header we cannot read: read no further
    return;
  }
  ++out_.runs;
  out_.target = RunTarget{std::string(base_url), std::string(auth_scheme),
                          ca_file ? std::optional<std::string>(*ca_file) : std::nullopt, shard};
  // A new run began: whatever the last one still had out, it never saw the answer to.
  for (std::size_t i : dispatched_) step(out_.jobs[i].life, Interrupted{});
  dispatched_.clear();
}

void Folder::fold_job(LineCheck& c) {
  // The same rules, and the same messages, as a manifest's (job/validate.hpp): a ledger can
  // never put into a request what a manifest could not.
  JobSpec spec;
  if (have_ids_) {
    if (auto e = check_id(project_id_)) c.error("projectId", *e);
    if (auto e = check_id(live_video_id_)) c.error("liveVideoId", *e);
  }
  std::int64_t visibility = 0;
  if (c.integer(f_visibility, visibility, std::numeric_limits<std::int64_t>::min(),
                std::numeric_limits<std::int64_t>::max())) {
    if (auto v = check_visibility(visibility)) spec.visibility = *v;
    else c.error("videoVisibilityOptionId", v.error);
  }
  std::optional<std::int64_t> from_ms, to_ms;
  std::optional<std::string_view> dt_from, dt_to;
  bool ranges_read = c.nullable_integer(f_from_ms, from_ms);
  ranges_read = c.nullable_integer(f_to_ms, to_ms) && ranges_read;
  ranges_read = c.nullable_string(f_dt_from, dt_from) && ranges_read;
  ranges_read = c.nullable_string(f_dt_to, dt_to) && ranges_read;
  std::string_view label;
  c.string(f_label, label);
  if (!ranges_read || !c.ok) return;  // a pair check on a half-read range would only add noise

  auto report = [&](const FieldProblem& p) { c.error(api_name(p.field), p.message); };
  const RangeShape shape = check_range_shape({from_ms.has_value(), to_ms.has_value(), dt_from.has_value(), dt_to.has_value()});
  if (shape.problem) {
    report(*shape.problem);
    return;
  }
  spec.range = shape.kind;
  if (shape.kind == RangeKind::ms) {
    auto from = check_offset_ms(*from_ms);
    auto to = check_offset_ms(*to_ms);
    if (!from) c.error("fromMilisecond", from.error);
    if (!to) c.error("toMilisecond", to.error);
    if (!c.ok) return;
    if (auto p = check_ms_order(*from, *to)) report(*p);
    spec.from_ms = *from;
    spec.to_ms = *to;
  } else if (shape.kind == RangeKind::datetime) {
    auto from = parse_date_time(*dt_from);
    auto to = parse_date_time(*dt_to);
    if (!from) c.error("dateTimeFrom", from.error);
    if (!to) c.error("dateTimeTo", to.error);
    if (!c.ok) return;
    if (auto p = check_date_time_order(*from, *to)) report(*p);
    spec.from_time = *from;
    spec.to_time = *to;
  }
  if (!c.ok) return;
  spec.project_id = project_id_;
  spec.live_video_id = live_video_id_;
  spec.label = label;
  spec.kind = identity_.kind;
  if (spec.kind == JobKind::clip) {
    std::string_view title, clip_id;
    c.optional_string(f_title, title);
    c.optional_string(f_clip_id, clip_id);
    if (auto e = check_title(title)) c.error("title", *e);
    if (!clip_id.empty())
      if (auto e = check_clip_id(clip_id)) c.error("clipId", *e);
    if (auto e = check_clip_range(spec.range)) c.error("fromMilisecond", *e);
    if (!c.ok) return;
    spec.title = title;
    spec.clip_id = clip_id;
  }

  // A later job record for the same key is a deliberate re-run (--allow-changed): the new
  // spec replaces the old; the job's lifecycle is kept.
  auto& jobs = out_.jobs;
  const std::size_t i = out_.index.find_or_add(spec.identity(), jobs.size(),
                                                [&jobs](std::size_t p) -> const JobSpec& { return jobs[p].spec; });
  if (i == jobs.size()) {
    jobs.emplace_back();
    jobs[i].life.kind = spec.kind;
  }
  jobs[i].spec = std::move(spec);
}

JobRecord* Folder::existing(LineCheck& c, std::string_view type) {
  if (!have_ids_) return nullptr;
  // Records of one kind mostly come in the jobs' order (a run dispatches them in turn, and
  // answers come back about in turn), so the job after the last one of this kind is tried
  // before the index: a sequential walk through memory instead of two cache misses.
  std::size_t& guess = next_of_kind_[type == "dispatch" ? 0 : type == "answer" ? 1 : 2];
  const JobRecord* r = nullptr;
  if (guess < out_.jobs.size() && out_.jobs[guess].spec.identity() == identity_)
    r = &out_.jobs[guess];
  else
    r = out_.find(identity_);
  if (r) guess = static_cast<std::size_t>(r - out_.jobs.data()) + 1;
  if (!r) {
    JobSpec named;
    named.project_id = project_id_;
    named.live_video_id = live_video_id_;
    named.kind = identity_.kind;
    (identity_.by_clip_id ? named.clip_id : named.title) = identity_.clip;
    c.error("liveVideoId", std::string(type) + " record for job " + named.key() + ", which has no job record before it");
    return nullptr;
  }
  return const_cast<JobRecord*>(r);
}

std::optional<Event> Folder::read_event(LineCheck& c, std::string_view type) {
  const LineRecord& rec = c.rec;
  std::int64_t attempt = 0, status = 0, elapsed = 0;
  std::string_view op, verdict, error;
  std::optional<Op> parsed_op;
  auto read_op = [&](bool cut_only) {
    if (!c.string(f_op, op)) return;
    parsed_op = parse_op(op);
    if (!parsed_op || (cut_only && parsed_op != Op::cut))
      c.error("op", "unknown op '" + std::string(op) + (cut_only ? "' (expected cut)" : "' (expected cut, read or lookup)"));
    c.integer(f_attempt, attempt, 1);
  };
  auto read_answer_tail = [&] {
    c.integer(f_http_status, status, 0, 999);
    c.string(f_error, error);
    c.integer(f_elapsed_ms, elapsed, 0, std::numeric_limits<std::int64_t>::max());
    c.string(f_verdict, verdict);
  };
  if (type == "dispatch") {
    read_op(false);
    bool blind = false;
    if (Kind k = rec[f_blind].kind; k == Kind::boolean) blind = rec[f_blind].num != 0;
    else if (k != Kind::missing) c.error("blind", "must be true or false");
    if (!c.ok) return std::nullopt;
    Dispatch d{*parsed_op, static_cast<int>(attempt), blind};
    // Only the first cut's time is used (a lookup starts there): parse no other "ts".
    if (d.op == Op::cut && d.attempt == 1 && rec[f_ts].kind == Kind::string) {
      if (auto t = parse_iso8601(rec[f_ts].str))
        d.at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
      else
        c.error("ts", "not an ISO 8601 date-time");
    }
    if (!c.ok) return std::nullopt;
    return d;
  }
  if (type == "withdraw") {
    read_op(true);
    if (!c.ok) return std::nullopt;
    return Withdraw{static_cast<int>(attempt)};
  }
  if (type == "answer") {
    read_op(false);
    read_answer_tail();
    if (!c.ok) return std::nullopt;
    if (parsed_op == Op::read) {
      auto v = parse_read_verdict(verdict);
      if (!v) {
        c.error("verdict", "unknown read verdict '" + std::string(verdict) + "'");
        return std::nullopt;
      }
      std::string_view live_title;
      if (!c.optional_string(f_live_title, live_title)) return std::nullopt;
      return ReadAnswer{static_cast<int>(attempt), *v, static_cast<int>(status), std::string(error), elapsed,
                        std::string(live_title)};
    }
    if (parsed_op == Op::lookup) {
      auto v = parse_lookup_verdict(verdict);
      if (!v) c.error("verdict", "unknown lookup verdict '" + std::string(verdict) + "'");
      std::optional<std::string_view> id;
      c.nullable_string(f_video_public_id, id);
      std::int64_t candidates = 0;
      c.integer(f_candidates, candidates, 0);
      if (v == LookupVerdict::found) {
        if (!id || id->empty()) c.error("videoPublicId", "a lookup that found the VOD must carry its videoPublicId");
        else if (auto e = check_id(*id)) c.error("videoPublicId", *e);
      }
      if (!c.ok) return std::nullopt;
      return LookupAnswer{static_cast<int>(attempt), *v, std::string(id.value_or(std::string_view())),
                          static_cast<int>(candidates), static_cast<int>(status), std::string(error), elapsed};
    }
    auto v = parse_cut_verdict(verdict);
    if (!v) c.error("verdict", "unknown cut verdict '" + std::string(verdict) + "'");
    std::optional<std::string_view> id;
    c.nullable_string(f_video_public_id, id);
    if (v == CutVerdict::success && (!id || id->empty()))
      c.error("videoPublicId", "a success must carry its videoPublicId");
    if (const Slot* m = c.need(f_messages); m && (m->kind != Kind::array || !rec.messages_all_strings))
      c.error("messages", "must be an array of strings");
    if (!c.ok) return std::nullopt;
    CutAnswer a{static_cast<int>(attempt), *v, static_cast<int>(status),
                std::string(id.value_or(std::string_view())), std::string(error), {}, elapsed};
    a.messages.assign(rec.messages.begin(), rec.messages.begin() + static_cast<std::ptrdiff_t>(rec.n_messages));
    return a;
  }
  if (type == "giveup") {
    if (!c.string(f_error, error)) return std::nullopt;
    return GiveUp{std::string(error)};
  }
  if (type == "reopen") return Reopen{};
  c.error("type", "unknown record type '" + std::string(type) + "'");
  return std::nullopt;
}

void Folder::fold_event(LineCheck& c, std::string_view type) {
  std::optional<Event> event = read_event(c, type);
  std::optional<JobState> claimed;
  if (event && record_names_state(*event)) {
    std::string_view name;
    if (c.string(f_state, name) && !(claimed = parse_job_state(name)))
      c.error("state", "unknown state '" + std::string(name) + "'");
  }
  JobRecord* r = existing(c, type);
  if (!r || !event || !c.ok) return;
  try {
    step(r->life, *event);
  } catch (const LifecycleError& e) {
    c.error("type", std::string(type) + ": " + e.what());
    return;
  }
  if (claimed && *claimed != r->life.state)
    c.error("state", "the record says " + std::string(to_string(*claimed)) + ", but the job's records make it " +
                         to_string(r->life.state));
  if (std::holds_alternative<Dispatch>(*event))
    dispatched_.push_back(static_cast<std::size_t>(r - out_.jobs.data()));
}

void Folder::fold_vod(LineCheck& c) {
  VodObservation v;
  std::optional<std::string_view> id;
  std::string_view status, error;
  c.nullable_string(f_video_public_id, id);
  if (c.string(f_publish_status, status)) {
    if (auto s = parse_publish_status(status)) v.status = *s;
    else c.error("publishStatus", "unknown publish status '" + std::string(status) + "'");
  }
  c.nullable_number(f_duration, v.duration_s);
  c.nullable_number(f_expected_duration, v.expected_s);
  if (Kind k = c.rec[f_duration_mismatch].kind; k == Kind::boolean) v.duration_mismatch = c.rec[f_duration_mismatch].num != 0;
  else c.error("durationMismatch", k == Kind::missing ? "missing" : "must be true or false");
  std::int64_t status_code = 0;
  c.integer(f_http_status, status_code, 0, 999);
  c.string(f_error, error);
  JobRecord* r = existing(c, "vod");
  if (!r || !c.ok) return;
  if (r->life.state != JobState::succeeded || !id || *id != r->life.video_public_id) {
    c.error("videoPublicId", "a vod record for " + r->spec.key() + ", whose job has " +
                                 (r->life.state == JobState::succeeded ? "the VOD " + r->life.video_public_id
                                                                       : std::string("no VOD (") + to_string(r->life.state) + ")"));
    return;
  }
  v.video_public_id = *id;
  v.http_status = static_cast<int>(status_code);
  v.error = error;
  v.ts = c.rec[f_ts].kind == Kind::string ? c.rec[f_ts].str : std::string();
  r->vod = std::make_shared<const VodObservation>(std::move(v));
}

}  // namespace

const JobRecord* LedgerContents::find(const JobIdentity& id) const {
  auto pos = index.find(id,
                        [this](std::size_t p) -> const JobSpec& { return jobs[p].spec; });
  return pos ? &jobs[*pos] : nullptr;
}

namespace {

// Feeds a ledger's bytes to the folder line by line. `more(buf, room)` reads more bytes
// (0 at the end, -1 on error).
template <class Read>
void fold_lines(Folder& folder, LedgerContents& out, const std::string& name, Read&& more,
                std::size_t first_chunk) {
  std::string buf(first_chunk, '\0');
  std::size_t have = 0;       // bytes in buf
  std::size_t buf_start = 0;  // file offset of buf[0]
  std::size_t lineno = 0;
  // Limits (see ledger.hpp): no line batchcut writes is that long, and a ledger with that
  // many problems is not one to act on; either way reading stops, in bounded time and memory.
  const auto too_long = [&](std::size_t length, std::size_t at) {
    if (length <= max_ledger_line) return false;
    out.errors.push_back(Diagnostic{name, at, "",
                                    "a line longer than " + std::to_string(max_ledger_line >> 20) +
                                        " MiB: not a record batchcut writes; reading stopped here"});
    return true;
  };
  const auto too_many = [&](std::size_t at) {
    if (out.errors.size() < max_ledger_problems) return false;
    out.errors.push_back(Diagnostic{name, at, "",
                                    "more than " + std::to_string(max_ledger_problems) +
                                        " problems; reading stopped here"});
    return true;
  };
  for (;;) {
    if (have == buf.size()) buf.resize(buf.size() * 2);  // a line longer than the buffer
    const long n = more(buf.data() + have, buf.size() - have);
    if (n < 0) {
      out.errors.push_back(
          Diagnostic{name, lineno + 1, "", std::string("cannot read: ") + std::strerror(errno)});
      have = 0;  // what is left unread is not a torn line
      break;
    }
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
    std::string_view data(buf.data(), have);
    std::size_t pos = 0;
    bool stop = false;
    for (;;) {
      std::size_t nl = data.find('\n', pos);
      if (nl == std::string_view::npos) break;
      ++lineno;
      if ((stop = too_long(nl - pos, lineno) || too_many(lineno))) break;
      folder.line(data.substr(pos, nl - pos), lineno);
      pos = nl + 1;
    }
    // A line still without its end that is already too long: said now, not after reading
    // on through gigabytes of it.
    if (!stop) stop = too_long(have - pos, lineno + 1);
    if (stop) {
      have = 0;  // what is left unread is not a torn line
      break;
    }
    std::memmove(buf.data(), buf.data() + pos, have - pos);
    have -= pos;
    buf_start += pos;
  }
  if (have > 0) {
    // The last line has no newline: a write cut short by a crash (or a hand edit). A crash
    // leaves a prefix of a line, and no proper prefix of a record is JSON, so a line that
    // parses is whole: kept (it may hold a videoPublicId the server really returned; the
    // writer ends it with a newline before its first append) and checked like any other;
    // if it is wrong, that is an error, never a tear to cut off. A line that is not JSON
    // is a torn tail: ignored here, cut off by the next run.
    const std::size_t errors_before = out.errors.size();
    if (!folder.line(std::string_view(buf.data(), have), lineno + 1)) {
      out.errors.resize(errors_before);
      out.torn_tail = true;
      out.torn_tail_offset = buf_start;
    }
  }
}

}  // namespace

LedgerContents read_ledger(const std::filesystem::path& path) {
  LedgerContents out;
  const std::string name = path.string();
  int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT)
      out.errors.push_back(Diagnostic{name, 0, "", std::string("cannot open: ") + std::strerror(errno)});
    return out;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  Folder folder(out, name);
  // A job costs about 3 lines of ~190 bytes; reserving from the size avoids regrowing.
  // (Up to a million: the size of a hostile or sparse file must not decide what is allocated.)
  if (off_t size = ::lseek(fd, 0, SEEK_END); size > 0)
    folder.reserve(std::min<std::size_t>(static_cast<std::size_t>(size) / 500 + 16, std::size_t{1} << 20));
  ::lseek(fd, 0, SEEK_SET);
  fold_lines(folder, out, name,
             [fd](char* p, std::size_t room) -> long {
               for (;;) {
                 const ssize_t n = ::read(fd, p, room);
                 if (n >= 0 || errno != EINTR) return n;
               }
             },
             std::size_t{8} << 20);
  return out;
}

LedgerContents read_ledger_text(std::string_view text, const std::string& name) {
  LedgerContents out;
  Folder folder(out, name);
  std::size_t at = 0;
  fold_lines(folder, out, name,
             [&](char* p, std::size_t room) -> long {
               const std::size_t n = std::min(room, text.size() - at);
               std::memcpy(p, text.data() + at, n);
               at += n;
               return static_cast<long>(n);
             },
             std::max<std::size_t>(4096, text.size() + 1));
  return out;
}

}  // namespace batchcut
