#include "emulated.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <map>

namespace batchcut::test {

std::string manifest_csv(int n, const std::string& project) {
  std::string s = "projectId,liveVideoId,videoVisibilityOptionId,fromMilisecond,toMilisecond\n";
  for (int i = 0; i < n; ++i)
    s += project + ",lv" + std::to_string(i) + ",2," + std::to_string(i) + "," + std::to_string(i + 60000) + "\n";
  return s;
}

EmulatorOptions tls_options(const TempDir& dir, int videos) {
  EmulatorOptions o;
  o.api_key = api_key;
  o.projects = {"proj1"};
  o.videos_per_project = videos;
  o.tls = EmulatorTls::self_signed;
  o.ca_out = dir / "ca.pem";
  o.record = dir / "record.jsonl";
  o.threads = 2;
  return o;
}

std::vector<std::string> run_args(const std::string& verb, const std::filesystem::path& target,
                                  const Emulator& e, const TempDir& dir,
                                  std::vector<std::string> extra) {
  std::vector<std::string> a{verb, target.string(), "--base-url", e.base_url(), "--ca-file",
                             (dir / "ca.pem").string(), "--rate", "0", "--concurrency", "16"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}


void expect_nothing_lost_nothing_twice(Emulator& emulator, const std::filesystem::path& ledger_path,
                                       std::size_t jobs, bool unread_ids_in_doubt) {
  emulator.stop();  // settles the delivered counts
  const auto ledger = read_ledger(ledger_path);
  ASSERT_TRUE(ledger.errors.empty()) << ledger.errors.front().to_string();
  ASSERT_EQ(ledger.jobs.size(), jobs);
  std::map<std::string, const JobRecord*> by_key;
  for (const auto& j : ledger.jobs) {
    by_key[j.spec.key()] = &j;
    EXPECT_TRUE(j.life.state == JobState::succeeded || j.life.state == JobState::in_doubt)
        << j.spec.key() << " ended " << to_string(j.life.state) << ": " << j.life.error;
  }
  EXPECT_EQ(emulator.stats().repeated_cuts, 0u);
  std::size_t delivered = 0;
  for (const auto& v : emulator.videos()) {
    EXPECT_LE(v.cut_count, 1) << v.live_video_id << " was cut twice";
    const auto it = by_key.find(v.project_id + "/" + v.live_video_id);
    if (it == by_key.end()) continue;
    if (v.id_delivered) {
      ++delivered;
      if (unread_ids_in_doubt && it->second->life.state == JobState::in_doubt) continue;
      EXPECT_EQ(it->second->life.state, JobState::succeeded) << it->first;
      EXPECT_EQ(it->second->life.video_public_id, v.video_public_id) << it->first;
    }
    if (it->second->life.state == JobState::succeeded) {
      EXPECT_EQ(v.cut_count, 1) << it->first;
    }
  }
  EXPECT_GT(delivered, 0u);
}

void SignalledRun::on_request(std::uint64_t n) {
  if (n != at.load() || pid.load() <= 0) return;
  for (int s : signals) ::kill(pid.load(), s);
}

ProcessResult SignalledRun::run(const std::vector<std::string>& args, const TempDir& dir) {
  auto child = start_process(BATCHCUT_BINARY, args, key_env, dir.path());
  pid = child.pid;
  auto result = child.wait(120);
  pid = -1;
  return result;
}

std::size_t count_state(const LedgerContents& l, JobState s) {
  std::size_t n = 0;
  for (const auto& j : l.jobs) n += j.life.state == s;
  return n;
}

}  // namespace batchcut::test
