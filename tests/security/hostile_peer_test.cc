// Hostile peers against real llmbench-worker processes over loopback (issue 14,
// docs/security.md and docs/reliability.md):
//
// - a burst of connections up to the open-file limit (prlimit 256) must not wedge a worker
//   (plaintext + token, and mutual TLS + token): `llmbench health` answers once they close;
// - a second worker on the same port fails at start (no SO_REUSEPORT);
// - an HTTP/2 CONTINUATION flood before any token is refused with bounded memory;
// - a frozen coordinator (SIGSTOP) has its shard stopped by the worker, which says why;
// - local workers die with their coordinator, even when it is SIGKILLed.
//
// Deadlines are generous (the CI machine has 2 shared cores); no test depends on a duration.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "coordinator/worker_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace llmbench {
namespace {

namespace fs = std::filesystem;
using llmbench::testing::SimProcess;
using llmbench::testing::Subprocess;
using ::testing::HasSubstr;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "llmbench-hostile-XXXXXX").string();
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

// Runs a program to completion and returns its exit code (-1 when it did not exit).
int RunToEnd(const std::vector<std::string>& argv, std::string* err = nullptr,
        std::vector<std::string> env = {}) {
  auto process = Subprocess::Start(argv, std::move(env));
  if (!process.ok()) return -1;
  auto status = (*process)->Wait(std::chrono::seconds(120));
  while ((*process)->WaitForStdoutLine((*process)->StdoutLines().size(), std::chrono::seconds(5))
             .ok()) {
  }
  if (err != nullptr) *err = (*process)->Stderr();
  return status.ok() && status->exited ? status->code : -1;
}

struct Certs {
  TempDir dir;
  std::string ca, server_cert, server_key, client_cert, client_key;
};

