// Time as the runner sees it. A real run uses steady_clock and Asio timers. The simulation
// test installs a SimulatedClock on its thread; then now() is the simulation's time and every
// timer is an event in its queue, so a history of hours runs in microseconds, the same for
// the same seed.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>

namespace batchcut {

using steady_time = std::chrono::steady_clock::time_point;

class SimulatedClock;

struct RunClock {
  static steady_time now();
};

// A timer several coroutines may wait on. Like an Asio timer, re-arming or cancelling it
// wakes every waiter with false.
class RunTimer {
 public:
  explicit RunTimer(boost::asio::any_io_executor executor);
  ~RunTimer();
  RunTimer(const RunTimer&) = delete;
  RunTimer& operator=(const RunTimer&) = delete;

  void expires_at(steady_time when);
  void expires_after(std::chrono::nanoseconds d) { expires_at(RunClock::now() + d); }
  steady_time expiry() const { return expiry_; }
  // True when the expiry was reached, false when the timer was cancelled or re-armed first.
  boost::asio::awaitable<bool> wait();
  void cancel();

 private:
  using Handler = boost::asio::any_completion_handler<void(bool)>;
  void cancel_sim_waits();

  boost::asio::any_io_executor executor_;
  SimulatedClock* sim_;
  std::optional<boost::asio::steady_timer> real_;  // unless simulated
  steady_time expiry_ = steady_time::max();
  // Simulated waits: each is an event in the clock, which owns the waiter's handler (so a
  // coroutine that waits on a timer of its own is destroyed with the clock's events).
  struct SimWait {
    std::uint64_t event;
    std::weak_ptr<Handler> handler;
  };
  std::list<SimWait> sim_waits_;
};

// A simulated steady clock, installed for the thread that constructs it until destroyed.
class SimulatedClock {
 public:
  explicit SimulatedClock(steady_time start = steady_time{} + std::chrono::hours(1));
  ~SimulatedClock();
  SimulatedClock(const SimulatedClock&) = delete;
  SimulatedClock& operator=(const SimulatedClock&) = delete;

  steady_time now() const { return now_; }
  // Runs `f` when the clock reaches `when` (at once, on the next advance, if it already has).
  // Returns an id for cancel().
  std::uint64_t at(steady_time when, std::function<void()> f);
  void cancel(std::uint64_t id);
  // Moves the clock to the earliest pending event and runs every event due by then.
  // Returns false when nothing is pending.
  bool advance();
  bool idle() const { return events_.empty(); }
  // Drops every pending event unrun (what they own goes with them).
  void clear();
  steady_time next_event() const;

  static SimulatedClock* installed();

 private:
  steady_time now_;
  std::uint64_t next_id_ = 1;
  std::multimap<steady_time, std::pair<std::uint64_t, std::function<void()>>> events_;
  std::map<std::uint64_t, steady_time> when_;  // id -> time, for cancel
  SimulatedClock* previous_;
};

}  // namespace batchcut
