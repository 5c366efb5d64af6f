// Backoff and the token bucket, on a fake clock: no sockets, no sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>

#include "batchcut/run/policy.hpp"

using namespace batchcut;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

TEST(Backoff, FullJitterStaysUnderTheExponentialCeiling) {
  BackoffPolicy p;  // 0.5 s base, 30 s cap
  EXPECT_EQ(backoff_delay(p, 1, 0.999999), 499ms);
  EXPECT_EQ(backoff_delay(p, 2, 0.999999), 999ms);
  EXPECT_EQ(backoff_delay(p, 3, 0.5), 1000ms);
  EXPECT_EQ(backoff_delay(p, 1, 0.0), 0ms);
}

TEST(Backoff, IsCappedAndNeverOverflows) {
  BackoffPolicy p;
  EXPECT_EQ(backoff_delay(p, 7, 0.999999), 29999ms);  // 0.5 * 64 = 32 s > cap
  EXPECT_EQ(backoff_delay(p, 10000, 0.999999), 29999ms);
  EXPECT_EQ(backoff_delay(p, 10000, 0.5), 15000ms);
}

TEST(Backoff, RetryAfterIsAFloorNotACeiling) {
  BackoffPolicy p;
  EXPECT_EQ(backoff_delay(p, 1, 0.1, milliseconds(5000)), 5000ms);
  // A jittered delay above Retry-After stays.
  EXPECT_EQ(backoff_delay(p, 8, 0.5, milliseconds(1000)), 15000ms);
}

