// End-to-end tests of the worker's HTTP engine client over TLS and HTTP/2: shards run through
// ShardRunner against https://127.0.0.1:PORT, where a real TLS + HTTP/2 reverse proxy (nghttpx,
// Debian package nghttp2-proxy) terminates TLS (ALPN h2 and http/1.1) in front of llmbench-sim.
//
// The certificates are made per test binary with the `openssl` command line in a temporary
// folder: CA "ca" signs the proxy's certificate (SAN IP:127.0.0.1); CA "other-ca" signs nothing
// the proxy presents. The worker trusts a CA through Engine.tls_ca_file.
//
// nghttpx writes one access-log line per request: "$alpn $remote_port $request $status"; that
// log is the independent witness of the protocol the worker really spoke (h2 vs http/1.1) and of
// how many TLS connections it opened (one client port per connection).
//
// The simulator runs with the same deterministic latency model as worker_integration_test.cc:
// prefill 30 ms, decode steps of 10 ms, no natural EOS, so each request yields max_tokens tokens.
// Tolerance: p50 TTFT and p50 ITL within kToleranceMs = 5 ms of the simulator's truth (the 3 ms
// of the plain-HTTP tests plus 2 ms for the proxy hop and TLS on a shared 2-core machine).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"
#include "worker/event_loop.h"
#include "worker/shard_runner.h"

namespace llmbench::worker {
namespace {

namespace fs = std::filesystem;
using llmbench::testing::SimProcess;
using llmbench::testing::Subprocess;
using llmbench::v1::RequestRecord;
using llmbench::v1::Shard;
using ::testing::HasSubstr;

constexpr char kNghttpx[] = "/usr/sbin/nghttpx";
constexpr char kOpenssl[] = "/usr/bin/openssl";
constexpr double kTtftMs = 30;
constexpr double kItlMs = 10;
constexpr double kToleranceMs = 5;
constexpr uint32_t kMaxTokens = 8;
constexpr uint32_t kConcurrency = 4;
constexpr uint32_t kLoopThreads = 2;
constexpr auto kProcessTimeout = std::chrono::seconds(30);
constexpr char kChatPath[] = "/v1/chat/completions";

// A fresh folder under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp",
                                       "/llmbench-engine-tls-XXXXXX");
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  bool ok() const { return !path_.empty(); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// Runs a program to completion; fails the test on a non-zero exit.
void RunOk(const std::vector<std::string>& argv) {
  auto process = Subprocess::Start(argv);
  ASSERT_TRUE(process.ok()) << process.status();
  auto status = (*process)->Wait(kProcessTimeout);
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(status->exited && status->code == 0)
      << absl::StrJoin(argv, " ") << "\n" << (*process)->Stderr();
}

void MakeCa(const TempDir& dir, const std::string& name) {
  RunOk({kOpenssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", dir / (name + ".key"), "-out", dir / (name + ".pem"), "-days", "2",
         "-subj", "/CN=llmbench-tls-test-" + name});
}

void MakeServerCert(const TempDir& dir, const std::string& ca, const std::string& name) {
  RunOk({kOpenssl, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", dir / (name + ".key"), "-out", dir / (name + ".csr"), "-subj",
         "/CN=llmbench-tls-test-" + name});
  {
    std::ofstream ext(dir / (name + ".ext"));
    ext << "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n"
           "extendedKeyUsage=serverAuth\n";
  }
  RunOk({kOpenssl, "x509", "-req", "-in", dir / (name + ".csr"), "-CA", dir / (ca + ".pem"),
         "-CAkey", dir / (ca + ".key"), "-set_serial", "2", "-days", "2", "-out",
         dir / (name + ".pem"), "-extfile", dir / (name + ".ext")});
}

// A port that was free a moment ago on 127.0.0.1 (bound to 0, read back, closed). Another
// process may take it before nghttpx binds it; StartProxy retries with a new port then.
int PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// One nghttpx reverse proxy: TLS frontend on 127.0.0.1:port, plain HTTP/1.1 backend = the sim.
struct Proxy {
  std::unique_ptr<Subprocess> process;
  int port = 0;
  std::string access_log;
  std::string BaseUrl() const { return absl::StrCat("https://127.0.0.1:", port); }
};

// Access-log lines of chat requests, waiting (up to 10 s) until there are `want` of them:
// nghttpx logs a request when its response has been sent, which can trail the worker's record.
std::vector<std::string> ChatLogLines(const Proxy& proxy, size_t want) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<std::string> chat;
  while (true) {
    chat.clear();
    for (const std::string& line : ReadLines(proxy.access_log)) {
      if (line.find(kChatPath) != std::string::npos) chat.push_back(line);
    }
    if (chat.size() >= want || std::chrono::steady_clock::now() > deadline) return chat;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

class WorkerEngineTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(kNghttpx)) return;  // SetUp fails every test with the reason
    certs_ = new TempDir();
    if (!certs_->ok()) return;
    MakeCa(*certs_, "ca");
    MakeCa(*certs_, "other-ca");
    MakeServerCert(*certs_, "ca", "server");
    SimProcess::Options options;
    options.kinds = {"vllm"};
    options.args = {"--jitter",    "0",  "--ttft-base-ms",   "30", "--ttft-per-token-us", "0",
                    "--itl-ms",    "10", "--itl-per-seq-us", "0",  "--natural-tokens",    "0",
                    "--max-batch", "256", "--threads",       "2"};
    auto sim = SimProcess::Start(options);
    if (sim.ok()) {
      sim_ = sim->release();
    } else {
      sim_error_ = new std::string(sim.status().ToString());
    }
  }
  static void TearDownTestSuite() {
    delete sim_;
    sim_ = nullptr;
    delete sim_error_;
    sim_error_ = nullptr;
    delete certs_;
    certs_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(fs::exists(kNghttpx))
        << kNghttpx << " not found: these tests need nghttpx, the TLS + HTTP/2 reverse proxy "
        << "from Debian's nghttp2-proxy package (scripts/install-deps.sh installs it)";
    ASSERT_NE(certs_, nullptr);
    ASSERT_TRUE(certs_->ok()) << "could not create a temporary folder for the certificates";
    ASSERT_TRUE(fs::exists(*certs_ / "server.pem")) << "openssl did not make the certificates";
    ASSERT_NE(sim_, nullptr) << (sim_error_ != nullptr ? *sim_error_ : "");
    ASSERT_TRUE(log_dir_.ok());
    StartProxy();
  }

