// Helpers for tests that run the real batchcut binary against the real emulator over TLS.
#pragma once

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "batchcut/emulator/emulator.hpp"
#include "batchcut/ledger/ledger.hpp"
#include "support.hpp"

namespace batchcut::test {

inline constexpr const char* api_key = "resilience-key";
// The environment that hands batchcut the emulator's key.
inline const std::vector<std::string> key_env{std::string("VP_API_KEY=") + api_key};

// `n` jobs over proj1's (or `project`'s) videos lv0.., each a millisecond range.
std::string manifest_csv(int n, const std::string& project = "proj1");

// An emulator on 127.0.0.1:0 with a self-signed CA written to dir/ca.pem, `videos` live
// videos in proj1, and a record of every request in dir/record.jsonl.
EmulatorOptions tls_options(const TempDir& dir, int videos);

// `batchcut VERB TARGET` against `e`, unpaced, 16 at a time, plus `extra`.
std::vector<std::string> run_args(const std::string& verb, const std::filesystem::path& target,
                                  const Emulator& e, const TempDir& dir,
                                  std::vector<std::string> extra = {});

// The guarantees every test ends with: each job final as succeeded or in_doubt, no live
// video cut twice, and every id the emulator delivered is in the ledger under its job.
// With `unread_ids_in_doubt`, an id the emulator wrote but the client never read (it was
// killed, or had given up waiting a moment before) may be missing, but only for a job the
// ledger honestly calls in_doubt.
void expect_nothing_lost_nothing_twice(Emulator& emulator, const std::filesystem::path& ledger_path,
                                       std::size_t jobs, bool unread_ids_in_doubt);


// Runs batchcut as a child and sends it `signals` (in order) from the emulator's thread
// as request number `at` arrives.
struct SignalledRun {
  std::atomic<int> pid{-1};
  std::atomic<std::uint64_t> at{0};
  std::vector<int> signals;
  void on_request(std::uint64_t n);
  ProcessResult run(const std::vector<std::string>& args, const TempDir& dir);
};

std::size_t count_state(const LedgerContents& l, JobState s);

}  // namespace batchcut::test
