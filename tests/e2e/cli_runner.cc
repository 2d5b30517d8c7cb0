#include "tests/e2e/cli_runner.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

extern char** environ;

namespace llmbench::e2e {

std::string LocalWorkerProcesses::List() const { return absl::StrJoin(addresses, ","); }

absl::StatusOr<LocalWorkerProcesses> StartLocalWorkerProcesses(int count,
                                                               const std::string& id_prefix) {
  LocalWorkerProcesses workers;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<std::unique_ptr<testing::Subprocess>> worker = testing::Subprocess::Start(
        {LLMBENCH_WORKER_BINARY, "--listen", "127.0.0.1:0", "--loop-threads", "1", "--worker-id",
         absl::StrCat(id_prefix, i), "--log-level", "warn"});
    if (!worker.ok()) return worker.status();
    auto line = (*worker)->WaitForStdoutLine(0, std::chrono::seconds(15));
    constexpr std::string_view kPrefix = "listening grpc://";
    if (!line.ok() || !line->second.starts_with(kPrefix)) {
      return absl::InternalError(absl::StrCat(
          "worker ", i, " did not print its address: ",
          line.ok() ? line->second : std::string(line.status().message()), "; stderr: ",
          (*worker)->Stderr()));
    }
    workers.addresses.push_back(line->second.substr(kPrefix.size()));
    workers.processes.push_back(*std::move(worker));
  }
  return workers;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

CliRun RunLlmbench(const std::vector<std::string>& args, const std::string& scratch,
                   std::chrono::seconds timeout, const std::function<void(pid_t)>& while_running) {
  static std::atomic<int> counter{0};
  const int n = counter++;
  const std::string out_path = absl::StrCat(scratch, "/llmbench.", n, ".stdout");
  const std::string err_path = absl::StrCat(scratch, "/llmbench.", n, ".stderr");
  std::vector<std::string> argv = {LLMBENCH_COORDINATOR_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> c_argv;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  // The environment minus any worker token (the workers this test starts need none) plus the
  // worker binary of this build for local workers.
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    if (kv.starts_with("LLMBENCH_TOKEN=") || kv.starts_with("LLMBENCH_WORKER_TOKEN=") ||
        kv.starts_with("LLMBENCH_WORKER_BIN=")) {
      continue;
    }
    env.emplace_back(kv);
  }
  env.push_back(absl::StrCat("LLMBENCH_WORKER_BIN=", LLMBENCH_WORKER_BINARY));
  std::vector<char*> c_env;
  for (std::string& e : env) c_env.push_back(e.data());
  c_env.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, c_argv[0], &actions, &attr, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  CliRun run;
  if (rc != 0) {
    run.err = absl::StrCat("posix_spawn ", c_argv[0], " failed: ", rc);
    return run;
  }
  const auto started = std::chrono::steady_clock::now();
  std::thread hook;
  if (while_running) hook = std::thread([&] { while_running(pid); });
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  bool reaped = false;
  while (!reaped) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      reaped = true;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      // Hung: interrupt it (it writes partial results and stops its local workers), then kill
      // its whole process group.
      kill(pid, SIGTERM);
      for (int i = 0; i < 500 && waitpid(pid, &status, WNOHANG) != pid; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      reaped = true;
      ADD_FAILURE() << "llmbench " << absl::StrJoin(args, " ") << " still running after "
                    << timeout.count() << " s; killed";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  run.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (hook.joinable()) hook.join();
  if (WIFEXITED(status)) {
    run.exited = true;
    run.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    run.signal = WTERMSIG(status);
  }
  // Local workers share the coordinator's process group; it must have stopped them. After a
  // crash they would be orphans: stop them here either way.
  if (kill(-pid, 0) == 0) {
    if (run.exited) ADD_FAILURE() << "llmbench exited but left processes running (local workers?)";
    kill(-pid, SIGKILL);
  }
  run.out = ReadFile(out_path);
  run.err = ReadFile(err_path);
  return run;
}

// Nobody else on this machine takes ephemeral ports that fast in practice; the kernel does
// not hand the same one out again immediately.
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// ---------------------------------------------------------------------------------------------
// requests.csv

size_t Csv::Column(const std::string& name) const {
  auto it = std::find(header.begin(), header.end(), name);
  EXPECT_NE(it, header.end()) << "requests.csv has no column " << name;
  return it == header.end() ? 0 : static_cast<size_t>(it - header.begin());
}

const std::string& Csv::Get(size_t row, const std::string& name) const {
  return rows[row][Column(name)];
}

int64_t Csv::Int(size_t row, const std::string& name) const {
  int64_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(Get(row, name), &v))
      << "row " << row << " column " << name << ": \"" << Get(row, name) << "\"";
  return v;
}

uint64_t Csv::Uint(size_t row, const std::string& name) const {
  uint64_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(Get(row, name), &v))
      << "row " << row << " column " << name << ": \"" << Get(row, name) << "\"";
  return v;
}

Csv ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> lines = llmbench::testing::ParseCsvRecords(text);
  Csv csv;
  if (lines.empty()) return csv;
  csv.header = lines[0];
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].size(), csv.header.size()) << "requests.csv line " << i + 1;
    csv.rows.push_back(std::move(lines[i]));
  }
  return csv;
}

}  // namespace llmbench::e2e
