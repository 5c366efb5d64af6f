// STUB: replaced by the manifest work.
#include "batchcut/manifest.hpp"
#include <stdexcept>
namespace batchcut {
std::optional<ManifestFormat> parse_manifest_format(std::string_view) { throw std::logic_error("todo"); }
Manifest load_manifest(const std::filesystem::path&, ManifestFormat) { throw std::logic_error("todo"); }
Manifest parse_manifest(std::string_view, ManifestFormat, const std::string&) { throw std::logic_error("todo"); }
}  // namespace batchcut
