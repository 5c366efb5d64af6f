// Backoff and the token bucket, on a fake clock: no sockets, no sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>

#include "batchcut/policy.hpp"

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
