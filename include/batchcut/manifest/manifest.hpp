// Reading a manifest (YAML or CSV) into validated jobs. The whole manifest is validated
// before anything is sent; every problem is reported as FILE:LINE: field: message.
// Common mistakes get their own message: a CSV separated by ';' or tabs, a UTF-16 file, a
// near-miss field name ("did you mean"), a near-miss date-time (with the accepted form).
#pragma once

#include <filesystem>
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

struct Manifest {
  std::vector<JobSpec> jobs;  // only meaningful when errors is empty
  Diagnostics errors;         // every problem found, in file order
  Diagnostics warnings;       // values taken, but not as written (Severity::warning), in file order
  bool ok() const { return errors.empty(); }
};

// Reads and validates a manifest file. `detect` picks the format from the extension
// (.yaml, .yml, .csv); an unknown extension is an error. I/O errors become diagnostics.
Manifest load_manifest(const std::filesystem::path& path, ManifestFormat format);

// Same, from text already in memory; `file_name` is used in the diagnostics (and, with
// `detect`, its extension picks the format).
Manifest parse_manifest(std::string_view text, ManifestFormat format, const std::string& file_name);

// The job field names a manifest accepts, in the API's spelling, aliases included.
std::span<const std::string_view> manifest_field_names();

}  // namespace batchcut
