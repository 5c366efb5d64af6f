// Reading a ledger: read big chunks, split into lines, parse each with one reused
// Boost.JSON SAX parser (no DOM), validate, and fold into one JobRecord per job.
// Built to load a million-job ledger (3-4M lines) in well under 2 s.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json/basic_parser_impl.hpp>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <cstring>
#include <limits>
#include <mutex>
#include <thread>

#include "batchcut/ledger/ledger.hpp"
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
  f_video_public_id, f_attempts, f_messages, f_count, f_none = 255
};

constexpr std::string_view kFieldNames[f_count] = {
    "type", "ts", "projectId", "liveVideoId", "videoVisibilityOptionId", "fromMilisecond",
    "toMilisecond", "dateTimeFrom", "dateTimeTo", "label", "attempt", "op", "httpStatus",
    "error", "verdict", "elapsedMs", "state", "videoPublicId", "attempts", "messages"};

// Candidates by key length, so a key is compared with at most a few names.
constexpr std::size_t kMaxFieldName = 24;
constexpr auto kFieldsByLength = [] {
  std::array<std::array<Field, 4>, kMaxFieldName> t{};
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
    if (depth_ == 1 && cur_ != f_none) rec.slots[cur_].num = v;
    value(Kind::int64);
    return true;
  }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) {
    value(Kind::uint64);
    return true;
  }
  bool on_double(double, json::string_view, json::error_code&) {
    value(Kind::number);
    return true;
  }
  bool on_bool(bool, json::error_code&) {
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

  bool nullable_integer(Field f, std::optional<std::int64_t>& value) {
    const Slot* s = need(f);
    if (!s) return false;
    if (s->kind == Kind::null) {
      value.reset();
      return true;
    }
    std::int64_t x = 0;
    if (!integer(*s, f, x, 0, std::numeric_limits<std::int64_t>::max())) return false;
    value = x;
    return true;
  }
};

// Builds LedgerContents::index (a million std::string keys: a few hundred ms of cache
// misses and allocations) on a second thread while the main thread parses.
class IndexBuilder {
 public:
  explicit IndexBuilder(std::unordered_map<std::string, std::size_t>& index)
      : index_(index), thread_([this] { run(); }) {}
  IndexBuilder(const IndexBuilder&) = delete;
  IndexBuilder& operator=(const IndexBuilder&) = delete;
  ~IndexBuilder() { finish(); }

  // Keys come in the order the jobs were created: the n-th key is jobs[n].
  void add(const std::string& key) {
    batch_.push_back(key);
    if (batch_.size() == kBatch) hand_over();
  }

  void finish() {
    if (!thread_.joinable()) return;
    hand_over();
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  static constexpr std::size_t kBatch = 4096;

  void hand_over() {
    if (batch_.empty()) return;
    {
      std::lock_guard lk(mu_);
      queue_.push_back(std::move(batch_));
    }
    cv_.notify_one();
    batch_ = {};
    batch_.reserve(kBatch);
  }

  void run() {
    std::size_t next = 0;
    std::unique_lock lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return done_ || !queue_.empty(); });
      if (queue_.empty()) return;
      std::vector<std::string> batch = std::move(queue_.front());
      queue_.pop_front();
      lk.unlock();
      for (std::string& key : batch) index_.emplace(std::move(key), next++);
      lk.lock();
    }
  }

  std::unordered_map<std::string, std::size_t>& index_;
  std::vector<std::string> batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<std::string>> queue_;
  bool done_ = false;
  std::thread thread_;  // last: started once everything above is initialized
};

class Folder {
 public:
  Folder(LedgerContents& out, std::string file)
      : out_(out), file_(std::move(file)), parser_(parse_options()) {}

  void line(std::string_view text, std::size_t lineno);

 private:
  static json::parse_options parse_options() {
    json::parse_options opt;
    // The writer passes label bytes through verbatim; never reject a record over them.
    opt.allow_invalid_utf8 = true;
    return opt;
  }

  void fold_job(LineCheck& c);
  std::size_t lookup();
  JobRecord* existing(LineCheck& c, std::string_view type);
  void fold_dispatch(LineCheck& c);
  void fold_outcome(LineCheck& c);
  void fold_state(LineCheck& c);

  LedgerContents& out_;
  std::string file_;
  json::basic_parser<LineHandler> parser_;
  std::string_view project_id_, live_video_id_;
  std::string key_;  // reused: projectId/liveVideoId of the current line
  std::size_t key_hash_ = 0;

