// The runner's promises over thousands of random histories (see simulation.hpp).
//   BATCHCUT_SIM_SEEDS=N     how many seeds (default 10000, about 6 s; CI runs the default)
//   BATCHCUT_SIM_FIRST=S     the first seed (default 1)
//   BATCHCUT_SIM_SEED=S      replay one seed and print its whole trace
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include "simulation.hpp"

using namespace batchcut::sim;

namespace {

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

std::string report(std::uint64_t seed, const Result& r) {
  std::string s = "seed " + std::to_string(seed) + " broke a promise (replay: BATCHCUT_SIM_SEED=" +
                  std::to_string(seed) + " ./sim_tests):\n";
  for (const auto& v : r.violations) s += "  " + v + "\n";
  return s + "trace:\n" + r.trace;
}

}  // namespace

TEST(Simulation, EveryHistoryKeepsThePromises) {
  if (const char* one = std::getenv("BATCHCUT_SIM_SEED"); one && *one) {
    const std::uint64_t seed = std::strtoull(one, nullptr, 10);
    const Result r = run_history({seed, true, true});
    ASSERT_TRUE(r.ok) << report(seed, r);
    return;
  }
  const std::uint64_t first = env_number("BATCHCUT_SIM_FIRST", 1);
  const std::uint64_t count = env_number("BATCHCUT_SIM_SEEDS", 10000);
  Result total;
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    const Result r = run_history({seed, false});
    if (!r.ok) {
      const Result traced = run_history({seed, true});  // the same history, with its trace
      FAIL() << report(seed, traced);
    }
    total.runs += r.runs;
    total.crashes += r.crashes;
    total.early_stops += r.early_stops;
    total.blind_runs += r.blind_runs;
    total.cuts_sent += r.cuts_sent;
    total.reads_sent += r.reads_sent;
    total.ids_delivered += r.ids_delivered;
    total.recovered += r.recovered;
    for (const auto& [state, n] : r.final_states) total.final_states[state] += n;
  }
  std::cout << count << " histories: " << total.runs << " runs, " << total.crashes << " crashes, "
            << total.early_stops << " early stops, " << total.blind_runs << " blind runs, "
            << total.cuts_sent << " cuts and " << total.reads_sent << " reads sent, "
            << total.ids_delivered << " ids delivered, " << total.recovered
            << " found again by a lookup; final states:";
  for (const auto& [state, n] : total.final_states) std::cout << " " << n << " " << state;
  std::cout << "\n";
  // The histories must really exercise what they claim to (a generator that never crashed
  // would prove nothing).
  EXPECT_GT(total.crashes, static_cast<int>(count / 10));
  EXPECT_GT(total.early_stops, static_cast<int>(count / 10));
  EXPECT_GT(total.blind_runs, 0);
  EXPECT_GT(total.final_states["succeeded"], 0);
  EXPECT_GT(total.final_states["in_doubt"], 0);
  EXPECT_GT(total.final_states["failed"], 0);
  // Clips, and lookups that recover lost ids, of clips and of stop-and-cuts alike.
  EXPECT_GT(total.final_states["clip succeeded"], 0);
  EXPECT_GT(total.final_states["clip in_doubt"], 0);
  EXPECT_GT(total.recovered, 0);
}

// The same seed plays the same history: a failing seed can be replayed.
TEST(Simulation, ASeedReplaysTheSameHistory) {
  const Result a = run_history({42, true});
  const Result b = run_history({42, true});
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_FALSE(a.trace.empty());
}
