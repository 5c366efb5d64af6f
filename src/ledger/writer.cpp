// The ledger writer: serializes records on the caller's thread, queues them in memory,
// and lets one background thread write and fdatasync them in groups (group commit).
//
// Why group commit: one fdatasync per record caps a run at a few hundred records/s on real
// disks. Here, while one fdatasync runs, new appends pile up in the buffer and go out
// together in the next write+fdatasync, so the cost of a sync is shared by everything that
// arrived during the previous one.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <variant>

#include "batchcut/ledger/writer.hpp"
#include "batchcut/util/time_util.hpp"

namespace batchcut {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Owns a file descriptor until released.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

LedgerError io_error(const std::string& name, const std::string& what) {
  return LedgerError("ledger " + name + ": " + what + ": " + errno_text(errno));
}

bool preceded_by_newline(int fd, std::size_t offset) {
  char c = 0;
  return ::pread(fd, &c, 1, static_cast<off_t>(offset - 1)) == 1 && c == '\n';
}

// ---- serialization: hand-built lines, no intermediate JSON values on the hot path ----

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xF];
    }
  }
  out.append(s.data() + run, s.size() - run);
  // Bytes >= 0x80 go through unchanged: UTF-8 stays UTF-8, and should a label hold invalid
  // UTF-8 the reader accepts it (allow_invalid_utf8), so no byte of it is lost.
  out += '"';
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_digits(char*& p, unsigned v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  p += width;
}

// A "ts": UTC, millisecond precision: 2024-05-23T20:09:29.810Z.
void append_time(std::string& out, std::chrono::sys_time<std::chrono::milliseconds> now) {
  using namespace std::chrono;
  auto day = floor<days>(now);
  year_month_day ymd{day};
  hh_mm_ss hms{now - day};
  char buf[32];
  char* p = buf;
  *p++ = '"';
  append_digits(p, static_cast<unsigned>(static_cast<int>(ymd.year())), 4);
  *p++ = '-';
  append_digits(p, static_cast<unsigned>(ymd.month()), 2);
  *p++ = '-';
  append_digits(p, static_cast<unsigned>(ymd.day()), 2);
  *p++ = 'T';
  append_digits(p, static_cast<unsigned>(hms.hours().count()), 2);
  *p++ = ':';
  append_digits(p, static_cast<unsigned>(hms.minutes().count()), 2);
  *p++ = ':';
  append_digits(p, static_cast<unsigned>(hms.seconds().count()), 2);
  *p++ = '.';
  append_digits(p, static_cast<unsigned>(hms.subseconds().count()), 3);
  *p++ = 'Z';
  *p++ = '"';
  out.append(buf, p);
}

void append_now(std::string& out) {
  append_time(out, std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now()));
}

// {"type":"T","ts":"..","projectId":"..","liveVideoId":"..   (the common prefix), and for a
// clip ,"kind":"clip" and its clipId, or its title when it has none: the job's identity.
// `at_ms`: the record's time (Unix ms); 0: now.
void begin_record(std::string& out, std::string_view type, const JobSpec& spec, std::int64_t at_ms = 0) {
  out.clear();
  out += "{\"type\":\"";
  out += type;
  out += "\",\"ts\":";
  if (at_ms != 0)
    append_time(out, std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(at_ms)));
  else
    append_now(out);
  out += ",\"projectId\":";
  append_json_string(out, spec.project_id);
  out += ",\"liveVideoId\":";
  append_json_string(out, spec.live_video_id);
  if (spec.kind == JobKind::clip) {
    out += ",\"kind\":\"clip\"";
    if (!spec.clip_id.empty()) {
      out += ",\"clipId\":";
      append_json_string(out, spec.clip_id);
    } else {
      out += ",\"title\":";
      append_json_string(out, spec.title);
    }
  }
}

// Each appending thread builds its lines in its own reused buffer.
std::string& line_buffer() {
  thread_local std::string buf;
  return buf;
}

}  // namespace

class LedgerWriter::Impl {
 public:
  Impl(std::filesystem::path path, int fd, LedgerSync sync, bool tail_unterminated)
      : path_(std::move(path)), fd_(fd), sync_(sync), tail_unterminated_(tail_unterminated) {
    thread_ = std::thread([this] { run(); });
  }