  // Starts nghttpx on a free port; retries (up to 5 ports) when the port was taken meanwhile.
  void StartProxy() {
    std::string last_stderr;
    for (int attempt = 0; attempt < 5; ++attempt) {
      const int port = PickFreePort();
      ASSERT_GT(port, 0);
      proxy_.port = port;
      proxy_.access_log = log_dir_ / absl::StrCat("access-", attempt, ".log");
      auto process = Subprocess::Start({
          kNghttpx,
          "--conf=/dev/null",  // not /etc/nghttpx/nghttpx.conf
          absl::StrCat("--frontend=127.0.0.1,", port),
          absl::StrCat("--backend=127.0.0.1,", sim_->Port("vllm")),
          "--workers=1",
          "--no-ocsp",
          "--accesslog-file=" + proxy_.access_log,
          "--accesslog-format=$alpn $remote_port $request $status",
          *certs_ / "server.key",
          *certs_ / "server.pem",
      });
      ASSERT_TRUE(process.ok()) << process.status();
      proxy_.process = std::move(*process);
      // Ready when a TCP connect to the port succeeds while nghttpx is still running.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
      bool exited = false;
      while (std::chrono::steady_clock::now() < deadline) {
        if (proxy_.process->Wait(std::chrono::milliseconds(0)).ok()) {
          exited = true;
          break;
        }
        if (CanConnect(port)) {
          // A failed bind makes nghttpx exit at once; give it that moment, then re-check.
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          if (!proxy_.process->Wait(std::chrono::milliseconds(0)).ok()) return;
          exited = true;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      ASSERT_TRUE(exited) << "nghttpx did not listen on 127.0.0.1:" << port << " within 15 s\n"
                          << proxy_.process->Stderr();
      last_stderr = proxy_.process->Stderr();
    }
    FAIL() << "nghttpx exited at startup 5 times; last stderr:\n" << last_stderr;
  }

  static bool CanConnect(int port) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    return ok;
  }

  Shard MakeShard(uint64_t first_id, uint64_t count, bool http2, const std::string& ca) const {
    Shard shard;
    shard.set_run_id("run-tls-test");
    shard.set_shard_index(0);
    shard.set_shard_count(1);
    llmbench::v1::Engine* engine = shard.mutable_engine();
    engine->set_name("vllm");
    engine->set_kind(llmbench::v1::ENGINE_KIND_VLLM);
    engine->set_api(llmbench::v1::API_CHAT_COMPLETIONS);
    engine->set_base_url(proxy_.BaseUrl());
    engine->set_model("sim-model");
    engine->set_http2(http2);
    engine->set_tls_ca_file(ca);
    shard.mutable_generation()->set_max_tokens(kMaxTokens);
    shard.mutable_generation()->set_ignore_eos(true);
    shard.mutable_generation()->set_temperature(0);
    for (int i = 0; i < 3; ++i) {
      llmbench::v1::Prompt* prompt = shard.add_prompts();
      prompt->set_text(absl::StrCat("benchmark prompt number ", i, " with a few words"));
      prompt->set_approx_tokens(9);
    }
    shard.mutable_load()->mutable_concurrency()->set_concurrency(kConcurrency);
    for (uint64_t i = 0; i < count; ++i) shard.add_request_ids(first_id + i);
    return shard;
  }

  static std::vector<RequestRecord> Run(const Shard& shard) {
    std::vector<RequestRecord> records;
    ShardRunnerOptions options;
    options.loop_threads = kLoopThreads;
    options.max_concurrency = 64;
    options.worker_id = "test-worker";
    auto runner = ShardRunner::Create(shard, options);
    EXPECT_TRUE(runner.ok()) << runner.status();
    if (!runner.ok()) return records;
    EXPECT_TRUE((*runner)->Start().ok());
    RecordQueue& queue = (*runner)->records();
    while (!queue.drained()) {
      queue.WaitPop(&records, 1024, EventLoop::MonotonicNowNs() + 20'000'000);
    }
    (*runner)->Join();
    queue.TryPop(&records, 1u << 20);
    return records;
  }

  static double Median(std::vector<double> values) {
    if (values.empty()) return -1;
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
  }

  static void ExpectKnownLatencies(const std::vector<RequestRecord>& records) {
    std::vector<double> ttft, itl;
    for (const RequestRecord& r : records) {
      ASSERT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_NONE)
          << r.request_id() << ": " << r.error_message();
      EXPECT_EQ(r.http_status(), 200u);
      EXPECT_EQ(r.output_tokens(), kMaxTokens) << r.request_id();
      ASSERT_TRUE(r.has_first_token_ns());
      EXPECT_LE(r.sent_ns(), r.first_token_ns());
      EXPECT_LE(r.first_token_ns(), r.end_ns());
      // Tokens streamed: one chunk per token, not one buffered body at the end.
      EXPECT_EQ(r.chunk_offsets_ns_size(), static_cast<int>(kMaxTokens)) << r.request_id();
      ttft.push_back(static_cast<double>(r.first_token_ns() - r.sent_ns()) / 1e6);
      for (int i = 1; i < r.chunk_offsets_ns_size(); ++i) {
        itl.push_back(static_cast<double>(r.chunk_offsets_ns(i) - r.chunk_offsets_ns(i - 1)) /
                      1e6);
      }
    }
    EXPECT_NEAR(Median(ttft), kTtftMs, kToleranceMs);
    EXPECT_NEAR(Median(itl), kItlMs, kToleranceMs);
  }

