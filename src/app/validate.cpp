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
  const Manifest m = load_manifest(path, format);
  print_diagnostics(m.warnings, err);
  if (!m.ok()) {
    print_diagnostics(m.errors, err);
    err << "batchcut: " << path.string() << ": " << counted(m.errors.size(), "problem") << "; nothing sent\n";
    return exit_usage;
  }
  std::map<RangeKind, std::size_t> kinds;
  std::size_t clips = 0;
  for (const auto& j : m.jobs) {
    ++kinds[j.range];
    clips += j.kind == JobKind::clip;
  }
  out << path.string() << ": " << counted(m.jobs.size(), "job") << " valid (" << kinds[RangeKind::ms]
      << " ms, " << kinds[RangeKind::datetime] << " datetime, " << kinds[RangeKind::whole] << " whole";
  if (clips) out << "; " << counted(clips, "clip") << ", " << counted(m.jobs.size() - clips, "stop-and-cut");
  out << ")\n";
  return exit_ok;
}

}  // namespace batchcut
