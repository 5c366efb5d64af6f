// Hostile input, bounded: every limit of README's "Security and limits" that a unit can
// reach, each refused with an error naming the file and line, in bounded time and memory.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>

#include "batchcut/ledger/ledger.hpp"
#include "batchcut/ledger/writer.hpp"
#include "batchcut/manifest/csv.hpp"
#include "batchcut/manifest/manifest.hpp"
#include "batchcut/util/escape.hpp"

namespace batchcut {
namespace {

namespace fs = std::filesystem;

struct Dir {
  fs::path path;
  Dir() {
    path = fs::temp_directory_path() / ("batchcut-limits-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

void spit(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> texts(const Diagnostics& d) {
  std::vector<std::string> out;
  for (const auto& x : d) out.push_back(x.to_string());
  return out;
}

// A file of `size` bytes that takes no disk: `head`, then a hole (zero bytes).
void sparse(const fs::path& p, const std::string& head, std::uint64_t size) {
  spit(p, head);
  ASSERT_EQ(::truncate(p.c_str(), static_cast<off_t>(size)), 0);
}

constexpr const char* kHeader = "projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond\n";

// ---- the CSV reader's own limits ----

TEST(CsvLimits, FieldsFieldBytesAndRecordBytesAreEachALimitNamingTheRecordsLine) {
  const auto first_error = [](const std::string& text, auto set) {
    CsvReader r(text);
    set(r);
    CsvRow row;
    while (r.next(row)) {
    }
    return r.error();
  };
  auto e = first_error("a,b\nc,d,e\n", [](CsvReader& r) { r.max_fields = 2; });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->line, 2u);
  EXPECT_TRUE(e->limit);
  EXPECT_EQ(e->message, "more than 2 fields in one record");

  e = first_error("ok\n\"1234\n56\"\n", [](CsvReader& r) { r.max_field_bytes = 6; });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->line, 2u);
  EXPECT_EQ(e->message, "field 1 is longer than 6 bytes");
  e = first_error("ok,x\n12,1234567\n", [](CsvReader& r) { r.max_field_bytes = 6; });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message, "field 2 is longer than 6 bytes");
  EXPECT_FALSE(first_error("ok,x\n12,123456\n", [](CsvReader& r) { r.max_field_bytes = 6; }));

  e = first_error("a\n1234,1234,1234\n", [](CsvReader& r) { r.max_record_bytes = 10; });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->line, 2u);
  EXPECT_EQ(e->message, "record is longer than 10 bytes");
  // A plain syntax error is not a limit.
  e = first_error("a\"b\n", [](CsvReader&) {});
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->limit);
}

// ---- manifests ----

TEST(ManifestLimits, AHeaderOfTenMillionColumnsStopsAtTheColumnLimitAtOnce) {
  std::string text;
  for (int i = 0; i < 10'000'000 / 8; ++i) text += "a,b,c,d,";
  text += "\n";
  const auto start = std::chrono::steady_clock::now();
  const Manifest m = parse_manifest(text, ManifestFormat::csv, "m.csv");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(texts(m.errors), std::vector<std::string>{"m.csv:1: over a manifest's limits: more than " +
                                                      std::to_string(max_manifest_columns) +
                                                      " fields in one record"});
}

TEST(ManifestLimits, ManyMegabytesOfAWithoutANewlineAreOneError) {
  std::string text = kHeader;
  for (int i = 0; i < 20 << 20; i += 2) text += "A,";
  const Manifest m = parse_manifest(text, ManifestFormat::csv, "m.csv");
  ASSERT_EQ(m.errors.size(), 1u);
  EXPECT_EQ(m.errors[0].line, 2u);
  EXPECT_NE(m.errors[0].message.find("more than 64 fields"), std::string::npos) << m.errors[0].message;
}

TEST(ManifestLimits, AFieldTooLongIsNamedInCsvAndYaml) {
  const std::string big(max_manifest_field_bytes + 1, 'x');
  Manifest m = parse_manifest(std::string(kHeader) + "p,lv1,1,0,1000\np,lv2,1,0,1000,\n", ManifestFormat::csv, "m.csv");
  m = parse_manifest(std::string("projectId,liveVideoId,videoVisibilityOptionId,label\np,lv1,1,") + big + "\n",
                     ManifestFormat::csv, "m.csv");
  EXPECT_EQ(texts(m.errors), std::vector<std::string>{"m.csv:2: over a manifest's limits: field 4 is longer than " +
                                                      std::to_string(max_manifest_field_bytes) + " bytes"});
  m = parse_manifest("jobs:\n  - projectId: p\n    liveVideoId: lv1\n    videoVisibilityOptionId: 1\n    label: " + big +
                         "\n",
                     ManifestFormat::yaml, "m.yaml");
  EXPECT_EQ(texts(m.errors), std::vector<std::string>{"m.yaml:5: label: longer than " +
                                                      std::to_string(max_manifest_field_bytes) + " bytes"});
}

TEST(ManifestLimits, AMillionInvalidRowsKeepAHundredErrorsAndCountTheRest) {
  std::string text = kHeader;
  for (int i = 0; i < 1'000'000; ++i) text += "p,bad id,1,0,1000\n";
  const Manifest m = parse_manifest(text, ManifestFormat::csv, "m.csv");
  EXPECT_EQ(m.errors.size(), max_kept_problems);
  EXPECT_EQ(m.more_errors, 1'000'000 - max_kept_problems);
  EXPECT_EQ(m.error_count(), 1'000'000u);
  EXPECT_EQ(m.job_count, 1'000'000u);
  EXPECT_EQ(m.errors.front().line, 2u);
  EXPECT_EQ(m.errors.back().line, max_kept_problems + 1);
}

TEST(ManifestLimits, AYamlAliasBombIsRefusedBeforeAnythingIsExpanded) {
  // Nine levels of ten aliases each: 10^9 copies of one value, in a file of a few KiB.
  std::string text = "defaults:\n  videoVisibilityOptionId: 1\nbomb:\n  l0: &l0 \"xxxxxxxxxxxxxxxx\"\n";
  for (int level = 1; level <= 9; ++level) {
    text += "  l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) text += (i ? ",*l" : "*l") + std::to_string(level - 1);
    text += "]\n";
  }
  text += "jobs:\n  - projectId: p\n    liveVideoId: lv1\n    label: *l9\n";
  const auto start = std::chrono::steady_clock::now();
  Manifest m = parse_manifest(text, ManifestFormat::yaml, "m.yaml");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ASSERT_FALSE(m.errors.empty());
  EXPECT_NE(texts(m.errors).back().find("with its aliases (*name) expanded, the manifest holds more than 256 MiB"),
            std::string::npos)
      << texts(m.errors).back();

  // One big anchor used by many jobs: refused at the job where the total passes the limit.
  const std::string label(1 << 20, 'L');
  text = "jobs:\n  - {projectId: p, liveVideoId: lv0, videoVisibilityOptionId: 1, label: &L " + label + "}\n";
  for (int i = 1; i < 400; ++i)
    text += "  - {projectId: p, liveVideoId: lv" + std::to_string(i) + ", videoVisibilityOptionId: 1, label: *L}\n";
  m = parse_manifest(text, ManifestFormat::yaml, "m.yaml");
  ASSERT_EQ(m.errors.size(), 1u) << texts(m.errors)[1];
  EXPECT_EQ(m.errors[0].line, 257u);  // the job whose value passes 256 MiB
  EXPECT_TRUE(m.jobs.empty());

  // Aliases within the limit are fine.
  text = "jobs:\n  - {projectId: p, liveVideoId: lv0, videoVisibilityOptionId: &v 1, label: &L goal}\n"
         "  - {projectId: p, liveVideoId: lv1, videoVisibilityOptionId: *v, label: *L}\n";
  m = parse_manifest(text, ManifestFormat::yaml, "m.yaml");
  EXPECT_TRUE(m.ok()) << texts(m.errors)[0];
  EXPECT_EQ(m.jobs.size(), 2u);
}

TEST(ManifestLimits, AManifestOverTheSizeLimitIsRefusedWithoutBeingRead) {
  Dir dir;
  sparse(dir / "big.csv", kHeader, max_manifest_bytes + 1);
  const auto start = std::chrono::steady_clock::now();
  Manifest m = load_manifest(dir / "big.csv", ManifestFormat::detect);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  ASSERT_EQ(m.errors.size(), 1u);
  EXPECT_EQ(m.errors[0].to_string(),
            (dir / "big.csv").string() + ": the manifest is 2048 MiB, over the limit of 2048 MiB for a manifest; split "
                                         "it into several files");
  sparse(dir / "big.yaml", "jobs:\n", max_yaml_manifest_bytes + 1);
  m = load_manifest(dir / "big.yaml", ManifestFormat::detect);
  ASSERT_EQ(m.errors.size(), 1u);
  EXPECT_NE(m.errors[0].message.find("over the limit of 64 MiB for YAML"), std::string::npos) << m.errors[0].message;
}

TEST(ManifestLimits, ScanHandsOverEveryJobAndKeepsNone) {
  Dir dir;
  std::string text = kHeader;
  for (int i = 0; i < 1000; ++i) text += "p,lv" + std::to_string(i) + ",1,0,1000\n";
  text += "p,lv7,1,0,1000\n";
  spit(dir / "m.csv", text);
  std::size_t seen = 0;
  const Manifest m = scan_manifest(dir / "m.csv", ManifestFormat::detect, [&](const JobSpec&) { ++seen; });
  EXPECT_EQ(seen, 1001u);
  EXPECT_EQ(m.job_count, 1001u);
  EXPECT_TRUE(m.jobs.empty());
  EXPECT_EQ(texts(m.errors), std::vector<std::string>{(dir / "m.csv").string() +
                                                      ":1002: duplicate job: the same live video as line 9"});
}

// ---- echoing input ----

TEST(EscapeForDisplay, ControlsAndBadBytesAreEscapedAndLongTextCut) {
  EXPECT_EQ(escape_for_display("plain é ✓"), "plain é ✓");
  EXPECT_EQ(escape_for_display("a\x1b]0;owned\x07z"), "a\\x1b]0;owned\\x07z");
  EXPECT_EQ(escape_for_display("\x1b[2J\r\n\t\x7f"), "\\x1b[2J\\r\\n\\t\\x7f");
  EXPECT_EQ(escape_for_display("c1:\xc2\x9b" "31m"), "c1:\\u009b31m");                 // CSI as one C1 code point
  EXPECT_EQ(escape_for_display("bad:\xff\xc0\xaf\xed\xa0\x80"), "bad:\\xff\\xc0\\xaf\\xed\\xa0\\x80");
  EXPECT_EQ(escape_for_display("\\x41 stays"), "\\x41 stays");
  EXPECT_EQ(escape_for_display(std::string(500, 'n'), 60), std::string(60, 'n') + "...");
  EXPECT_EQ(escape_for_display("ééé", 2), "éé...");
}

TEST(EscapeForDisplay, AnUnknownColumnsNameIsShownEscapedAndCut) {
  const std::string evil = "\x1b]2;pwned\x07\x1b[31m" + std::string(10'000, 'n');  // under the field limit
  const Manifest m = parse_manifest(std::string("projectId,liveVideoId,videoVisibilityOptionId,") + evil + "\np,lv1,1,x\n",
                                    ManifestFormat::csv, "m.csv");
  ASSERT_EQ(m.errors.size(), 1u);
  const std::string shown = m.errors[0].to_string();
  EXPECT_EQ(shown.find('\x1b'), std::string::npos) << shown;
  EXPECT_EQ(shown.find('\x07'), std::string::npos);
  EXPECT_LT(shown.size(), 200u) << shown;
  EXPECT_EQ(shown.rfind("m.csv:1: \\x1b]2;pwned\\x07\\x1b[31mnnnn", 0), 0u) << shown;
}

// ---- ledgers ----

TEST(LedgerLimits, ALineOfTwoGibibytesIsRefusedQuickly) {
  Dir dir;
  const std::string header = R"({"type":"run","ts":"2026-01-01T00:00:00Z","format":3,"baseUrl":"https://x","authScheme":"bearer","caFile":null,"tool":"t"})";
  sparse(dir / "l.jsonl", header + "\n{\"type\":\"job\",\"label\":\"", (std::uint64_t{2} << 30) + 100);
  const auto start = std::chrono::steady_clock::now();
  const LedgerContents c = read_ledger(dir / "l.jsonl");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(texts(c.errors), std::vector<std::string>{(dir / "l.jsonl").string() +
                                                      ":2: a line longer than 1 MiB: not a record batchcut writes; "
                                                      "reading stopped here"});
  EXPECT_FALSE(c.torn_tail);  // never to be cut away as a tear
}

TEST(LedgerLimits, ReadingStopsAfterAHundredProblems) {
  const std::string header = R"({"type":"run","ts":"2026-01-01T00:00:00Z","format":3,"baseUrl":"https://x","authScheme":"bearer","caFile":null,"tool":"t"})";
  std::string text = header + "\n";
  for (int i = 0; i < 100'000; ++i) text += "{}\n";
  const LedgerContents c = read_ledger_text(text, "l.jsonl");
  ASSERT_EQ(c.errors.size(), max_ledger_problems + 1);
  EXPECT_EQ(c.errors.back().to_string(), "l.jsonl:102: more than 100 problems; reading stopped here");
}

TEST(LedgerFiles, TheWriterRefusesASymlinkAndNonRegularFilesAndCreatesMode0600) {
  Dir dir;
  spit(dir / "victim.txt", "one line, no newline");
  fs::create_symlink(dir / "victim.txt", dir / "link.jsonl");
  try {
    LedgerWriter::open(dir / "link.jsonl", LedgerSync::none);
    ADD_FAILURE() << "opened a symlink";
  } catch (const LedgerError& e) {
    EXPECT_NE(std::string(e.what()).find("is a symbolic link"), std::string::npos) << e.what();
  }
  fs::create_symlink(dir / "nowhere", dir / "dangling.jsonl");
  EXPECT_THROW(LedgerWriter::open(dir / "dangling.jsonl", LedgerSync::none), LedgerError);
  EXPECT_FALSE(fs::exists(dir / "nowhere"));
  EXPECT_EQ(slurp(dir / "victim.txt"), "one line, no newline");

  ASSERT_EQ(::mkfifo((dir / "fifo.jsonl").c_str(), 0600), 0);
  EXPECT_THROW(LedgerWriter::open(dir / "fifo.jsonl", LedgerSync::none), LedgerError);

  const mode_t old = ::umask(0);  // the mode is batchcut's choice, not the umask's
  { auto w = LedgerWriter::open(dir / "new.jsonl", LedgerSync::none); }
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat((dir / "new.jsonl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(LedgerFiles, ATornTailIsCutOnlyInAFileThatBeginsWithALedgerHeader) {
  Dir dir;
  spit(dir / "notes.jsonl", "my notes, no newline");
  const LedgerContents c = read_ledger(dir / "notes.jsonl");
  ASSERT_TRUE(c.torn_tail);
  {
    auto w = LedgerWriter::open(dir / "notes.jsonl", LedgerSync::none);
    try {
      w->truncate_torn_tail(c.torn_tail_offset);
      ADD_FAILURE() << "cut a file that is no ledger";
    } catch (const LedgerError& e) {
      EXPECT_NE(std::string(e.what()).find("does not begin with a batchcut ledger header"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(slurp(dir / "notes.jsonl"), "my notes, no newline");
  // Two lines of someone else's, the last unfinished: not cut either.
  spit(dir / "other.jsonl", "{\"a\":1}\n{\"b\":");
  {
    auto w = LedgerWriter::open(dir / "other.jsonl", LedgerSync::none);
    EXPECT_THROW(w->truncate_torn_tail(8), LedgerError);
  }
  EXPECT_EQ(slurp(dir / "other.jsonl"), "{\"a\":1}\n{\"b\":");
}

}  // namespace
}  // namespace batchcut
