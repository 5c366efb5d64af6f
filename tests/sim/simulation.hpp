// A deterministic simulation of batchcut against a model of the API, in the style of
// FoundationDB's and TigerBeetle's simulators. One seed drives everything: the server's
// answers and faults, latencies, late requests, 401s, the ledger's fsyncs, crashes at any
// ledger record (and at random moments), and early stops (deadline, signal, halt, forced).
// The real Runner, lifecycle, record rendering, ledger fold and run planning are used; only
// the clock, the transport and the ledger's disk are simulated. No sockets, threads or sleeps.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace batchcut::sim {

struct Settings {
  std::uint64_t seed = 1;
  bool trace = false;  // keep a trace of everything (printed for a failing seed)
  bool echo = false;   // also print each trace line as it happens (replaying one seed)
};

struct Result {
  bool ok = true;
  std::vector<std::string> violations;
  std::string trace;
  // What the history did, for the test's own sanity checks.
  int runs = 0, crashes = 0, early_stops = 0, blind_runs = 0;
  int cuts_sent = 0, reads_sent = 0, ids_delivered = 0, ids_lost_in_crash = 0;
  int recovered = 0;  // succeeded jobs (checked after each run) whose id a lookup found
  std::map<std::string, int> final_states;  // state name -> jobs, after the last run
};

// Plays one whole history: several runs over one manifest and one ledger, then a last clean
// run, checking the invariants after every run.
Result run_history(const Settings& settings);

}  // namespace batchcut::sim