  // The distinct client ports (= TLS connections) in `lines`, after checking that every line is
  // "<alpn> <port> POST /v1/chat/completions <http-version> 200".
  static std::set<std::string> ExpectChatLines(const std::vector<std::string>& lines,
                                               const std::string& alpn,
                                               const std::string& http_version) {
    std::set<std::string> ports;
    for (const std::string& line : lines) {
      std::vector<std::string> fields = absl::StrSplit(line, ' ');
      EXPECT_EQ(fields.size(), 6u) << line;
      if (fields.size() != 6) continue;
      EXPECT_EQ(fields[0], alpn) << line;
      EXPECT_EQ(fields[2], "POST") << line;
      EXPECT_EQ(fields[3], kChatPath) << line;
      EXPECT_EQ(fields[4], http_version) << line;
      EXPECT_EQ(fields[5], "200") << line;
      ports.insert(fields[1]);
    }
    return ports;
  }

  static TempDir* certs_;
  static SimProcess* sim_;
  static std::string* sim_error_;
  TempDir log_dir_;
  Proxy proxy_;
};

TempDir* WorkerEngineTlsTest::certs_ = nullptr;
SimProcess* WorkerEngineTlsTest::sim_ = nullptr;
std::string* WorkerEngineTlsTest::sim_error_ = nullptr;

