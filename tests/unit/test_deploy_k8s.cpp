// deploy/k8s: the manifests parse, and hold what makes them safe to run: one run at a time,
// the key only as a mounted Secret file, the ledger on a persistent volume, one ledger per
// shard of an Indexed Job.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace {

const std::filesystem::path k8s_dir = std::filesystem::path(BATCHCUT_SOURCE_DIR) / "deploy" / "k8s";

// The one document of `kind` in FILE. (A default YAML::Node is a defined null, so "not
// found" is an empty optional.)
std::optional<YAML::Node> document(const std::string& file, const std::string& kind) {
  std::optional<YAML::Node> found;
  for (const auto& doc : YAML::LoadAllFromFile((k8s_dir / file).string())) {
    if (doc["kind"] && doc["kind"].as<std::string>() == kind) {
      EXPECT_FALSE(found) << file << ": more than one " << kind;
      found.emplace(doc);
    }
  }
  EXPECT_TRUE(found) << file << ": no " << kind;
  return found;
}

std::vector<std::string> strings(const YAML::Node& seq) {
  std::vector<std::string> out;
  for (const auto& n : seq) out.push_back(n.as<std::string>());
  return out;
}

// The value after FLAG in ARGS, or "" when absent.
std::string flag_value(const std::vector<std::string>& args, const std::string& flag) {
  const auto it = std::find(args.begin(), args.end(), flag);
  return it == args.end() || it + 1 == args.end() ? "" : *(it + 1);
}

std::optional<YAML::Node> volume(const YAML::Node& pod, const std::string& name) {
  for (const auto& v : pod["volumes"])
    if (v["name"].as<std::string>() == name) return v;
  return std::nullopt;
}

std::string mount_path(const YAML::Node& container, const std::string& volume_name) {
  for (const auto& m : container["volumeMounts"])
    if (m["name"].as<std::string>() == volume_name) return m["mountPath"].as<std::string>();
  return "";
}

// What every batchcut pod must hold, whatever runs it. Returns the container's args.
std::vector<std::string> check_pod(const YAML::Node& pod, const std::string& file) {
  SCOPED_TRACE(file);
  EXPECT_EQ(pod["restartPolicy"].as<std::string>(), "Never");
  EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>());
  EXPECT_FALSE(pod["automountServiceAccountToken"].as<bool>());
  // Long enough for the drain after SIGTERM (--drain-timeout, 30 s).
  EXPECT_GT(pod["terminationGracePeriodSeconds"].as<int>(), 30);
  EXPECT_EQ(pod["containers"].size(), 1u);
  const YAML::Node c = pod["containers"][0];
  EXPECT_FALSE(c["securityContext"]["allowPrivilegeEscalation"].as<bool>());
  EXPECT_TRUE(c["securityContext"]["readOnlyRootFilesystem"].as<bool>());
  const auto args = strings(c["args"]);
  EXPECT_FALSE(args.empty());
  if (args.empty()) return args;
  EXPECT_EQ(args.front(), "run");

  // The key: a Secret volume, mounted read-only, and --api-key-file a file in it.
  const auto key_volume = volume(pod, "api-key");
  EXPECT_TRUE(key_volume && (*key_volume)["secret"]["secretName"]) << "no Secret volume api-key";
  const std::string key_dir = mount_path(c, "api-key");
  EXPECT_FALSE(key_dir.empty()) << "the Secret is not mounted";
  EXPECT_EQ(flag_value(args, "--api-key-file").rfind(key_dir + "/", 0), 0u)
      << "--api-key-file is not in the Secret's mount " << key_dir;
  // ... and never a value in the environment or on the command line.
  for (const auto& e : c["env"]) {
    const auto name = e["name"].as<std::string>();
    EXPECT_NE(name, "VP_API_KEY") << "the key goes in a file, not the environment";
    EXPECT_FALSE(e["value"] && std::regex_search(name, std::regex("KEY|TOKEN|SECRET|PASSWORD",
                                                                  std::regex::icase)))
        << "a literal secret in env: " << name;
  }
  for (const auto& a : args) EXPECT_NE(a.rfind("--api-key=", 0), 0u) << a;
  EXPECT_EQ(std::find(args.begin(), args.end(), "--api-key"), args.end());

  // The ledger: on a PVC, so it outlives the pod.
  const auto ledger_volume = volume(pod, "ledgers");
  EXPECT_TRUE(ledger_volume && (*ledger_volume)["persistentVolumeClaim"]["claimName"]);
  const std::string ledger_dir = mount_path(c, "ledgers");
  EXPECT_FALSE(ledger_dir.empty());
  EXPECT_EQ(flag_value(args, "--ledger").rfind(ledger_dir + "/", 0), 0u)
      << "--ledger is not on the PVC mounted at " << ledger_dir;
  return args;
}

// The PVC the pod claims is the one the file defines.
void check_claim(const std::string& file, const YAML::Node& pod) {
  const auto pvc = document(file, "PersistentVolumeClaim");
  const auto ledgers = volume(pod, "ledgers");
  ASSERT_TRUE(pvc && ledgers);
  EXPECT_EQ((*ledgers)["persistentVolumeClaim"]["claimName"].as<std::string>(),
            (*pvc)["metadata"]["name"].as<std::string>());
}

TEST(DeployK8s, CronJobRunsOneAtATimeWithTheKeyAsASecretFile) {
  const auto found = document("cronjob.yaml", "CronJob");
  ASSERT_TRUE(found);
  const YAML::Node& cron = *found;
  EXPECT_EQ(cron["apiVersion"].as<std::string>(), "batch/v1");
  EXPECT_EQ(cron["spec"]["concurrencyPolicy"].as<std::string>(), "Forbid");
  EXPECT_EQ(cron["spec"]["schedule"].as<std::string>(), "30 1 * * *");
  const YAML::Node pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
  ASSERT_TRUE(pod);
  check_pod(pod, "cronjob.yaml");
  check_claim("cronjob.yaml", pod);
}

TEST(DeployK8s, IndexedJobGivesEachIndexItsShardAndItsOwnLedger) {
  const auto found = document("indexed-job.yaml", "Job");
  ASSERT_TRUE(found);
  const YAML::Node& job = *found;
  EXPECT_EQ(job["apiVersion"].as<std::string>(), "batch/v1");
  EXPECT_EQ(job["spec"]["completionMode"].as<std::string>(), "Indexed");
  const YAML::Node pod = job["spec"]["template"]["spec"];
  ASSERT_TRUE(pod);
  const auto args = check_pod(pod, "indexed-job.yaml");
  // --shards N with N == completions: every index has a shard, no shard is left without one.
  EXPECT_EQ(flag_value(args, "--shards"), job["spec"]["completions"].as<std::string>());
  EXPECT_NE(flag_value(args, "--ledger").find("$(JOB_COMPLETION_INDEX)"), std::string::npos)
      << "the shards would share one ledger";
  // Pods of one Job may run on different nodes at once.
  const auto pvc = document("indexed-job.yaml", "PersistentVolumeClaim");
  ASSERT_TRUE(pvc);
  EXPECT_EQ((*pvc)["spec"]["accessModes"][0].as<std::string>(), "ReadWriteMany");
  check_claim("indexed-job.yaml", pod);
}

}  // namespace
