// STUB: replaced by the ledger work.
#include "batchcut/ledger.hpp"
#include <stdexcept>
namespace batchcut {
class LedgerWriter::Impl {};
const char* to_string(JobState) { throw std::logic_error("todo"); }
std::optional<JobState> parse_job_state(std::string_view) { throw std::logic_error("todo"); }
const JobRecord* LedgerContents::find(const std::string&) const { throw std::logic_error("todo"); }
LedgerContents read_ledger(const std::filesystem::path&) { throw std::logic_error("todo"); }
std::unique_ptr<LedgerWriter> LedgerWriter::open(const std::filesystem::path&, LedgerSync, std::optional<std::size_t>) { throw std::logic_error("todo"); }
LedgerWriter::LedgerWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LedgerWriter::~LedgerWriter() = default;
LedgerWriter::Seq LedgerWriter::append_job(const JobSpec&) { throw std::logic_error("todo"); }
LedgerWriter::Seq LedgerWriter::append_dispatch(const JobSpec&, int, std::string_view) { throw std::logic_error("todo"); }
LedgerWriter::Seq LedgerWriter::append_outcome(const JobSpec&, int, std::string_view, int, std::string_view, std::string_view, std::int64_t) { throw std::logic_error("todo"); }
LedgerWriter::Seq LedgerWriter::append_state(const JobRecord&) { throw std::logic_error("todo"); }
void LedgerWriter::when_durable(Seq, std::function<void()>) { throw std::logic_error("todo"); }
void LedgerWriter::flush() { throw std::logic_error("todo"); }
std::optional<std::string> LedgerWriter::failure() const { throw std::logic_error("todo"); }
std::filesystem::path default_ledger_path(const std::filesystem::path&) { throw std::logic_error("todo"); }
std::string export_csv(const LedgerContents&) { throw std::logic_error("todo"); }
std::string export_jsonl(const LedgerContents&) { throw std::logic_error("todo"); }
}  // namespace batchcut
