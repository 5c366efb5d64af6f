// Writing a ledger: records are rendered on the caller's thread and handed to a LedgerLog,
// which makes them durable. The real log is a file with group commit (LedgerWriter); the
// simulation test uses one in memory that it can crash at any record.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "batchcut/job/lifecycle.hpp"
#include "batchcut/job/spec.hpp"
#include "batchcut/ledger/ledger.hpp"
#include "batchcut/vod/vod.hpp"

namespace batchcut {

struct LedgerError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Where records go. Appends are ordered; a record is durable once every record before it is.
class LedgerLog {
 public:
  using Seq = std::uint64_t;
  virtual ~LedgerLog() = default;

  // Appends one whole line (ending in '\n'); returns its sequence number (1, 2, ...).
  virtual Seq append(std::string_view line) = 0;
  // Calls `done` once every record up to `seq` is durable (or the log failed), perhaps on
  // another thread, perhaps at once.
  virtual void when_durable(Seq seq, std::function<void()> done) = 0;
  // Blocks until everything appended is durable. Throws LedgerError if the log failed.
  virtual void flush() = 0;
  // Set once a write failed; later appends are dropped and callbacks still run.
  virtual std::optional<std::string> failure() const = 0;
};

// Renders and appends one record (shapes in ledger.hpp).
LedgerLog::Seq append_run(LedgerLog& log, const RunTarget& target);
LedgerLog::Seq append_job(LedgerLog& log, const JobSpec& spec);
// `after` is the job's state once the event is applied (written for people and checked by
// the fold). Interrupted is never written.
LedgerLog::Seq append_event(LedgerLog& log, const JobSpec& spec, const Event& event, JobState after);
LedgerLog::Seq append_vod(LedgerLog& log, const JobSpec& spec, const VodObservation& vod);

enum class LedgerSync { group_commit, none };

// The ledger file. Holds an advisory lock (flock) for its lifetime, so a second writer fails
// at once with LedgerError. Appends are thread-safe and buffered; a background thread writes
// them and fdatasync()s in groups (group commit): while one fdatasync runs, new records pile
// up and share the next one.
class LedgerWriter final : public LedgerLog {
 public:
  // Opens (creating if needed) and locks the ledger. Throws LedgerError when it is locked by
  // another process or on I/O failure.
  static std::unique_ptr<LedgerWriter> open(const std::filesystem::path& path, LedgerSync sync);
  ~LedgerWriter() override;  // flushes and syncs what was appended

  // Cuts a torn last line off the locked ledger (ftruncate + fsync), for the order
  // open -> read_ledger -> repair, which no other process can race. `offset` is
  // LedgerContents::torn_tail_offset; it must be called before any append, and only the
  // last line (no newline from offset to the end) can be cut. Throws LedgerError otherwise.
  // If a torn line is never cut, the first write ends it with a newline instead, so no new
  // record is glued onto it (a later read_ledger then reports that line as an error).
  void truncate_torn_tail(std::size_t offset);

  Seq append(std::string_view line) override;
  void when_durable(Seq seq, std::function<void()> done) override;
  void flush() override;
  std::optional<std::string> failure() const override;

  class Impl;

 private:
  explicit LedgerWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True when another process holds the ledger's lock: a run is writing it now.
bool ledger_in_use(const std::filesystem::path& path);

}  // namespace batchcut