  ~Impl() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    work_cv_.notify_one();
    thread_.join();  // the thread drains the buffer before it exits
    ::close(fd_);
  }

  Seq append(std::string_view line) {
    Seq seq;
    bool wake = false;
    {
      std::lock_guard lk(mu_);
      seq = ++appended_;
      if (failure_) {
        // Nothing more can be written; let waiters go (they check failure()).
        durable_ = appended_;
        return seq;
      }
      buf_ += line;
      wake = buf_.size() >= kEagerBytes && !writer_busy_;
    }
    // Appends do not wake the writer one by one: whoever needs a record on disk asks for it
    // (when_durable, flush), so one signal carries a whole burst of records. A large
    // backlog is written anyway, to bound memory.
    if (wake) work_cv_.notify_one();
    return seq;
  }

  void when_durable(Seq seq, std::function<void()> done) {
    bool already = false, wake = false;
    {
      std::lock_guard lk(mu_);
      if (seq <= durable_) {
        already = true;
      } else {
        callbacks_.emplace(seq, std::move(done));
        wake = !writer_busy_;  // a busy writer looks at the buffer again when it is done
      }
    }
    if (already) done();
    if (wake) work_cv_.notify_one();
  }

  void flush() {
    std::unique_lock lk(mu_);
    if (std::this_thread::get_id() != thread_.get_id()) {
      Seq target = appended_;
      work_cv_.notify_one();  // appends do not wake the writer; this asks for them
      durable_cv_.wait(lk, [&] { return durable_ >= target; });
    }
    if (failure_) throw LedgerError(*failure_);
  }

  std::optional<std::string> failure() const {
    std::lock_guard lk(mu_);
    return failure_;
  }

  void truncate_torn_tail(std::size_t offset) {
    std::lock_guard lk(mu_);
    if (appended_ > 0)
      throw LedgerError("ledger " + path_.string() +
                        ": a torn line can only be cut before anything is appended");
    // Only a file that is provably a batchcut ledger is ever cut: one that begins with a
    // ledger header, whole, or (a crash while the first line was written) torn. Any other
    // file with an unterminated line (the wrong --ledger, say) is someone else's.
    if (!starts_with_header(fd_, offset == 0))
      throw LedgerError("ledger " + path_.string() +
                        ": refusing to cut its unfinished last line: the file does not begin with a batchcut "
                        "ledger header (is this the right file? if batchcut crashed while creating it, delete it)");
    cut_torn_tail(fd_, path_.string(), offset);
    tail_unterminated_ = false;
  }

  // Whether the file begins with a ledger header, the "run" record every ledger starts with
  // (append_run): whole and newline-terminated, or, when `torn` (the file is one unfinished
  // line), as much of one as a crash left: a beginning of it, shorter than any real line.
  static bool starts_with_header(int fd, bool torn) {
    constexpr std::string_view head = "{\"type\":\"run\",";
    std::string first(64 * 1024, '\0');
    const ssize_t n = ::pread(fd, first.data(), first.size(), 0);
    if (n <= 0) return false;
    first.resize(static_cast<std::size_t>(n));
    if (torn)
      return first.size() < 4096 && (first.starts_with(head) || head.starts_with(first)) &&
             first.find('\n') == std::string::npos;
    return first.starts_with(head) && first.find('\n') != std::string::npos;
  }

  // Cuts the file at `offset`, but only if what follows is one unterminated line: a stale
  // or wrong offset must never cut complete records.
  static void cut_torn_tail(int fd, const std::string& name, std::size_t offset) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw io_error(name, "cannot stat");
    auto size = static_cast<std::size_t>(st.st_size);
    if (offset > size)
      throw LedgerError("ledger " + name + ": cannot cut a torn line at offset " +
                        std::to_string(offset) + ": the file has only " + std::to_string(size) +
                        " bytes (was it changed since it was read?)");
    std::string tail(size - offset, '\0');
    std::size_t got = 0;
    while (got < tail.size()) {
      ssize_t n = ::pread(fd, tail.data() + got, tail.size() - got,
                          static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw io_error(name, "cannot read");
      got += static_cast<std::size_t>(n);
    }
    if (tail.find('\n') != std::string::npos || (offset > 0 && !preceded_by_newline(fd, offset)))
      throw LedgerError("ledger " + name + ": refusing to cut at offset " +
                        std::to_string(offset) +
                        ": that is not where a torn last line starts (was it changed since "
                        "it was read?)");
    // At the end of a file that ends with a newline there is nothing to cut. (The end of a
    // file whose last record has no newline is refused above: the caller would then take
    // the tail for terminated, and the next append would be glued onto that record.)
    if (offset == size) return;
    if (::ftruncate(fd, static_cast<off_t>(offset)) != 0) throw io_error(name, "cannot truncate");
    if (::fsync(fd) != 0) throw io_error(name, "cannot sync");
  }

 private:
  void run() {
    std::string batch;
    std::vector<std::function<void()>> ready;
    std::unique_lock lk(mu_);
    for (;;) {
      writer_busy_ = false;
      work_cv_.wait(lk, [&] { return stop_ || !buf_.empty(); });
      if (buf_.empty()) break;  // stopping, and everything is written
      writer_busy_ = true;
      batch.swap(buf_);
      Seq upto = appended_;
      bool terminate_tail = std::exchange(tail_unterminated_, false);
      lk.unlock();

      std::optional<std::string> err;
      if (terminate_tail) err = write_all("\n");  // never glue a record onto a torn line
      if (!err) err = write_all(batch);
      if (!err && sync_ == LedgerSync::group_commit && ::fdatasync(fd_) != 0)
        err = "ledger " + path_.string() + ": fdatasync failed: " + errno_text(errno);
      batch.clear();  // keeps its capacity for the next swap

      lk.lock();
      if (err && !failure_) failure_ = std::move(err);
      if (failure_) {
        buf_.clear();  // dropped: cannot be made durable
        upto = appended_;
      }
      durable_ = std::max(durable_, upto);
      auto end = callbacks_.upper_bound(durable_);
      for (auto it = callbacks_.begin(); it != end; ++it) ready.push_back(std::move(it->second));
      callbacks_.erase(callbacks_.begin(), end);
      durable_cv_.notify_all();
      if (!ready.empty()) {
        lk.unlock();
        for (auto& f : ready) {
          try {
            f();
          } catch (...) {
            // A throwing callback must not kill the writer thread (and the process).
          }
        }
        ready.clear();
        lk.lock();
      }
    }
  }

  std::optional<std::string> write_all(std::string_view data) {
    const char* p = data.data();
    std::size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return "ledger " + path_.string() + ": write failed: " + errno_text(errno);
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    return std::nullopt;
  }

  const std::filesystem::path path_;
  const int fd_;
  const LedgerSync sync_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;     // the writer thread waits for a request or stop
  bool writer_busy_ = false;            // writing a batch: it checks the buffer again after
  static constexpr std::size_t kEagerBytes = std::size_t{1} << 20;  // write a backlog this big unasked
  std::condition_variable durable_cv_;  // flush() waits for durable_ to advance
  std::string buf_;                     // serialized records not yet handed to write(2)
  Seq appended_ = 0;                    // the last seq handed out
  Seq durable_ = 0;                     // every seq <= this is durable (or dropped on failure)
  std::multimap<Seq, std::function<void()>> callbacks_;
  std::optional<std::string> failure_;
  bool tail_unterminated_;  // the file ends in a torn line nobody has cut yet
  bool stop_ = false;
  std::thread thread_;  // last: started once everything above is initialized
};

