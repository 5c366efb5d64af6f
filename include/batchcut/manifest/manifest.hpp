// Reading a manifest (YAML or CSV) into validated jobs. The whole manifest is validated
// before anything is sent; every problem is reported as FILE:LINE: field: message.
// Common mistakes get their own message: a CSV separated by ';' or tabs, a UTF-16 file, a
// near-miss field name ("did you mean"), a near-miss date-time (with the accepted form).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "batchcut/job/spec.hpp"
#include "batchcut/job/validate.hpp"  // valid_job_id and the other field rules
#include "batchcut/util/diagnostic.hpp"

namespace batchcut {

enum class ManifestFormat { detect, yaml, csv };

// "yaml"/"yml" -> yaml, "csv" -> csv (case-insensitive, a leading '.' is allowed);
// anything else -> nullopt.
std::optional<ManifestFormat> parse_manifest_format(std::string_view name);

// Limits on what a manifest may be (README, "Security and limits"). Past one, the manifest is
// refused with an error naming the file and line: hostile or broken input costs bounded
// time, memory and output.
inline constexpr std::uint64_t max_manifest_bytes = std::uint64_t{2} << 30;   // 2 GiB
inline constexpr std::uint64_t max_yaml_manifest_bytes = 64u << 20;           // 64 MiB: parsed whole
inline constexpr std::size_t max_manifest_jobs = 10'000'000;
inline constexpr std::size_t max_manifest_columns = 64;        // CSV
inline constexpr std::size_t max_manifest_field_bytes = 16 * 1024;
inline constexpr std::size_t max_manifest_record_bytes = 64 * 1024;  // a CSV record, line ends in quotes included
// YAML aliases: the manifest's scalars, every alias expanded, may add up to this many bytes
// (counted without expanding anything).
inline constexpr std::uint64_t max_yaml_expanded_bytes = 256u << 20;
// Problems kept (and printed) of each severity; the rest are only counted.
inline constexpr std::size_t max_kept_problems = 100;

struct Manifest {
  std::vector<JobSpec> jobs;  // only meaningful when errors is empty (empty from scan_manifest)
  Diagnostics errors;         // the first max_kept_problems problems found, in file order
  Diagnostics warnings;       // values taken, but not as written (Severity::warning), in file order
  std::size_t more_errors = 0;    // found beyond those kept
  std::size_t more_warnings = 0;
  std::size_t job_count = 0;      // jobs read, valid or not
  bool ok() const { return errors.empty(); }
  std::size_t error_count() const { return errors.size() + more_errors; }
  // Keeps `d` among errors or warnings, or only counts it once max_kept_problems are kept.
  void add(Diagnostic d);
};

// Reads and validates a manifest file. `detect` picks the format from the extension
// (.yaml, .yml, .csv); an unknown extension is an error. I/O errors become diagnostics.
Manifest load_manifest(const std::filesystem::path& path, ManifestFormat format);

// The same, but each checked job is handed to `each` as it is read, in file order, and not
// kept: memory does not grow with the number of jobs (a few tens of bytes a job go to the
// duplicate check). A job handed over may still be found a duplicate later: act on the jobs
// only when the result is ok().
Manifest scan_manifest(const std::filesystem::path& path, ManifestFormat format,
                       const std::function<void(const JobSpec&)>& each);

// Same, from text already in memory; `file_name` is used in the diagnostics (and, with
// `detect`, its extension picks the format).
Manifest parse_manifest(std::string_view text, ManifestFormat format, const std::string& file_name);

// The job field names a manifest accepts, in the API's spelling, aliases included.
std::span<const std::string_view> manifest_field_names();

}  // namespace batchcut
