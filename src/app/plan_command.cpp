// `plan`: a run's decisions without the run, and how long it would take.
#include <algorithm>
#include <cmath>
#include <ostream>

#include "app/common.hpp"
#include "batchcut/ops/progress.hpp"
#include "batchcut/run/plan.hpp"
#include "batchcut/util/plural.hpp"

namespace batchcut::app_detail {

using std::chrono::milliseconds;

int print_plan(const RunCommand& c, const Plan& plan, const std::string& base_url,
               std::optional<std::chrono::system_clock::time_point> deadline, std::ostream& out,
               std::ostream& err) {
  std::size_t kept = 0;
  for (const auto& [s, n] : plan.kept) kept += n;
  out << "plan: " << counted(plan.total, "job") << " against " << base_url << "\n";
  out << "  send     " << plan.todo.size() << "  (" << plan.changed << " changed since the ledger recorded them, "
      << plan.read_first << " read back first)\n";
  out << "  skip     " << kept << "  (settled in the ledger already:";
  const char* sep = " ";
  for (auto s : all_job_states) {
    auto it = plan.kept.find(s);
    if (it == plan.kept.end() || it->second == 0) continue;
    out << sep << it->second << " " << to_string(s);
    sep = ", ";
  }
  out << (kept ? ")\n" : " none)\n");
  out << "  refuse   " << plan.refused.size() << "\n";
  if (!plan.refused.empty()) {
    print_diagnostics(plan.refused, err);
    out << "  a run would send nothing until the refused jobs are fixed (or --allow-changed where allowed)\n";
    return exit_usage;
  }

  // Requests go out at the rate limit, or as fast as `concurrency` round trips allow,
  // whichever is slower. Retries are not foreseen: each costs one more request.
  const double latency = std::max(c.expected_latency_seconds, 0.001);
  const double by_concurrency = static_cast<double>(c.concurrency) / latency;
  const double throughput = c.rate > 0 ? std::min(c.rate, by_concurrency) : by_concurrency;
  const double requests = static_cast<double>(plan.todo.size() + plan.read_first);
  double seconds = plan.todo.empty() ? 0.0 : requests / throughput + latency;
  if (plan.read_first) seconds += c.reconcile_delay_seconds;
  const auto estimate = milliseconds(static_cast<long long>(std::ceil(seconds * 1000)));
  out << "  estimate " << duration_text(estimate) << " for " << static_cast<std::size_t>(requests)
      << " requests at " << throughput << "/s (" << (c.rate > 0 && c.rate <= by_concurrency ? "the --rate" : "--concurrency " + std::to_string(c.concurrency) + " over a "
      + std::to_string(latency).substr(0, 4) + " s round trip") << "; retries add to it)\n";
  if (!deadline) return exit_ok;
  const auto left = std::chrono::duration_cast<milliseconds>(*deadline - std::chrono::system_clock::now());
  if (estimate <= left) {
    out << "  deadline fits: " << duration_text(left) << " left, " << duration_text(left - estimate) << " to spare\n";
    return exit_ok;
  }
  out << "  deadline MISSED by " << duration_text(estimate - left) << " (" << duration_text(left) << " left)";
  const double window = static_cast<double>(left.count()) / 1000.0 - latency - (plan.read_first ? c.reconcile_delay_seconds : 0.0);
  if (window > 0) {
    const double need = requests / window;
    out << "; it needs about " << std::ceil(need) << " requests/s: --rate " << std::ceil(need);
    if (need > by_concurrency) out << " and --concurrency " << static_cast<long long>(std::ceil(need * latency));
  }
  out << "\n";
  return exit_some_failed;
}

}  // namespace batchcut::app_detail
