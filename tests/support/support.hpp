// Helpers shared by the integration tests: temporary folders, files, running binaries.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace batchcut::test {

// A fresh folder under the system temp dir, removed when it goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, const std::string& text);
std::string read_file(const std::filesystem::path& path);

struct ProcessResult {
  int exit_code = -1;  // 128+signal when killed by a signal
  std::string out;     // stdout
  std::string err;     // stderr
  long max_rss_kb = 0;  // its peak resident memory (run_process only)
};

// A child started without waiting for it; its output goes to files in `dir`.
struct Child {
  int pid = -1;
  std::filesystem::path out, err;
  // Waits for it to exit; kills it after `timeout_seconds` (exit code -2). Returns the
  // exit code, 128+signal when it was killed by a signal.
  ProcessResult wait(int timeout_seconds = 120);
};
Child start_process(const std::string& program, const std::vector<std::string>& args,
                    const std::vector<std::string>& env, const std::filesystem::path& dir);

// Runs a program with arguments and extra environment ("NAME=value"); waits for it,
// killing it after `timeout_seconds` (a hang guard, reported as exit code -2).
ProcessResult run_process(const std::string& program, const std::vector<std::string>& args,
                          const std::vector<std::string>& env = {}, int timeout_seconds = 120);

}  // namespace batchcut::test