  // Open addressing over (hash, position in jobs), compared against the JobRecord itself:
  // a lookup costs about two cache misses where std::unordered_map<std::string> costs four
  // or five. out.index is built from it once at the end.
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  struct Entry {
    std::size_t hash = 0;
    std::size_t pos = npos;
  };
  std::vector<Entry> table_ = std::vector<Entry>(1024);
  std::size_t probe_ = 0;  // where the last failed lookup stopped: the slot to insert at
  static constexpr std::size_t kRecent = 4096;
  std::vector<Entry> recent_ = std::vector<Entry>(kRecent);
  void grow();
  bool matches(std::size_t pos) const {
    const JobSpec& s = out_.jobs[pos].spec;
    return s.live_video_id == live_video_id_ && s.project_id == project_id_;
  }
  IndexBuilder* index_builder_ = nullptr;

 public:
  void build_index_with(IndexBuilder* b) { index_builder_ = b; }
  void reserve(std::size_t jobs) {
    std::size_t n = 1024;
    while (n < jobs * 2) n *= 2;
    if (out_.jobs.empty() && n > table_.size()) table_.assign(n, Entry{});
  }
};

void Folder::line(std::string_view text, std::size_t lineno) {
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
    return;
  }
  if (!rec.object) {
    c.error("", "not a JSON object");
    return;
  }

  std::string_view type;
  if (!c.string(f_type, type)) return;
  bool have_ids = c.string(f_project_id, project_id_, false);
  have_ids = c.string(f_live_video_id, live_video_id_, false) && have_ids;
  if (have_ids) {
    key_.assign(project_id_);
    key_ += '/';
    key_ += live_video_id_;
  }
  if (Kind k = rec[f_ts].kind; k != Kind::missing && k != Kind::string)
    c.error("ts", "must be a string");

  if (type == "job") {
    fold_job(c);
  } else if (type == "dispatch") {
    fold_dispatch(c);
  } else if (type == "outcome") {
    fold_outcome(c);
  } else if (type == "state") {
    fold_state(c);
  } else {
    c.error("type", "unknown record type '" + std::string(type) + "'");
  }
}

void Folder::fold_job(LineCheck& c) {
  std::int64_t visibility = 0;
  std::optional<std::int64_t> from_ms, to_ms;
  std::optional<std::string_view> dt_from, dt_to;
  std::string_view label;
  c.integer(f_visibility, visibility, 1, 3);
  bool ranges_read = c.nullable_integer(f_from_ms, from_ms);
  ranges_read = c.nullable_integer(f_to_ms, to_ms) && ranges_read;
  ranges_read = c.nullable_string(f_dt_from, dt_from) && ranges_read;
  ranges_read = c.nullable_string(f_dt_to, dt_to) && ranges_read;
  c.string(f_label, label);
  if (!ranges_read) return;  // a pair check on a half-read range would only add noise
  if (from_ms.has_value() != to_ms.has_value())
    c.error(from_ms ? "toMilisecond" : "fromMilisecond",
            from_ms ? "must be set together with fromMilisecond"
                    : "must be set together with toMilisecond");
  if (dt_from.has_value() != dt_to.has_value())
    c.error(dt_from ? "dateTimeTo" : "dateTimeFrom",
            dt_from ? "must be set together with dateTimeFrom"
                    : "must be set together with dateTimeTo");
  if ((from_ms || to_ms) && (dt_from || dt_to))
    c.error("dateTimeFrom", "a job has either a millisecond or a date-time range, not both");
  // The same bounds as a manifest's: the spec must be one a manifest could have given.
  constexpr std::int64_t ms_limit = std::int64_t{1} << 31;
  if (from_ms && (*from_ms < 0 || *from_ms >= ms_limit))
    c.error("fromMilisecond", "must be 0 .. 2147483647");
  if (to_ms && (*to_ms < 0 || *to_ms >= ms_limit)) c.error("toMilisecond", "must be 0 .. 2147483647");
  if (!c.ok) return;

  JobSpec spec;
  spec.project_id = project_id_;
  spec.live_video_id = live_video_id_;
  spec.visibility = static_cast<Visibility>(visibility);
  spec.label = label;
  if (from_ms) {
    spec.range = RangeKind::ms;
    spec.from_ms = static_cast<std::int32_t>(*from_ms);
    spec.to_ms = static_cast<std::int32_t>(*to_ms);
  } else if (dt_from) {
    spec.range = RangeKind::datetime;
    auto from = parse_iso8601(*dt_from);
    auto to = parse_iso8601(*dt_to);
    if (!from) c.error("dateTimeFrom", "not an ISO 8601 date-time");
    if (!to) c.error("dateTimeTo", "not an ISO 8601 date-time");
    if (!c.ok) return;
    spec.from_time = *from;
    spec.to_time = *to;
  }

  // A later job record for the same key is a deliberate re-run (--allow-changed): the new
  // spec replaces the old; everything learned about the job so far is kept.
  std::size_t i = lookup();
  if (i == npos) {
    i = out_.jobs.size();
    table_[probe_] = {key_hash_, i};
    recent_[key_hash_ & (kRecent - 1)] = {key_hash_, i};
    out_.jobs.emplace_back();
    if (index_builder_) index_builder_->add(key_);
    if (out_.jobs.size() * 2 > table_.size()) grow();
  }
  out_.jobs[i].spec = std::move(spec);
}

