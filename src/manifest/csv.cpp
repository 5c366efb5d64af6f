#include "batchcut/manifest/csv.hpp"

#include <cstring>

namespace batchcut {

CsvReader::CsvReader(std::string_view text) : text_(text) {
  if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
}

bool CsvReader::next(CsvRow& row) {
  if (error_) return false;
  const std::size_t n = text_.size();
  const char* data = text_.data();

  // Skips a line end at pos_ (CRLF, LF or lone CR); true if there was one.
  auto eat_line_end = [&]() {
    if (pos_ < n && data[pos_] == '\r') {
      ++pos_;
      if (pos_ < n && data[pos_] == '\n') ++pos_;
      ++line_;
      return true;
    }
    if (pos_ < n && data[pos_] == '\n') {
      ++pos_;
      ++line_;
      return true;
    }
    return false;
  };

  if (skip_blank_lines)
    while (eat_line_end()) {
    }
  if (pos_ >= n) return false;

  row.line = line_;
  const std::size_t record_start = pos_;
  std::size_t count = 0;  // fields filled so far; strings past it are kept for reuse
  // Checked before the bytes are copied, so a hostile field costs no memory.
  auto too_long = [&](std::size_t field_bytes, std::size_t upto) {
    if (field_bytes > max_field_bytes)
      error_ = CsvError{row.line, "field " + std::to_string(count) + " is longer than " +
                                      std::to_string(max_field_bytes) + " bytes", true};
    else if (upto - record_start > max_record_bytes)
      error_ = CsvError{row.line, "record is longer than " + std::to_string(max_record_bytes) + " bytes", true};
    return error_.has_value();
  };
  auto next_field = [&]() -> std::string& {
    if (count == row.fields.size()) row.fields.emplace_back();
    std::string& f = row.fields[count++];
    f.clear();
    return f;
  };

  while (true) {
    if (count == max_fields) {
      error_ = CsvError{row.line, "more than " + std::to_string(max_fields) + " fields in one record", true};
      return false;
    }
    std::string& field = next_field();
    if (pos_ < n && data[pos_] == '"') {
      // Quoted field: copy runs up to the next quote; "" is one quote.
      const std::size_t open_line = line_;
      ++pos_;
      while (true) {
        const void* q = std::memchr(data + pos_, '"', n - pos_);
        if (!q) {
          error_ = CsvError{open_line, "unterminated quoted field"};
          return false;
        }
        const std::size_t qpos = static_cast<std::size_t>(static_cast<const char*>(q) - data);
        std::string_view chunk(data + pos_, qpos - pos_);
        if (too_long(field.size() + chunk.size(), qpos)) return false;
        // Line ends inside the field still advance the line count (lone CR counts too).
        for (std::size_t i = 0; i < chunk.size(); ++i)
          if (chunk[i] == '\n' || (chunk[i] == '\r' && (i + 1 >= chunk.size() || chunk[i + 1] != '\n')))
            ++line_;
        field.append(chunk);
        pos_ = qpos + 1;
        if (pos_ < n && data[pos_] == '"') {
          field.push_back('"');
          ++pos_;
          continue;
        }
        break;
      }
      if (pos_ < n && data[pos_] != ',' && data[pos_] != '\r' && data[pos_] != '\n') {
        error_ = CsvError{line_, "unexpected text after a closing quote"};
        return false;
      }
    } else {
      // Unquoted field: up to the next comma or line end.
      std::size_t end = pos_;
      while (end < n) {
        char c = data[end];
        if (c == ',' || c == '\n' || c == '\r') break;
        if (c == '"') {
          error_ = CsvError{line_, "quote inside an unquoted field (quote the whole field and double the quote)"};
          return false;
        }
        if (++end - pos_ > max_field_bytes && too_long(end - pos_, end)) return false;
      }
      if (too_long(end - pos_, end)) return false;
      field.append(data + pos_, end - pos_);
      pos_ = end;
    }
    if (pos_ < n && data[pos_] == ',') {
      ++pos_;
      continue;
    }
    eat_line_end();  // or the end of the text
    break;
  }
  row.fields.resize(count);
  return true;
}

void append_csv_cell(std::string& out, std::string_view text, CsvCell kind) {
  // The leading characters OWASP lists as able to start a formula in a spreadsheet.
  constexpr std::string_view kFormulaStart = "=+-@\t\r";
  const bool guard =
      kind == CsvCell::text && !text.empty() && kFormulaStart.find(text.front()) != std::string_view::npos;
  const bool quote = text.find_first_of(",\"\r\n") != std::string_view::npos;
  if (!quote) {
    if (guard) out += '\'';
    out += text;
    return;
  }
  out += '"';
  if (guard) out += '\'';
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace batchcut
