// `validate`: check a manifest, send nothing.
#include "batchcut/app/app.hpp"

#include <map>
#include <ostream>

#include "app/common.hpp"
#include "batchcut/util/plural.hpp"

namespace batchcut {

namespace fs = std::filesystem;
using namespace app_detail;

int validate_command(const fs::path& path, ManifestFormat format, std::ostream& out,
                     std::ostream& err) {
  // Streamed: the jobs are counted as they are read, not kept.
  std::map<RangeKind, std::size_t> kinds;
  std::size_t clips = 0;
  const Manifest m = scan_manifest(path, format, [&](const JobSpec& j) {
    ++kinds[j.range];
    clips += j.kind == JobKind::clip;
  });
  if (!print_manifest_diagnostics(m, path, err)) return exit_usage;
  out << path.string() << ": " << counted(m.job_count, "job") << " valid (" << kinds[RangeKind::ms]
      << " ms, " << kinds[RangeKind::datetime] << " datetime, " << kinds[RangeKind::whole] << " whole";
  if (clips) out << "; " << counted(clips, "clip") << ", " << counted(m.job_count - clips, "stop-and-cut");
  out << ")\n";
  return exit_ok;
}

}  // namespace batchcut