std::size_t Folder::lookup() {
  key_hash_ = std::hash<std::string_view>{}(key_);
  // The records of one job sit close together (a run has at most `concurrency` jobs in
  // flight), so a small direct-mapped cache of recent jobs answers most lookups from
  // memory that is already in the CPU cache.
  Entry& recent = recent_[key_hash_ & (kRecent - 1)];
  if (recent.pos != npos && recent.hash == key_hash_ && matches(recent.pos)) return recent.pos;
  const std::size_t mask = table_.size() - 1;
  for (std::size_t p = key_hash_ & mask;; p = (p + 1) & mask) {
    const Entry& e = table_[p];
    if (e.pos == npos) {
      probe_ = p;
      return npos;
    }
    if (e.hash == key_hash_ && matches(e.pos)) {
      recent = e;
      return e.pos;
    }
  }
}

void Folder::grow() {
  std::vector<Entry> old(table_.size() * 2);
  old.swap(table_);
  const std::size_t mask = table_.size() - 1;
  for (const Entry& e : old) {
    if (e.pos == npos) continue;
    std::size_t p = e.hash & mask;
    while (table_[p].pos != npos) p = (p + 1) & mask;
    table_[p] = e;
  }
}

JobRecord* Folder::existing(LineCheck& c, std::string_view type) {
  if (!c.ok) return nullptr;
  std::size_t i = lookup();
  if (i == npos) {
    c.error("liveVideoId", std::string(type) + " record for job " + key_ +
                               ", which has no job record before it");
    return nullptr;
  }
  return &out_.jobs[i];
}

// Only "cut" is a stop-and-cut attempt. A "reconcile" (a read of the live video after an
// in-doubt attempt) neither counts as an attempt nor starts or ends one: were a crash to
// follow a reconcile, the next run must still see the cut as in flight.
void Folder::fold_dispatch(LineCheck& c) {
  std::int64_t attempt = 0;
  std::string_view op;
  c.integer(f_attempt, attempt);
  if (c.string(f_op, op) && op != "cut" && op != "reconcile")
    c.error("op", "unknown op '" + std::string(op) + "' (expected cut or reconcile)");
  JobRecord* r = existing(c, "dispatch");
  if (!r || op != "cut") return;
  r->attempts = std::max(r->attempts, static_cast<int>(attempt));
  r->in_flight = true;
}

void Folder::fold_outcome(LineCheck& c) {
  std::int64_t attempt = 0, status = 0, elapsed = 0;
  std::string_view op, error, verdict;
  c.integer(f_attempt, attempt);
  if (c.string(f_op, op) && op != "cut" && op != "reconcile")
    c.error("op", "unknown op '" + std::string(op) + "' (expected cut or reconcile)");
  c.integer(f_http_status, status, 0, 999);
  c.string(f_error, error);
  c.string(f_verdict, verdict);
  c.integer(f_elapsed_ms, elapsed, 0, std::numeric_limits<std::int64_t>::max());
  JobRecord* r = existing(c, "outcome");
  if (!r) return;
  if (op == "reconcile") {
    if (verdict == "can_stop") r->in_doubt_unresolved = false;
    return;
  }
  if (op != "cut") return;
  if (verdict == "retry_in_doubt") r->in_doubt_unresolved = r->ever_in_doubt = true;
  r->attempts = std::max(r->attempts, static_cast<int>(attempt));
  r->in_flight = false;
  r->http_status = static_cast<int>(status);
  r->error = error;
}