std::unique_ptr<LedgerWriter> LedgerWriter::open(const std::filesystem::path& path, LedgerSync sync) {
  const std::string name = path.string();
  auto fail = [&](const std::string& what) -> LedgerError {
    return LedgerError("ledger " + name + ": " + what + ": " + errno_text(errno));
  };

  // Create the file only if it is missing, so we know whether the directory entry is new.
  // Never through a symbolic link: appending to (or cutting) whatever a link points at
  // could destroy an unrelated file. A new ledger is the user's alone (0600): it names
  // the streams and the API's answers.
  Fd fd;
  bool created = false;
  const auto refuse_link = [&] {
    return LedgerError("ledger " + name +
                       " is a symbolic link; batchcut writes its ledger only to a regular file, never through "
                       "a link (give the real path with --ledger)");
  };
  for (;;) {
    fd.fd = ::open(name.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (fd.fd >= 0) break;
    if (errno == ELOOP) throw refuse_link();
    if (errno != ENOENT) throw fail("cannot open");
    fd.fd = ::open(name.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (fd.fd < 0 && errno == ELOOP) throw refuse_link();  // a dangling link: O_EXCL says EEXIST or ELOOP
    if (fd.fd >= 0) {
      created = true;
      break;
    }
    if (errno != EEXIST) throw fail("cannot create");
  }

  if (::flock(fd.fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      throw LedgerError("ledger " + name + " is in use by another batchcut run (locked)");
    throw fail("cannot lock");
  }

  if (created) {
    // Make the new directory entry itself durable.
    std::filesystem::path dir = path.parent_path();
    if (dir.empty()) dir = ".";
    Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd.fd < 0 || ::fsync(dfd.fd) != 0) throw fail("cannot sync directory " + dir.string());
  }

  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) throw fail("cannot stat");
  if (!S_ISREG(st.st_mode))
    throw LedgerError("ledger " + name + " is not a regular file; batchcut writes its ledger only to one");
  bool tail_unterminated = st.st_size > 0 && !preceded_by_newline(fd.fd, static_cast<std::size_t>(st.st_size));

  auto impl = std::make_unique<Impl>(path, fd.fd, sync, tail_unterminated);
  fd.release();
  return std::unique_ptr<LedgerWriter>(new LedgerWriter(std::move(impl)));
}

LedgerWriter::LedgerWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LedgerWriter::~LedgerWriter() = default;

void LedgerWriter::truncate_torn_tail(std::size_t offset) { impl_->truncate_torn_tail(offset); }

LedgerLog::Seq LedgerWriter::append(std::string_view line) { return impl_->append(line); }

void LedgerWriter::when_durable(Seq seq, std::function<void()> done) {
  impl_->when_durable(seq, std::move(done));
}

void LedgerWriter::flush() { impl_->flush(); }

std::optional<std::string> LedgerWriter::failure() const { return impl_->failure(); }

bool ledger_in_use(const std::filesystem::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0) return false;
  // A shared lock is refused while a writer holds its exclusive one.
  if (::flock(fd.fd, LOCK_SH | LOCK_NB) == 0) return false;
  return errno == EWOULDBLOCK;
}