TEST_F(WorkerEngineTlsTest, Http11OverTlsStreamsAndReusesConnections) {
  constexpr uint64_t kRequests = 24;
  const auto records = Run(MakeShard(100, kRequests, /*http2=*/false, *certs_ / "ca.pem"));
  ASSERT_EQ(records.size(), kRequests);
  ExpectKnownLatencies(records);

  const std::vector<std::string> lines = ChatLogLines(proxy_, kRequests);
  ASSERT_EQ(lines.size(), kRequests) << absl::StrJoin(lines, "\n");
  const std::set<std::string> connections = ExpectChatLines(lines, "http/1.1", "HTTP/1.1");
  // Keep-alive: the closed loop keeps kConcurrency requests in flight, so kConcurrency
  // connections are opened at the start and then reused for the other 20 requests (a connection
  // goes back to curl's cache before the next request of its slot starts).
  EXPECT_EQ(connections.size(), kConcurrency) << absl::StrJoin(lines, "\n");
}

TEST_F(WorkerEngineTlsTest, Http2OverTlsStreamsAndMultiplexes) {
  constexpr uint64_t kRequests = 24;
  const auto records = Run(MakeShard(200, kRequests, /*http2=*/true, *certs_ / "ca.pem"));
  ASSERT_EQ(records.size(), kRequests);
  ExpectKnownLatencies(records);

  const std::vector<std::string> lines = ChatLogLines(proxy_, kRequests);
  ASSERT_EQ(lines.size(), kRequests) << absl::StrJoin(lines, "\n");
  // ALPN negotiated h2 and every request travelled as an HTTP/2 stream.
  const std::set<std::string> connections = ExpectChatLines(lines, "h2", "HTTP/2");
  // Multiplexed: one connection per event-loop thread (CURLOPT_PIPEWAIT makes the second request
  // of a loop wait for the first one's connection instead of opening its own).
  EXPECT_EQ(connections.size(), kLoopThreads) << absl::StrJoin(lines, "\n");
}

TEST_F(WorkerEngineTlsTest, UntrustedCertificateFailsEveryRequestAsConnect) {
  for (const bool http2 : {false, true}) {
    SCOPED_TRACE(http2 ? "http2" : "http/1.1");
    constexpr uint64_t kRequests = 6;
    const auto records =
        Run(MakeShard(http2 ? 400 : 300, kRequests, http2, *certs_ / "other-ca.pem"));
    ASSERT_EQ(records.size(), kRequests);
    for (const RequestRecord& r : records) {
      EXPECT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_CONNECT) << r.request_id();
      EXPECT_EQ(r.error_message(),
                "curl: SSL certificate problem: unable to get local issuer certificate")
          << r.request_id();
      EXPECT_EQ(r.http_status(), 0u);
      EXPECT_EQ(r.output_tokens(), 0u);
    }
  }
  // The handshake failed, so nghttpx never saw a request.
  EXPECT_THAT(ChatLogLines(proxy_, 0), ::testing::IsEmpty());
}

TEST_F(WorkerEngineTlsTest, MissingCaFileFailsEveryRequestAsConnect) {
  constexpr uint64_t kRequests = 3;
  const std::string missing = *certs_ / "no-such-ca.pem";
  const auto records = Run(MakeShard(500, kRequests, /*http2=*/false, missing));
  ASSERT_EQ(records.size(), kRequests);
  for (const RequestRecord& r : records) {
    EXPECT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_CONNECT) << r.request_id();
    EXPECT_THAT(r.error_message(), HasSubstr(missing)) << r.request_id();
  }
}

}  // namespace
}  // namespace llmbench::worker
