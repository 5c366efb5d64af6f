#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "batchcut/manifest/csv.hpp"

using namespace batchcut;
namespace fs = std::filesystem;

namespace {

std::vector<CsvRow> read_all(std::string_view text, std::optional<CsvError>* error = nullptr,
                             bool skip_blank = true) {
  CsvReader r(text);
  r.skip_blank_lines = skip_blank;
  std::vector<CsvRow> rows;
  CsvRow row;
  while (r.next(row)) rows.push_back(row);
  if (error) *error = r.error();
  else EXPECT_FALSE(r.error()) << r.error()->message;
  return rows;
}

using Fields = std::vector<std::string>;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path shared_dir() {
  if (const char* env = std::getenv("BATCHCUT_SHARED_DIR"); env && *env) return env;
  return BATCHCUT_SHARED_DIR;
}

}  // namespace

TEST(Csv, SimpleRowsWithLineNumbers) {
  auto rows = read_all("a,b,c\n1,2,3\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields, (Fields{"a", "b", "c"}));
  EXPECT_EQ(rows[1].fields, (Fields{"1", "2", "3"}));
  EXPECT_EQ(rows[0].line, 1u);
  EXPECT_EQ(rows[1].line, 2u);
}

TEST(Csv, NoTrailingNewlineAndEmptyFields) {
  auto rows = read_all("a,,c\n,,");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields, (Fields{"a", "", "c"}));
  EXPECT_EQ(rows[1].fields, (Fields{"", "", ""}));
}

TEST(Csv, CrlfAndBom) {
  auto rows = read_all("\xEF\xBB\xBFid,x\r\n1,2\r\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields, (Fields{"id", "x"}));
  EXPECT_EQ(rows[1].fields, (Fields{"1", "2"}));
  EXPECT_EQ(rows[1].line, 2u);
}

TEST(Csv, BomOnlyAtTheStartIsSkipped) {
  auto rows = read_all("a\n\xEF\xBB\xBF" "b\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].fields, (Fields{"\xEF\xBB\xBF" "b"}));
}

TEST(Csv, QuotedFieldsHoldCommasQuotesAndNewlines) {
  auto rows = read_all("a,b\n\"x, y\",\"say \"\"hi\"\"\"\n\"two\nlines\",\"\"\nlast,row\n");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1].fields, (Fields{"x, y", "say \"hi\""}));
  EXPECT_EQ(rows[2].fields, (Fields{"two\nlines", ""}));
  EXPECT_EQ(rows[2].line, 3u);
  EXPECT_EQ(rows[3].line, 5u);  // the quoted newline moved it down a line
}

TEST(Csv, CrlfInsideQuotesIsKeptAndCounted) {
  auto rows = read_all("a,b\r\n\"1\r\n2\r\n3\",x\r\nnext,y\r\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].fields[0], "1\r\n2\r\n3");
  EXPECT_EQ(rows[2].line, 5u);
}

TEST(Csv, BlankLinesAreSkippedButCounted) {
  auto rows = read_all("a\n\n\r\n1\n\n2\n\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].line, 4u);
  EXPECT_EQ(rows[2].line, 6u);
}

TEST(Csv, BlankLinesAsRecordsWhenAsked) {
  auto rows = read_all("a\n\nb\n", nullptr, false);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].fields, (Fields{""}));
  EXPECT_EQ(rows[2].line, 3u);
}

TEST(Csv, LoneCarriageReturnEndsARecord) {
  auto rows = read_all("a\rb\r");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].fields, (Fields{"b"}));
  EXPECT_EQ(rows[1].line, 2u);
}

TEST(Csv, EmptyInput) {
  EXPECT_TRUE(read_all("").empty());
  EXPECT_TRUE(read_all("\xEF\xBB\xBF").empty());
  EXPECT_TRUE(read_all("\n\r\n\n").empty());
}

TEST(Csv, UnterminatedQuoteIsAnErrorAtItsOpeningLine) {
  std::optional<CsvError> err;
  auto rows = read_all("a,b\n1,2\n3,\"open\nstill open\n", &err);
  EXPECT_EQ(rows.size(), 2u);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->line, 3u);
  EXPECT_EQ(err->message, "unterminated quoted field");
}

TEST(Csv, TextAfterClosingQuoteIsAnError) {
  std::optional<CsvError> err;
  auto rows = read_all("a\n\"x\"y\n", &err);
  EXPECT_EQ(rows.size(), 1u);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->line, 2u);
  EXPECT_EQ(err->message, "unexpected text after a closing quote");
}

TEST(Csv, QuoteInsideUnquotedFieldIsAnError) {
  std::optional<CsvError> err;
  read_all("a\nab\"c\n", &err);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->line, 2u);
}

TEST(Csv, ReaderStopsAfterAnError) {
  CsvReader r("\"x");
  CsvRow row;
  EXPECT_FALSE(r.next(row));
  EXPECT_TRUE(r.error());
  EXPECT_FALSE(r.next(row));
}

TEST(Csv, RowBuffersAreReused) {
  CsvReader r("a,b,c\n1,2\nx,y,z,w\n");
  CsvRow row;
  ASSERT_TRUE(r.next(row));
  EXPECT_EQ(row.fields.size(), 3u);
  ASSERT_TRUE(r.next(row));
  EXPECT_EQ(row.fields, (Fields{"1", "2"}));
  ASSERT_TRUE(r.next(row));
  EXPECT_EQ(row.fields, (Fields{"x", "y", "z", "w"}));
  EXPECT_FALSE(r.next(row));
  EXPECT_FALSE(r.error());
}