// ---- rendering: hand-built lines, no intermediate JSON values on the hot path ----

LedgerLog::Seq append_run(LedgerLog& log, const RunTarget& target) {
  std::string& out = line_buffer();
  out.clear();
  out += "{\"type\":\"run\",\"ts\":";
  append_now(out);
  out += ",\"format\":";
  append_int(out, ledger_format);
  out += ",\"baseUrl\":";
  append_json_string(out, target.base_url);
  out += ",\"authScheme\":";
  append_json_string(out, target.auth_scheme);
  out += ",\"caFile\":";
  if (target.ca_file)
    append_json_string(out, *target.ca_file);
  else
    out += "null";
  out += ",\"tool\":\"batchcut " BATCHCUT_VERSION "\"";
  if (target.shard) {
    out += ",\"shard\":";
    append_json_string(out, to_string(*target.shard));
  }
  out += "}\n";
  return log.append(out);
}

LedgerLog::Seq append_job(LedgerLog& log, const JobSpec& spec) {
  std::string& out = line_buffer();
  begin_record(out, "job", spec);
  out += ",\"videoVisibilityOptionId\":";
  append_int(out, static_cast<int>(spec.visibility));
  if (spec.range == RangeKind::ms) {
    out += ",\"fromMilisecond\":";
    append_int(out, spec.from_ms);
    out += ",\"toMilisecond\":";
    append_int(out, spec.to_ms);
  } else {
    out += ",\"fromMilisecond\":null,\"toMilisecond\":null";
  }
  if (spec.range == RangeKind::datetime) {
    out += ",\"dateTimeFrom\":";
    append_json_string(out, format_iso8601(spec.from_time));
    out += ",\"dateTimeTo\":";
    append_json_string(out, format_iso8601(spec.to_time));
  } else {
    out += ",\"dateTimeFrom\":null,\"dateTimeTo\":null";
  }
  out += ",\"label\":";
  append_json_string(out, spec.label);
  if (spec.kind == JobKind::clip && !spec.clip_id.empty()) {  // the prefix has the clipId
    out += ",\"title\":";
    append_json_string(out, spec.title);
  }
  out += "}\n";
  return log.append(out);
}