const Certs& TestCerts() {
  static Certs* certs = [] {
    auto* c = new Certs();
    const std::vector<std::string> key = {"-newkey", "ec", "-pkeyopt",
                                          "ec_paramgen_curve:prime256v1", "-nodes"};
    auto run = [](std::vector<std::string> argv) {
      argv.insert(argv.begin(), "/usr/bin/openssl");
      EXPECT_EQ(RunToEnd(argv), 0) << argv[1];
    };
    std::vector<std::string> ca = {"req", "-x509"};
    ca.insert(ca.end(), key.begin(), key.end());
    ca.insert(ca.end(), {"-keyout", c->dir / "ca.key", "-out", c->dir / "ca.pem", "-days", "2",
                         "-subj", "/CN=hostile-ca"});
    run(ca);
    for (const std::string name : {"server", "client"}) {
      std::vector<std::string> req = {"req", "-new"};
      req.insert(req.end(), key.begin(), key.end());
      req.insert(req.end(), {"-keyout", c->dir / (name + ".key"), "-out", c->dir / (name + ".csr"),
                             "-subj", "/CN=" + name});
      run(req);
      WriteFile(c->dir / (name + ".ext"),
                name == "server" ? "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                                 : "extendedKeyUsage=clientAuth\n");
      run({"x509", "-req", "-in", c->dir / (name + ".csr"), "-CA", c->dir / "ca.pem", "-CAkey",
           c->dir / "ca.key", "-set_serial", name == "server" ? "2" : "3", "-days", "2", "-out",
           c->dir / (name + ".pem"), "-extfile", c->dir / (name + ".ext")});
    }
    c->ca = c->dir / "ca.pem";
    c->server_cert = c->dir / "server.pem";
    c->server_key = c->dir / "server.key";
    c->client_cert = c->dir / "client.pem";
    c->client_key = c->dir / "client.key";
    return c;
  }();
  return *certs;
}

struct Worker {
  std::unique_ptr<Subprocess> process;
  std::string address;
  int port = 0;
};

// Starts llmbench-worker (through `prefix`, e.g. prlimit) on 127.0.0.1:0.
Worker StartWorker(std::vector<std::string> args, std::vector<std::string> prefix = {}) {
  std::vector<std::string> argv = prefix;
  argv.insert(argv.end(), {LLMBENCH_WORKER_BINARY, "--loop-threads", "1", "--listen",
                           "127.0.0.1:0"});
  argv.insert(argv.end(), args.begin(), args.end());
  Worker worker;
  auto process = Subprocess::Start(argv);
  if (!process.ok()) {
    ADD_FAILURE() << process.status();
    return worker;
  }
  worker.process = *std::move(process);
  auto line = worker.process->WaitForStdoutLine(0, std::chrono::seconds(30));
  if (!line.ok() || !absl::StartsWith(line->second, "listening grpc://")) {
    ADD_FAILURE() << "worker did not start\n" << worker.process->Stderr();
    return worker;
  }
  worker.address = line->second.substr(std::string("listening grpc://").size());
  worker.port = std::stoi(worker.address.substr(worker.address.rfind(':') + 1));
  return worker;
}

int Connect(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

// kB of a /proc/PID/status field (VmRSS, VmHWM).
int64_t StatusKb(pid_t pid, const std::string& field) {
  std::istringstream in(ReadAll(fs::path("/proc") / std::to_string(pid) / "status"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, field + ":")) {
      int64_t kb = 0;
      std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (parts.size() >= 2 && absl::SimpleAtoi(parts[parts.size() - 2], &kb)) return kb;
    }
  }
  return -1;
}

bool Alive(pid_t pid) {
  const std::string stat = ReadAll(fs::path("/proc") / std::to_string(pid) / "stat");
  const size_t close_paren = stat.rfind(')');
  return close_paren != std::string::npos && close_paren + 2 < stat.size() &&
         stat[close_paren + 2] != 'Z';
}

// Waits until `text()` contains `what`; false after `timeout`.
template <typename Text>
bool WaitFor(Text text, const std::string& what, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (absl::StrContains(text(), what)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Item 1: before, 300 connections under `ulimit -n 256` made gRPC's listener log
// "Failed accept4: Too many open files" and never accept again (health: Deadline Exceeded).

TEST(HostilePeerTest, ConnectionBurstAtTheFileLimitDoesNotWedgeTheWorker) {
  TempDir dir;
  const std::string token_file = dir / "token";
  WriteFile(token_file, "hostile-test-token\n");
  const Certs& certs = TestCerts();
  for (bool tls : {false, true}) {
    SCOPED_TRACE(tls ? "mutual TLS + token" : "plaintext + token");
    std::vector<std::string> args = {"--token-file", token_file};
    if (tls) {
      args.insert(args.end(), {"--tls-cert", certs.server_cert, "--tls-key", certs.server_key,
                               "--tls-client-ca", certs.ca});
    }
    Worker worker = StartWorker(args, {"/usr/bin/prlimit", "--nofile=256:256", "--"});
    ASSERT_FALSE(worker.address.empty());
    std::vector<int> fds;
    for (int i = 0; i < 300; ++i) fds.push_back(Connect(worker.port));
    EXPECT_TRUE(WaitFor([&] { return worker.process->Stderr(); },
                        "new connections wait: 64 are open, the most this worker accepts "
                        "(--max-connections)",
                        std::chrono::seconds(30)))
        << worker.process->Stderr();
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
    std::vector<std::string> health = {LLMBENCH_COORDINATOR_BINARY, "health", worker.address,
                                       "--timeout", "20"};
    if (tls) {
      health.insert(health.end(), {"--tls-ca", certs.ca, "--tls-cert", certs.client_cert,
                                   "--tls-key", certs.client_key});
    }
    std::string err;
    EXPECT_EQ(RunToEnd(health, &err), 0) << err << "\n" << worker.process->Stderr();
    // A full call with the token goes through too.
    absl::StatusOr<coordinator::WorkerClientSecurity> security =
        coordinator::LoadWorkerClientSecurity(tls ? certs.ca : "", tls ? certs.client_cert : "",
                                              tls ? certs.client_key : "", token_file);
    ASSERT_TRUE(security.ok()) << security.status();
    coordinator::WorkerClient client(worker.address, *security);
    absl::StatusOr<coordinator::WorkerInfo> info = client.Describe(1, 20000);
    EXPECT_TRUE(info.ok()) << info.status();
    EXPECT_THAT(worker.process->Stderr(), ::testing::Not(HasSubstr("Failed accept4")));
    EXPECT_THAT(worker.process->Stderr(), HasSubstr("at most 64 connections, open-file limit 256"));
  }
}

// Before: gRPC bound with SO_REUSEPORT, so a second worker on the same port started silently
// and the kernel split connections between the two.
TEST(HostilePeerTest, SecondWorkerOnTheSamePortFailsAtStart) {
  Worker first = StartWorker({});
  ASSERT_FALSE(first.address.empty());
  std::string err;
  EXPECT_EQ(RunToEnd({LLMBENCH_WORKER_BINARY, "--loop-threads", "1", "--listen", first.address}, &err),
            1);
  EXPECT_EQ(err, absl::StrCat("llmbench-worker: cannot listen on ", first.address,
                              ": Address already in use (another process, perhaps another "
                              "llmbench-worker, listens there)\n"));
}

// ---------------------------------------------------------------------------------------------
// Item 5: HTTP/2 CONTINUATION flood before the token check. gRPC 1.51 buffers a header field
// that never ends, whatever GRPC_ARG_MAX_METADATA_SIZE says.

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  std::string frame;
  const auto length = static_cast<uint32_t>(payload.size());
  frame.push_back(static_cast<char>(length >> 16));
  frame.push_back(static_cast<char>(length >> 8));
  frame.push_back(static_cast<char>(length));
  frame.push_back(static_cast<char>(type));
  frame.push_back(static_cast<char>(flags));
  for (int shift = 24; shift >= 0; shift -= 8) frame.push_back(static_cast<char>(stream >> shift));
  return frame + payload;
}

// One flooding connection: preface, SETTINGS (+ ACK), then a HEADERS frame without END_HEADERS
// whose literal header name has a length prefix that never ends (HPACK allows endless 0x80
// continuation bytes) and CONTINUATION frames of 16 KiB until `bytes` were sent or the worker
// closed the connection. Returns the bytes the kernel accepted.
size_t Flood(int port, size_t bytes) {
  const int fd = Connect(port);
  if (fd < 0) return 0;
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  std::string start = std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + Frame(4, 0, 0, "") +
                      Frame(4, 1, 0, "");
  std::string first("\x00\x7f\xff", 3);
  first += std::string(16384 - first.size(), '\x80');
  start += Frame(1, 0, 1, first);
  const std::string continuation = Frame(9, 0, 1, std::string(16384, '\x80'));
  size_t sent = 0;
  for (const std::string* chunk = &start; sent < bytes; chunk = &continuation) {
    const ssize_t n = send(fd, chunk->data(), chunk->size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // hold it while the worker parses
  close(fd);
  return sent;
}

TEST(HostilePeerTest, ContinuationFloodBeforeTheTokenIsRefusedWithBoundedMemory) {
  TempDir dir;
  const std::string token_file = dir / "token";
  WriteFile(token_file, "hostile-test-token\n");
  Worker worker = StartWorker({"--token-file", token_file});
  ASSERT_FALSE(worker.address.empty());
  const int64_t before_kb = StatusKb(worker.process->pid(), "VmHWM");
  ASSERT_GT(before_kb, 0);
  std::vector<std::thread> threads;
  std::atomic<size_t> sent{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] { sent += Flood(worker.port, 6'500'000); });
  }
  for (std::thread& t : threads) t.join();
  const int64_t after_kb = StatusKb(worker.process->pid(), "VmHWM");
  std::printf("CONTINUATION flood: %.1f MB accepted by the kernel, worker VmHWM %.1f -> %.1f MiB\n",
              static_cast<double>(sent.load()) / 1e6, static_cast<double>(before_kb) / 1024,
              static_cast<double>(after_kb) / 1024);
  // gRPC 1.51 alone: +36 MiB for this flood (4 MB per connection before its settings timeout);
  // with the guard each connection is closed after 64 KiB of header block.
  EXPECT_LT(after_kb - before_kb, 16 * 1024) << "worker peak RSS grew by " << after_kb - before_kb
                                             << " kB";
  EXPECT_THAT(worker.process->Stderr(),
              HasSubstr(": an HTTP/2 header block (HEADERS + CONTINUATION) of more than 65536 "
                        "bytes ("));
  coordinator::WorkerClientSecurity security;
  security.token = "hostile-test-token";
  coordinator::WorkerClient client(worker.address, security);
  absl::StatusOr<coordinator::WorkerInfo> info = client.Describe(1, 20000);
  EXPECT_TRUE(info.ok()) << info.status();
}

// ---------------------------------------------------------------------------------------------
// Coordinator faults seen from the worker.

SimProcess& Sim() {
  static SimProcess* sim = [] {
    SimProcess::Options options;
    options.kinds = {"vllm"};
    options.args = {"--jitter", "0", "--ttft-base-ms", "1", "--itl-ms", "1"};
    auto started = SimProcess::Start(options);
    if (!started.ok()) {
      ADD_FAILURE() << started.status();
      std::abort();
    }
    return started->release();
  }();
  return *sim;
}

// Before: a SIGSTOPped coordinator was reported as a frozen worker while the worker went on
// sending load for 40 s (until keepalive gave up).
TEST(HostilePeerTest, WorkerStopsTheShardOfAFrozenCoordinator) {
  TempDir dir;
  Worker worker = StartWorker({});
  ASSERT_FALSE(worker.address.empty());
  auto coordinator = Subprocess::Start(
      {LLMBENCH_COORDINATOR_BINARY, "load", "-e", "vllm", "-u", Sim().BaseUrl("vllm"), "-m",
       "sim-model", "-c", "32", "-d", "120", "--max-tokens", "4", "--no-engine-check",
       "--workers", worker.address, "--quiet", "--out", dir / "results"});
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  ASSERT_TRUE(WaitFor([&] { return worker.process->Stderr(); }, "/0 started",
                      std::chrono::seconds(60)))
      << worker.process->Stderr() << (*coordinator)->Stderr();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  (*coordinator)->Signal(SIGSTOP);
  // gRPC takes writes into its own buffer while the frozen peer's kernel still acknowledges,
  // so what ends the shard is the keepalive (10 s pings, 10 s timeout) or, when gRPC pushes
  // back, the write stall (10 s).
  const bool stopped = WaitFor([&] { return worker.process->Stderr(); }, "; stopping the shard",
                               std::chrono::seconds(60));
  const bool done = WaitFor([&] { return worker.process->Stderr(); }, "/0 done: ",
                            std::chrono::seconds(60));
  (*coordinator)->Signal(SIGCONT);
  (*coordinator)->Stop();
  EXPECT_TRUE(stopped) << worker.process->Stderr();
  EXPECT_TRUE(done) << worker.process->Stderr();
  const std::string log = worker.process->Stderr();
  EXPECT_TRUE(absl::StrContains(log, ": the RunShard call ended (cancelled by the coordinator, or "
                                     "its connection was lost: no answer to keepalive pings "
                                     "within 20 s); stopping the shard") ||
              absl::StrContains(log, ": no write to the coordinator completed for 10000 ms (it "
                                     "stopped reading: frozen, or cut off); stopping the shard"))
      << log;
}

std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> children;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    const std::string stat = ReadAll(entry.path() / "stat");
    const size_t close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::vector<std::string> fields = absl::StrSplit(stat.substr(close_paren + 2), ' ');
    if (fields.size() > 1 && fields[1] == std::to_string(parent)) {
      children.push_back(static_cast<pid_t>(std::stoi(name)));
    }
  }
  return children;
}