TEST(Backoff, DrawsSpreadOverTheWholeRange) {
  BackoffPolicy p;
  milliseconds lo = 1h, hi = 0ms;
  for (int i = 0; i < 100; ++i) {
    auto d = backoff_delay(p, 4, i / 100.0);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_EQ(lo, 0ms);
  EXPECT_GE(hi, 3900ms);  // ceiling 4 s
}

namespace {
steady_time t0() { return steady_time{} + std::chrono::hours(1); }
}  // namespace

TEST(TokenBucket, UnlimitedNeverWaits) {
  TokenBucket b(0, 1);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(b.reserve(t0()), t0());
}

TEST(TokenBucket, PacesExactlyAtTheRate) {
  TokenBucket b(10, 1);  // one every 100 ms
  std::vector<steady_time> go;
  for (int i = 0; i < 5; ++i) go.push_back(b.reserve(t0()));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(go[i] - t0(), milliseconds(100 * i)) << i;
}

TEST(TokenBucket, BurstLetsTheFirstFewGoAtOnce) {
  TokenBucket b(10, 3);
  EXPECT_EQ(b.reserve(t0()), t0());
  EXPECT_EQ(b.reserve(t0()), t0());
  EXPECT_EQ(b.reserve(t0()), t0());
  EXPECT_EQ(b.reserve(t0()) - t0(), 100ms);
  EXPECT_EQ(b.reserve(t0()) - t0(), 200ms);
}

TEST(TokenBucket, IdleTimeRefillsUpToBurstOnly) {
  TokenBucket b(10, 2);
  b.reserve(t0());
  b.reserve(t0());
  const auto later = t0() + 10s;  // a long idle spell
  EXPECT_EQ(b.reserve(later), later);
  EXPECT_EQ(b.reserve(later), later);
  EXPECT_EQ(b.reserve(later) - later, 100ms);  // not 100 tokens saved up
}

// Simulates callers that always want to go, and checks every window of the schedule.
TEST(TokenBucket, NoWindowExceedsRateTimesLengthPlusBurst) {
  const double rate = 200, burst = 5;
  TokenBucket b(rate, burst);
  std::vector<steady_time> starts;
  steady_time now = t0();
  for (int i = 0; i < 6000; ++i) {
    // Callers arrive in irregular clumps, always behind the schedule.
    if (i % 97 == 0) now += milliseconds(i % 13);
    auto go = b.reserve(now);
    starts.push_back(go);
    now = std::max(now, go - milliseconds(3));
  }
  std::sort(starts.begin(), starts.end());
  std::size_t j = 0;
  for (std::size_t i = 0; i < starts.size(); ++i) {
    while (starts[i] - starts[j] >= 1s) ++j;
    EXPECT_LE(i - j + 1, static_cast<std::size_t>(rate + burst)) << "window ending at " << i;
  }
  // The achieved rate over the whole run is the configured one, within 1 %.
  const double seconds = std::chrono::duration<double>(starts.back() - starts.front()).count();
  EXPECT_NEAR((starts.size() - burst) / seconds, rate, rate * 0.01);
}

TEST(TokenBucket, RateChangeTakesEffectForLaterReservations) {
  TokenBucket b(10, 1);
  EXPECT_EQ(b.reserve(t0()) - t0(), 0ms);
  EXPECT_EQ(b.reserve(t0()) - t0(), 100ms);
  b.set_rate(2);  // one every 500 ms from now on
  EXPECT_EQ(b.reserve(t0()) - t0(), 200ms);  // already owed at the old interval
  EXPECT_EQ(b.reserve(t0()) - t0(), 700ms);
}

TEST(AdaptiveRateTest, HalvesOnThrottleOncePerCooldownAndFloors) {
  AdaptiveRate a(100, 0.02, 1000ms);
  EXPECT_EQ(a.on_throttle(t0()), 50);
  EXPECT_EQ(a.on_throttle(t0() + 10ms), 50);  // the same burst of refusals
  EXPECT_EQ(a.on_throttle(t0() + 1000ms), 25);
  for (int i = 0; i < 20; ++i) a.on_throttle(t0() + std::chrono::seconds(2 + i));
  EXPECT_EQ(a.current(), 2);  // 2 % of the target, never zero
}

TEST(AdaptiveRateTest, ClimbsBackAdditivelyToTheTargetAndNoFurther) {
  AdaptiveRate a(100);
  a.on_throttle(t0());  // 50
  EXPECT_EQ(a.on_success(), 55);
  for (int i = 0; i < 8; ++i) a.on_success();
  EXPECT_EQ(a.current(), 95);
  EXPECT_EQ(a.on_success(), 100);
  EXPECT_EQ(a.on_success(), 100);
}

TEST(AdaptiveRateTest, UnlimitedHasNothingToAdapt) {
  AdaptiveRate a(0);
  EXPECT_FALSE(a.enabled());
  EXPECT_EQ(a.on_throttle(t0()), 0);
  EXPECT_EQ(a.on_success(), 0);
}

TEST(RetryBudgetTest, TwentyPercentOfSlotsAtLeastOne) {
  EXPECT_EQ(RetryBudget(8, 20).limit(), 1);
  EXPECT_EQ(RetryBudget(64, 20).limit(), 12);
  EXPECT_EQ(RetryBudget(1, 20).limit(), 1);
  EXPECT_EQ(RetryBudget(10, 100).limit(), 10);
}

TEST(RetryBudgetTest, AFullBudgetRefusesUntilReleased) {
  RetryBudget b(10, 20);  // 2 slots
  EXPECT_TRUE(b.try_acquire());
  EXPECT_TRUE(b.try_acquire());
  EXPECT_FALSE(b.try_acquire());
  EXPECT_EQ(b.in_use(), 2);
  b.release();
  EXPECT_TRUE(b.try_acquire());
  EXPECT_FALSE(b.try_acquire());
}

TEST(HaltPolicyTest, OffByDefault) {
  HaltPolicy h({}, {});
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(h.record(true));
}

TEST(HaltPolicyTest, TripsAfterNFailures) {
  HaltPolicy h(3, {});
  EXPECT_FALSE(h.record(true));
  EXPECT_FALSE(h.record(false));
  EXPECT_FALSE(h.record(true));
  EXPECT_TRUE(h.record(true));
  EXPECT_NE(h.reason().find("3 failed attempts"), std::string::npos);
  EXPECT_TRUE(h.record(false));  // stays tripped
}

TEST(HaltPolicyTest, RateIsJudgedOverAFullSlidingWindow) {
  HaltPolicy h({}, 0.5, 10);
  for (int i = 0; i < 9; ++i) EXPECT_FALSE(h.record(true)) << i;  // window not full yet
  EXPECT_TRUE(h.record(true));
  EXPECT_NE(h.reason().find("100% of the last 10"), std::string::npos) << h.reason();

  HaltPolicy g({}, 0.5, 10);
  // Alternating 4 failures in 10 never trips; old failures slide out.
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(g.record(i % 5 < 2)) << i;
  // The last ten were F F S S S F F S S S; each new failure pushes out an old entry.
  EXPECT_FALSE(g.record(true));  // pushes out an F: still 4 of 10
  EXPECT_FALSE(g.record(true));  // pushes out an F: still 4 of 10
  EXPECT_TRUE(g.record(true));   // pushes out an S: 5 of 10

}

TEST(Backoff, ARetryAfterOverTheCapIsNotHonoured) {
  using namespace std::chrono_literals;
  BackoffPolicy p;
  p.base = 100ms;
  p.cap = 1000ms;
  p.max_retry_after = 60s;
  EXPECT_EQ(honoured_retry_after(p, 60s), std::optional<std::chrono::milliseconds>(60s));
  EXPECT_FALSE(honoured_retry_after(p, 61s));
  EXPECT_FALSE(honoured_retry_after(p, std::nullopt));
  EXPECT_EQ(backoff_delay(p, 1, 0.5, 30s), 30s);           // a floor, under the cap
  EXPECT_EQ(backoff_delay(p, 1, 0.5, 24h), 50ms);          // over it: the plain backoff
}
