#include "batchcut/run/clock.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace batchcut {

namespace asio = boost::asio;

namespace {
thread_local SimulatedClock* installed_clock = nullptr;
}

steady_time RunClock::now() {
  return installed_clock ? installed_clock->now() : std::chrono::steady_clock::now();
}

// ---- RunTimer ----

RunTimer::RunTimer(asio::any_io_executor executor) : executor_(executor), sim_(installed_clock) {
  if (!sim_) real_.emplace(executor);
}

RunTimer::~RunTimer() {
  if (sim_)
    for (auto& w : sim_waits_) sim_->cancel(w.event);
}

void RunTimer::expires_at(steady_time when) {
  expiry_ = when;
  if (sim_)
    cancel_sim_waits();
  else
    real_->expires_at(when);  // cancels its waiters
}

void RunTimer::cancel() {
  if (sim_)
    cancel_sim_waits();
  else
    real_->cancel();
}

void RunTimer::cancel_sim_waits() {
  auto waits = std::move(sim_waits_);
  sim_waits_.clear();
  for (auto& w : waits) {
    auto handler = w.handler.lock();
    if (handler)
      asio::post(executor_, [h = std::move(*handler)]() mutable { std::move(h)(false); });
    sim_->cancel(w.event);
  }
}

asio::awaitable<bool> RunTimer::wait() {
  if (!sim_) {
    auto [ec] = co_await real_->async_wait(asio::as_tuple(asio::use_awaitable));
    co_return !ec;
  }
  auto initiate = [this](Handler handler) {
    auto owned = std::make_shared<Handler>(std::move(handler));
    auto it = sim_waits_.insert(sim_waits_.end(), SimWait{0, owned});
    it->event = sim_->at(expiry_, [this, it, owned]() {
      sim_waits_.erase(it);
      asio::post(executor_, [h = std::move(*owned)]() mutable { std::move(h)(true); });
    });
  };
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(initiate,
                                                                                    asio::use_awaitable);
}

// ---- SimulatedClock ----

SimulatedClock::SimulatedClock(steady_time start) : now_(start), previous_(installed_clock) {
  installed_clock = this;
}

SimulatedClock::~SimulatedClock() {
  clear();
  installed_clock = previous_;
}

void SimulatedClock::clear() {
  // Moved out first: destroying an event may destroy a timer that cancels its own events.
  auto events = std::move(events_);
  events_.clear();
  when_.clear();
}

SimulatedClock* SimulatedClock::installed() { return installed_clock; }

std::uint64_t SimulatedClock::at(steady_time when, std::function<void()> f) {
  const std::uint64_t id = next_id_++;
  when = std::max(when, now_);
  events_.emplace(when, std::make_pair(id, std::move(f)));
  when_.emplace(id, when);
  return id;
}

void SimulatedClock::cancel(std::uint64_t id) {
  auto w = when_.find(id);
  if (w == when_.end()) return;
  auto [first, last] = events_.equal_range(w->second);
  for (auto it = first; it != last; ++it) {
    if (it->second.first == id) {
      events_.erase(it);
      break;
    }
  }
  when_.erase(w);
}

steady_time SimulatedClock::next_event() const {
  return events_.empty() ? steady_time::max() : events_.begin()->first;
}

bool SimulatedClock::advance() {
  if (events_.empty()) return false;
  now_ = std::max(now_, events_.begin()->first);
  // Events in time order; one may schedule another for now, which runs in this pass too.
  while (!events_.empty() && events_.begin()->first <= now_) {
    auto node = events_.extract(events_.begin());
    when_.erase(node.mapped().first);
    node.mapped().second();
  }
  return true;
}

}  // namespace batchcut
