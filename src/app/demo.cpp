// `demo`: the emulator in-process, with faults, and a run against it.
#include "batchcut/app/app.hpp"

#include <unistd.h>

#include <fstream>
#include <set>
#include <ostream>

#include "app/common.hpp"
#include "batchcut/emulator/emulator.hpp"

namespace batchcut {

namespace fs = std::filesystem;
using namespace app_detail;

int demo_command(const fs::path& manifest, const fs::path& work_dir, std::ostream& out,
                 std::ostream& err) {
  const Manifest m = load_manifest(manifest, ManifestFormat::detect);
  if (!print_manifest_diagnostics(m, manifest, err)) return exit_usage;
  std::error_code ec;
  fs::create_directories(work_dir, ec);
  const fs::path ledger = work_dir / "demo.ledger.jsonl";
  const fs::path ca = work_dir / "emulator-ca.pem";
  fs::remove(ledger, ec);  // each demo starts afresh

  // The emulator knows every live video the manifest names, in its projects.
  EmulatorOptions eo;
  eo.tls = EmulatorTls::self_signed;
  eo.ca_out = ca;
  eo.api_key = "demo-key";
  eo.threads = 1;
  eo.projects.clear();
  const fs::path videos = work_dir / "emulator-videos.csv";
  {
    std::ofstream v(videos);
    std::set<std::string> seen;  // a stream with clips is named by several jobs
    for (const auto& j : m.jobs)
      if (seen.insert(j.project_id + "," + j.live_video_id).second) v << j.project_id << "," << j.live_video_id << "\n";
  }
  eo.videos_file = videos;
  eo.faults.seed = 2026;
  eo.faults.p500 = 0.03;
  eo.faults.p503 = 0.04;
  eo.faults.p429 = 0.03;
  eo.faults.p_cut_drop = 0.02;  // made, then the connection drops: a lookup finds the id
  eo.faults.retry_after_seconds = 1;
  eo.faults.encode_time = std::chrono::milliseconds(1500);
  eo.faults.p_short_duration = 0.01;  // a VOD shorter than asked: flagged, not failed
  eo.faults.latency = std::chrono::milliseconds(5);
  eo.faults.latency_jitter = std::chrono::milliseconds(25);
  Emulator emulator(eo);
  try {
    emulator.start();
  } catch (const std::exception& e) {
    err << "batchcut demo: cannot start the emulator: " << e.what() << "\n";
    return exit_aborted;
  }
  out << "batchcut demo: emulator on " << emulator.base_url()
      << " (TLS, self-signed CA; faults: 3% 500, 4% 503, 3% 429 with Retry-After, 2% answers lost after the cut;"
      << " VODs encode in 1.5 s, 1% come out short)\n"
      << "batchcut demo: running " << manifest.string() << " (" << m.jobs.size() << " jobs)\n";

  RunCommand c;
  c.manifest = manifest;
  c.ledger = ledger;
  c.base_url = emulator.base_url();
  c.ca_file = ca;
  c.concurrency = 16;
  c.rate = 100;
  c.burst = 10;
  c.max_attempts = 8;
  c.timeout_seconds = 10;
  c.api_key_override = "demo-key";
  c.log_level = "warn";  // the progress bar (or a line every 2 s) shows the run; problems still show
  c.progress_interval_seconds = 2;
  c.stderr_is_terminal = ::isatty(STDERR_FILENO) == 1;
  c.command_line = "batchcut demo";
  // Then follow every VOD until it is Ready (or Failed), as an overnight run would.
  c.wait_ready = true;
  c.ready.manage_base_url = emulator.base_url();
  c.ready.poll_interval_seconds = 1;
  c.ready.timeout_seconds = 120;
  const int status = run_command(c, out, err);
  const EmulatorStats stats = emulator.stats();
  emulator.stop();
  out << "batchcut demo: the emulator made " << stats.cuts_made << " cuts (" << stats.repeated_cuts
      << " repeated) and " << stats.clips_made << " clips (" << stats.repeated_clips << " repeated) from "
      << stats.requests << " requests\n"
      << "batchcut demo: see `batchcut status " << ledger.string() << "` and `batchcut export "
      << ledger.string() << "`\n";
  return status;
}

}  // namespace batchcut