void Folder::fold_state(LineCheck& c) {
  std::string_view state_name, error;
  std::optional<std::string_view> video_public_id;
  std::int64_t attempts = 0, status = 0;
  std::optional<JobState> state;
  if (c.string(f_state, state_name)) {
    state = parse_job_state(state_name);
    if (!state) c.error("state", "unknown state '" + std::string(state_name) + "'");
  }
  c.nullable_string(f_video_public_id, video_public_id);
  c.integer(f_attempts, attempts);
  c.integer(f_http_status, status, 0, 999);
  c.string(f_error, error);
  if (const Slot* m = c.need(f_messages)) {
    if (m->kind != Kind::array || !c.rec.messages_all_strings) {
      c.error("messages", "must be an array of strings");
    }
  }
  JobRecord* r = existing(c, "state");
  if (!r) return;

  r->in_flight = false;
  r->has_final = true;
  r->attempts = std::max(r->attempts, static_cast<int>(attempts));
  // Never lose a videoPublicId. Once a job has a succeeded state, its VOD exists whatever
  // a later state says (a later run's refused retry, an operator's replay, a bug), and
  // the id is the one thing that cannot be recovered from anywhere else. So a later
  // non-succeeded state does not replace a succeeded one, and a later succeeded state
  // only fills in an id when none was known; it never replaces the first id recorded.
  if (r->state == JobState::succeeded) {
    if (*state == JobState::succeeded && r->video_public_id.empty() && video_public_id)
      r->video_public_id = *video_public_id;
    return;
  }
  r->state = *state;
  r->video_public_id = video_public_id.value_or(std::string_view());
  r->http_status = static_cast<int>(status);
  r->error = error;
  r->messages.assign(c.rec.messages.begin(),
                     c.rec.messages.begin() + static_cast<std::ptrdiff_t>(c.rec.n_messages));
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
  std::optional<IndexBuilder> index_builder;
  // A job costs about 4 lines of ~190 bytes; reserving from the size avoids rehashing.
  if (off_t size = ::lseek(fd, 0, SEEK_END); size > 0) {
    auto expected_jobs = static_cast<std::size_t>(size) / 700 + 16;
    out.jobs.reserve(expected_jobs);
    out.index.reserve(expected_jobs);
    folder.reserve(expected_jobs);
    if (size > (off_t{16} << 20)) folder.build_index_with(&index_builder.emplace(out.index));
  }
  ::lseek(fd, 0, SEEK_SET);
  // Read in big chunks; a line split across chunks is moved to the front of the buffer.
  std::string buf(std::size_t{8} << 20, '\0');
  std::size_t have = 0;       // bytes in buf
  std::size_t buf_start = 0;  // file offset of buf[0]
  std::size_t lineno = 0;
  for (;;) {
    if (have == buf.size()) buf.resize(buf.size() * 2);  // a line longer than the buffer
    ssize_t n = ::read(fd, buf.data() + have, buf.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      out.errors.push_back(
          Diagnostic{name, lineno + 1, "", std::string("cannot read: ") + std::strerror(errno)});
      have = 0;  // what is left unread is not a torn line
      break;
    }
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
    std::string_view data(buf.data(), have);
    std::size_t pos = 0;
    for (;;) {
      std::size_t nl = data.find('\n', pos);
      if (nl == std::string_view::npos) break;
      ++lineno;
      folder.line(data.substr(pos, nl - pos), lineno);
      pos = nl + 1;
    }
    std::memmove(buf.data(), buf.data() + pos, have - pos);
    have -= pos;
    buf_start += pos;
  }
  if (have > 0) {
    // The last line has no newline: a write cut short by a crash (or a hand edit). A line
    // that still parses as a whole record is kept (it may hold a videoPublicId the server
    // really returned; the writer ends it with a newline before its first append). Anything
    // else is a torn tail: ignored here, cut off by the writer on open.
    const std::size_t errors_before = out.errors.size();
    folder.line(std::string_view(buf.data(), have), lineno + 1);
    if (out.errors.size() > errors_before) {
      out.errors.resize(errors_before);
      out.torn_tail = true;
      out.torn_tail_offset = buf_start;
    }
  }
  if (index_builder) {
    index_builder->finish();
  } else {
    out.index.reserve(out.jobs.size());
    for (std::size_t i = 0; i < out.jobs.size(); ++i) out.index.emplace(out.jobs[i].spec.key(), i);
  }
  return out;
}

}  // namespace batchcut
