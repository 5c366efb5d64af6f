// An RFC 4180 CSV reader: quoted fields may hold commas, doubled quotes and newlines;
// LF or CRLF line ends; a UTF-8 BOM is skipped. Rows carry the line they start on.
// And the one cell writer every CSV batchcut writes goes through.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace batchcut {

struct CsvRow {
  std::size_t line = 0;  // 1-based line the record starts on
  std::vector<std::string> fields;
};

struct CsvError {
  std::size_t line = 0;
  std::string message;
  bool limit = false;  // a limit passed (CsvReader::max_*), not a syntax error
};

// Pull reader over text that stays alive while the reader is used. One record at a time,
// so memory stays flat however long the input is; pass the same CsvRow to every next()
// call and its strings' buffers are reused.
//
// Strict about RFC 4180: a quote inside an unquoted field, text after a closing quote and
// an unterminated quoted field are syntax errors. Line ends inside quotes are kept as
// written (CRLF stays CRLF). A lone CR outside quotes also ends a record.
class CsvReader {
 public:
  explicit CsvReader(std::string_view text);
  // Reads the next record into `row`. Returns false at the end or on a syntax error
  // (then error() says what). Blank lines are skipped when skip_blank_lines is true;
  // otherwise a blank line is a record with one empty field.
  bool next(CsvRow& row);
  const std::optional<CsvError>& error() const { return error_; }
  // The line the reader is at: after the end, one past the last line.
  std::size_t line() const { return line_; }
  // Byte offset in the text of what next() reads next: everything before it is done with.
  std::size_t offset() const { return pos_; }
  bool skip_blank_lines = true;
  // Limits on hostile input, each a syntax error when passed (none by default): a record
  // of more fields, a field of more bytes, or a record of more bytes than these.
  std::size_t max_fields = SIZE_MAX;
  std::size_t max_field_bytes = SIZE_MAX;
  std::size_t max_record_bytes = SIZE_MAX;

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
  std::optional<CsvError> error_;
};

// How append_csv_cell writes a cell.
enum class CsvCell {
  text,      // free text (a label, a server's message): guarded against formulas
  verbatim,  // a value validated to hold no formula (an id, a number, a time stamp): as is
};

// Appends `text` to `out` as one CSV field. RFC 4180: quoted when it holds a comma, a
// quote, CR or LF, with quotes doubled. A `text` cell that begins with '=', '+', '-', '@',
// TAB or CR gets a leading ' so that a spreadsheet shows it rather than running it as a
// formula (OWASP, "CSV Injection"); read back, the cell holds the ' too.
void append_csv_cell(std::string& out, std::string_view text, CsvCell kind = CsvCell::text);

}  // namespace batchcut
