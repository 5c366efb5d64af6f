#include "support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace batchcut::test {

namespace {

// argv and envp for execve: this process's environment plus `env` ("NAME=value").
struct ExecArgs {
  std::vector<std::string> envs;
  std::vector<char*> argv, envp;
  ExecArgs(const std::string& program, const std::vector<std::string>& args,
           const std::vector<std::string>& env) {
    // A variable given in `env` replaces the inherited one (a child's getenv finds the first).
    auto named = [&env](const std::string& entry) {
      const auto name = entry.substr(0, entry.find('=') + 1);
      for (const auto& e : env)
        if (e.starts_with(name)) return true;
      return false;
    };
    for (char** e = environ; *e; ++e)
      if (!named(*e)) envs.emplace_back(*e);
    for (const auto& e : env) envs.push_back(e);
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
};

// As a shell reports it: the exit status, 128 + signal when killed, -2 for our hang guard.
int exit_code_of(int status, bool timed_out) {
  if (timed_out) return -2;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

TempDir::TempDir() {
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (int i = 0; i < 100; ++i) {
    auto candidate = base / ("batchcut-test-" + std::to_string(rd()));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temp dir");
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ProcessResult run_process(const std::string& program, const std::vector<std::string>& args,
                          const std::vector<std::string>& env, int timeout_seconds) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  ExecArgs exec(program, args, env);

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    execve(program.c_str(), exec.argv.data(), exec.envp.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  ProcessResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  int open_fds = 2;
  bool timed_out = false;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      timed_out = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  result.exit_code = exit_code_of(status, timed_out);
  result.max_rss_kb = usage.ru_maxrss;
  return result;
}

Child start_process(const std::string& program, const std::vector<std::string>& args,
                    const std::vector<std::string>& env, const std::filesystem::path& dir) {
  static int counter = 0;
  Child child;
  const std::string tag = std::to_string(getpid()) + "-" + std::to_string(++counter);
  child.out = dir / ("child-" + tag + ".out");
  child.err = dir / ("child-" + tag + ".err");
  ExecArgs exec(program, args, env);
  const int out_fd = open(child.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err_fd = open(child.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    execve(program.c_str(), exec.argv.data(), exec.envp.data());
    _exit(127);
  }
  close(out_fd);
  close(err_fd);
  child.pid = pid;
  return child;
}

ProcessResult Child::wait(int timeout_seconds) {
  ProcessResult result;
  // Wait on the child's exit as an event (a pidfd polls readable when it exits), with the
  // timeout as a hang guard.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  bool timed_out = false;
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    timed_out = poll(&p, 1, timeout_seconds * 1000) == 0;
    close(pidfd);
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = exit_code_of(status, timed_out);
  result.out = read_file(out);
  result.err = read_file(err);
  return result;
}

}  // namespace batchcut::test