// The public csv-spectrum suite: every case must parse to its expected JSON.
TEST(CsvSpectrum, EveryCaseMatches) {
  const fs::path dir = shared_dir() / "testdata" / "csv-spectrum";
  ASSERT_TRUE(fs::is_directory(dir / "csvs")) << "csv-spectrum not found at " << dir;
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(dir / "csvs")) {
    if (entry.path().extension() != ".csv") continue;
    const std::string name = entry.path().stem().string();
    SCOPED_TRACE(name);
    const fs::path json_path = dir / "json" / (name + ".json");
    ASSERT_TRUE(fs::exists(json_path));
    const auto expected = boost::json::parse(slurp(json_path)).as_array();

    const std::string text = slurp(entry.path());
    CsvReader r(text);
    CsvRow header, row;
    ASSERT_TRUE(r.next(header));
    std::size_t i = 0;
    while (r.next(row)) {
      ASSERT_LT(i, expected.size());
      const auto& obj = expected[i++].as_object();
      ASSERT_EQ(row.fields.size(), header.fields.size());
      ASSERT_EQ(obj.size(), header.fields.size());
      for (std::size_t c = 0; c < header.fields.size(); ++c) {
        const auto* v = obj.if_contains(header.fields[c]);
        ASSERT_TRUE(v) << header.fields[c];
        EXPECT_EQ(row.fields[c], std::string(v->as_string())) << "row " << i << " column " << header.fields[c];
      }
    }
    EXPECT_FALSE(r.error()) << r.error()->message;
    EXPECT_EQ(i, expected.size());
    ++cases;
  }
  EXPECT_GE(cases, 11);
}

// ---- writing ----

namespace {

std::string cell(std::string_view text, CsvCell kind = CsvCell::text) {
  std::string out;
  append_csv_cell(out, text, kind);
  return out;
}

}  // namespace

TEST(CsvWrite, PlainTextIsWrittenAsIs) {
  EXPECT_EQ(cell(""), "");
  EXPECT_EQ(cell("intro part 1"), "intro part 1");
  EXPECT_EQ(cell("a=b+c-d@e"), "a=b+c-d@e");  // only the first character matters
  std::string out = "x,";
  append_csv_cell(out, "y");
  EXPECT_EQ(out, "x,y");  // appends
}

TEST(CsvWrite, QuotesCommasQuotesAndLineEnds) {
  EXPECT_EQ(cell("a,b"), "\"a,b\"");
  EXPECT_EQ(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(cell("\""), "\"\"\"\"");
  EXPECT_EQ(cell("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(cell("two\r\nlines"), "\"two\r\nlines\"");
  EXPECT_EQ(cell("end\r"), "\"end\r\"");
  EXPECT_EQ(cell("tab\there"), "tab\there");  // a TAB inside needs no quotes
}

// OWASP "CSV Injection": a free-text cell that a spreadsheet would run as a formula.
TEST(CsvWrite, FreeTextThatCouldStartAFormulaGetsALeadingQuote) {
  EXPECT_EQ(cell("=1+1"), "'=1+1");
  EXPECT_EQ(cell("+1"), "'+1");
  EXPECT_EQ(cell("-1"), "'-1");
  EXPECT_EQ(cell("@SUM(A1:A2)"), "'@SUM(A1:A2)");
  EXPECT_EQ(cell("\t=1+1"), "'\t=1+1");
  EXPECT_EQ(cell("\r=1+1"), "\"'\r=1+1\"");  // guarded, and quoted for the CR
  EXPECT_EQ(cell("=HYPERLINK(\"http://x\",\"y\")"), "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
  EXPECT_EQ(cell("="), "'=");
}

TEST(CsvWrite, VerbatimCellsAreNotGuardedButStillQuoted) {
  EXPECT_EQ(cell("-live-video_1", CsvCell::verbatim), "-live-video_1");  // an id may start with '-'
  EXPECT_EQ(cell("2024-05-23T20:09:29.81Z", CsvCell::verbatim), "2024-05-23T20:09:29.81Z");
  EXPECT_EQ(cell("-5", CsvCell::verbatim), "-5");
  EXPECT_EQ(cell("+1", CsvCell::verbatim), "+1");
  EXPECT_EQ(cell("a,\"b\"", CsvCell::verbatim), "\"a,\"\"b\"\"\"");
}

// What the writer writes, the reader reads back: the same text, plus the ' of a guarded cell.
TEST(CsvWrite, ReaderReadsTheCellsBack) {
  const std::vector<std::pair<std::string, CsvCell>> cells = {
      {"plain", CsvCell::text},
      {"", CsvCell::text},
      {"a, b", CsvCell::text},
      {"say \"hi\"", CsvCell::text},
      {"\"", CsvCell::text},
      {"two\nlines", CsvCell::text},
      {"crlf\r\ninside", CsvCell::text},
      {"=1+1", CsvCell::text},
      {"+1", CsvCell::text},
      {"-1", CsvCell::text},
      {"@x", CsvCell::text},
      {"\tx", CsvCell::text},
      {"\r=x,\"y\"", CsvCell::text},
      {"-id_1", CsvCell::verbatim},
      {"12,5", CsvCell::verbatim},
      {"", CsvCell::text},
  };
  std::string text;
  for (int row = 0; row < 2; ++row) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) text += ',';
      append_csv_cell(text, cells[i].first, cells[i].second);
    }
    text += row == 0 ? "\n" : "\r\n";
  }
  auto rows = read_all(text);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    ASSERT_EQ(r.fields.size(), cells.size());
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string& want = cells[i].first;
      const bool guarded = cells[i].second == CsvCell::text && !want.empty() &&
                           std::string_view("=+-@\t\r").find(want.front()) != std::string_view::npos;
      EXPECT_EQ(r.fields[i], guarded ? "'" + want : want) << "cell " << i;
    }
  }
}