namespace {

void append_op(std::string& out, Op op, int attempt) {
  out += ",\"op\":\"";
  out += to_string(op);
  out += "\",\"attempt\":";
  append_int(out, attempt);
}

void append_verdict(std::string& out, const char* verdict) {
  out += ",\"verdict\":\"";
  out += verdict;
  out += '"';
}

void append_optional_id(std::string& out, std::string_view id) {
  out += ",\"videoPublicId\":";
  if (id.empty())
    out += "null";
  else
    append_json_string(out, id);
}

// Durations in seconds, as the API gives them: shortest round-trip form, null when unknown.
void append_seconds(std::string& out, const std::optional<double>& s) {
  if (!s) {
    out += "null";
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, *s);
  out.append(buf, r.ptr);
}

void append_answer_tail(std::string& out, int http_status, std::string_view error,
                        std::int64_t elapsed_ms) {
  out += ",\"httpStatus\":";
  append_int(out, http_status);
  out += ",\"error\":";
  append_json_string(out, error);
  out += ",\"elapsedMs\":";
  append_int(out, elapsed_ms);
}

}  // namespace

LedgerLog::Seq append_event(LedgerLog& log, const JobSpec& spec, const Event& event, JobState after) {
  std::string& out = line_buffer();
  const auto* dispatch = std::get_if<Dispatch>(&event);
  begin_record(out, to_string(event), spec, dispatch ? dispatch->at_ms : 0);
  std::visit(
      [&out](const auto& e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, Dispatch>) {
          append_op(out, e.op, e.attempt);
          if (e.blind) out += ",\"blind\":true";
        } else if constexpr (std::is_same_v<E, Withdraw>) {
          append_op(out, Op::cut, e.attempt);
        } else if constexpr (std::is_same_v<E, CutAnswer>) {
          append_op(out, Op::cut, e.attempt);
          append_verdict(out, to_string(e.verdict));
          append_optional_id(out, e.video_public_id);
          append_answer_tail(out, e.http_status, e.error, e.elapsed_ms);
          out += ",\"messages\":[";
          for (std::size_t i = 0; i < e.messages.size(); ++i) {
            if (i) out += ',';
            append_json_string(out, e.messages[i]);
          }
          out += ']';
        } else if constexpr (std::is_same_v<E, ReadAnswer>) {
          append_op(out, Op::read, e.attempt);
          append_verdict(out, to_string(e.verdict));
          append_answer_tail(out, e.http_status, e.error, e.elapsed_ms);
          if (!e.live_title.empty()) {
            out += ",\"liveTitle\":";
            append_json_string(out, e.live_title);
          }
        } else if constexpr (std::is_same_v<E, LookupAnswer>) {
          append_op(out, Op::lookup, e.attempt);
          append_verdict(out, to_string(e.verdict));
          append_optional_id(out, e.video_public_id);
          out += ",\"candidates\":";
          append_int(out, e.candidates);
          append_answer_tail(out, e.http_status, e.error, e.elapsed_ms);
        } else if constexpr (std::is_same_v<E, GiveUp>) {
          out += ",\"error\":";
          append_json_string(out, e.why);
        } else if constexpr (std::is_same_v<E, Reopen>) {
        } else {
          static_assert(std::is_same_v<E, Interrupted>);
          throw std::logic_error("Interrupted is never written to a ledger");
        }
      },
      event);
  if (record_names_state(event)) {
    out += ",\"state\":\"";
    out += to_string(after);
    out += '"';
  }
  out += "}\n";
  return log.append(out);
}

LedgerLog::Seq append_vod(LedgerLog& log, const JobSpec& spec, const VodObservation& vod) {
  std::string& out = line_buffer();
  begin_record(out, "vod", spec);
  append_optional_id(out, vod.video_public_id);
  out += ",\"publishStatus\":\"";
  out += to_string(vod.status);
  out += "\",\"duration\":";
  append_seconds(out, vod.duration_s);
  out += ",\"expectedDuration\":";
  append_seconds(out, vod.expected_s);
  out += vod.duration_mismatch ? ",\"durationMismatch\":true" : ",\"durationMismatch\":false";
  out += ",\"httpStatus\":";
  append_int(out, vod.http_status);
  out += ",\"error\":";
  append_json_string(out, vod.error);
  out += "}\n";
  return log.append(out);
}

}  // namespace batchcut
