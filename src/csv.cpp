// STUB: replaced by the manifest work.
#include "batchcut/csv.hpp"
#include <stdexcept>
namespace batchcut {
CsvReader::CsvReader(std::string_view text) : text_(text) {}
bool CsvReader::next(CsvRow&) { throw std::logic_error("todo"); }
}  // namespace batchcut