// Before: SIGKILL of the coordinator left its local workers running for good.
TEST(HostilePeerTest, LocalWorkersDieWithAKilledCoordinator) {
  TempDir dir;
  auto coordinator = Subprocess::Start(
      {LLMBENCH_COORDINATOR_BINARY, "load", "-e", "vllm", "-u", Sim().BaseUrl("vllm"), "-m",
       "sim-model", "-c", "2", "-d", "120", "--max-tokens", "4", "--local-workers", "2",
       "--quiet", "--out", dir / "results"},
      {absl::StrCat("LLMBENCH_WORKER_BIN=", LLMBENCH_WORKER_BINARY)});
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  std::vector<pid_t> workers;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (workers.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    workers = ChildrenOf((*coordinator)->pid());
  }
  ASSERT_EQ(workers.size(), 2u) << (*coordinator)->Stderr();
  for (pid_t pid : workers) {
    EXPECT_THAT(ReadAll(fs::path("/proc") / std::to_string(pid) / "cmdline"),
                HasSubstr(std::string("--exit-with-parent\0", 19) +
                          std::to_string((*coordinator)->pid())));
  }
  (*coordinator)->Signal(SIGKILL);
  (*coordinator)->Wait(std::chrono::seconds(10)).IgnoreError();
  for (pid_t pid : workers) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (Alive(pid) && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_FALSE(Alive(pid)) << "local worker " << pid << " outlived its coordinator";
    if (Alive(pid)) kill(pid, SIGKILL);
  }
}

class Cleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    delete &Sim();
    delete &TestCerts();
  }
};
const auto* const kCleanup = ::testing::AddGlobalTestEnvironment(new Cleanup);

}  // namespace
}  // namespace llmbench
