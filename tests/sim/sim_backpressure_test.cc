// Integration tests for llmbench-sim under hostile clients: readers that never drain their
// socket (backpressure keeps memory bounded and emits no token the client cannot take), clients
// that close or reset mid-stream (the sequence is cancelled at once), and SIGTERM under load.
//
// Clients here are raw loopback sockets so that "never reads" and "closes now" are exact.
// Tolerances are stated where used; they are generous because the CI machine has two shared
// cores.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "sim/sim_server.h"
#include "tests/harness/harness.h"

namespace llmbench::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// A connected loopback TCP socket; closes on destruction.
class RawClient {
 public:
  // Connects to 127.0.0.1:port. rcvbuf > 0 shrinks the receive buffer first, so that a client
  // that never reads fills its kernel buffers after a few KiB instead of megabytes.
  static std::unique_ptr<RawClient> Connect(int port, int rcvbuf = 0) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return nullptr;
    auto client = std::unique_ptr<RawClient>(new RawClient(fd));
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return nullptr;
    return client;
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  ~RawClient() { Close(); }

  bool SendAll(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Appends whatever arrives to `out` until it contains `needle`, EOF, or the deadline.
  bool ReadUntil(std::string& out, const std::string& needle, milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    timeval tv{0, 100'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[65536];
    while (!absl::StrContains(out, needle)) {
      if (Clock::now() > deadline) return false;
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) return absl::StrContains(out, needle);
      if (n > 0) out.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  // An abortive close: the peer sees a reset (RST) instead of a FIN.
  void Reset() {
    linger lg{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    Close();
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  explicit RawClient(int fd) : fd_(fd) {}
  int fd_;
};

// A streaming vLLM /v1/completions request for exactly `tokens` tokens; `extra_headers` are
// complete "Name: value\r\n" lines.
std::string StreamRequest(int tokens, const std::string& extra_headers = "") {
  const std::string body = absl::StrCat(
      R"({"model":"sim-model","prompt":"a b c d","max_tokens":)", tokens,
      R"(,"ignore_eos":true,"stream":true})");
  return absl::StrCat("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n", extra_headers,
                      "Content-Type: application/json\r\nContent-Length: ", body.size(),
                      "\r\n\r\n", body);
}

// VmRSS of `pid` in KiB from /proc/<pid>/status, or -1.
int64_t VmRssKib(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "VmRSS:")) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipWhitespace());
      int64_t kib = -1;
      if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kib)) return kib;
    }
  }
  return -1;
}

// /sim/metrics as "name{labels}" -> value.
std::map<std::string, double> SimMetrics(const SimProcess& sim) {
  HttpOptions options;
  options.timeout = std::chrono::seconds(20);
  HttpResponse r = HttpGet(sim.BaseUrl("vllm") + "/sim/metrics", options);
  std::map<std::string, double> samples;
  for (absl::string_view line : absl::StrSplit(r.body, '\n', absl::SkipEmpty())) {
    if (line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) continue;
    double v = 0;
    if (absl::SimpleAtod(line.substr(space + 1), &v)) samples[std::string(line.substr(0, space))] = v;
  }
  return samples;
}

constexpr char kCancelled[] = "llmbench_sim_requests_total{outcome=\"cancelled\"}";

// Polls /sim/metrics until `metric` == want or `timeout`; returns the last value seen.
double WaitForMetric(const SimProcess& sim, const std::string& metric, double want,
                     milliseconds timeout, milliseconds poll = milliseconds(50)) {
  const auto deadline = Clock::now() + timeout;
  double v = -1;
  for (;;) {
    v = SimMetrics(sim)[metric];
    if (v == want || Clock::now() > deadline) return v;
    std::this_thread::sleep_for(poll);
  }
}

// Each test needs a few hundred descriptors.
void RaiseFdLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// Fast steps and no per-sequence cost: every stream gets 1000/itl_ms tokens/s unless stalled
// (or the simulator runs out of CPU).
SimProcess::Options FastSim(const std::string& itl_ms = "1") {
  SimProcess::Options options;
  options.kinds = {"vllm"};
  options.args = {"--itl-ms",        itl_ms, "--itl-per-seq-us",    "0",
                  "--ttft-base-ms",  "1",    "--ttft-per-token-us", "0",
                  "--max-batch",     "1000", "--max-model-len",     "2000000"};
  return options;
}

TEST(SimBackpressureTest, ReadersThatNeverDrainKeepMemoryBounded) {
  RaiseFdLimit();
  // 0.25 ms steps: the loopback sender buffer autotunes up to 4 MiB (net.ipv4.tcp_wmem), so a
  // stream emits ~1.7 MB (~11k tokens) into the kernel before the sim's own buffer fills.
  auto sim = SimProcess::Start(FastSim("0.25"));
  ASSERT_TRUE(sim.ok()) << sim.status();
  const pid_t pid = (*sim)->process().pid();
  (void)SimMetrics(**sim);  // warm up the metrics path before the baseline
  const int64_t rss0 = VmRssKib(pid);
  ASSERT_GT(rss0, 0);

  constexpr int kStreams = 200;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kStreams; ++i) {
    auto c = RawClient::Connect((*sim)->Port("vllm"), /*rcvbuf=*/4096);
    ASSERT_NE(c, nullptr) << "connect " << i;
    ASSERT_TRUE(c->SendAll(StreamRequest(1'000'000)));
    clients.push_back(std::move(c));
  }
  // Every stream fills the kernel buffers, then kMaxUnwrittenBytes in the sim, then stalls.
  // That is ~2.3M tokens in all, ~5 s of one core; allow 60 s on a loaded machine.
  EXPECT_EQ(WaitForMetric(**sim, "llmbench_sim_stalled", kStreams, std::chrono::seconds(60)),
            kStreams);
  auto m1 = SimMetrics(**sim);
  EXPECT_EQ(m1["llmbench_sim_running"], kStreams);
  // Without backpressure the next 3 s would add 200 streams x ~12000 tokens x ~150 bytes
  // (~360 MB) of buffered output (an unfixed sim grew by 1.4 GB in this test).
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto m2 = SimMetrics(**sim);
  const int64_t rss2 = VmRssKib(pid);
  EXPECT_EQ(m2["llmbench_sim_running"], kStreams);
  EXPECT_EQ(m2["llmbench_sim_stalled"], kStreams) << "nobody read, so nobody may resume";
  EXPECT_EQ(m2["llmbench_sim_tokens_generated_total"], m1["llmbench_sim_tokens_generated_total"])
      << "a stalled sequence must not be given tokens";
  // Bound from sim/sim_server.h: per stream, the cap plus one step's event, held in strings of
  // up to twice that capacity, plus a fixed overhead; allow 2 x cap + 32 KiB per stream.
  const int64_t bound_kib =
      kStreams * (2 * static_cast<int64_t>(sim::kMaxUnwrittenBytes) / 1024 + 32);
  EXPECT_LT(rss2 - rss0, bound_kib) << "RSS " << rss0 << " KiB -> " << rss2 << " KiB";
  std::cout << "[          ] RSS growth " << (rss2 - rss0) << " KiB for " << kStreams
            << " stalled streams (bound " << bound_kib << " KiB); tokens emitted "
            << m2["llmbench_sim_tokens_generated_total"] << "\n";
}

TEST(SimBackpressureTest, StalledStreamResumesCompleteWhenTheClientReads) {
  auto sim = SimProcess::Start(FastSim());
  ASSERT_TRUE(sim.ok()) << sim.status();
  // Token 2 is the huge_line fault's 10 MiB event: more than the kernel buffers (<= ~4 MiB on
  // loopback) plus the cap, so the stream must stall right after it while nobody reads.
  constexpr int kTokens = 50;
  auto c = RawClient::Connect((*sim)->Port("vllm"), /*rcvbuf=*/4096);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->SendAll(StreamRequest(kTokens, "x-llmbench-fault: huge_line;after=2\r\n")));
  EXPECT_EQ(WaitForMetric(**sim, "llmbench_sim_stalled", 1, std::chrono::seconds(30)), 1);
  const double stalled_at = SimMetrics(**sim)["llmbench_sim_tokens_generated_total"];
  // Tokens 0-2, plus at most the token of the step that was running when it stalled and the
  // steps a late engine ran in the same timer callback.
  EXPECT_GE(stalled_at, 3);
  EXPECT_LE(stalled_at, 3 + 1 + sim::kMaxCatchUpSteps);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // 1000 steps' worth of tokens
  EXPECT_EQ(SimMetrics(**sim)["llmbench_sim_tokens_generated_total"], stalled_at);
  std::string body;
  ASSERT_TRUE(c->ReadUntil(body, "data: [DONE]\n\n\r\n0\r\n\r\n", std::chrono::seconds(60)))
      << body.size() << " bytes so far";
  // Every token arrived exactly once: exactly kTokens token events, the last with its finish
  // reason (each event is one chunk, so chunk framing never splits a "text" key).
  size_t events = 0;
  for (size_t pos = body.find("\"text\":"); pos != std::string::npos;
       pos = body.find("\"text\":", pos + 1)) {
    ++events;
  }
  EXPECT_EQ(events, static_cast<size_t>(kTokens));
  EXPECT_GE(body.size(), size_t{10} << 20);
  EXPECT_TRUE(absl::StrContains(body, "\"finish_reason\":\"length\""));
  auto m = SimMetrics(**sim);
  EXPECT_GE(m["llmbench_sim_backpressure_stalls_total"], 1);
  EXPECT_EQ(m["llmbench_sim_stalled"], 0);
  EXPECT_EQ(m["llmbench_sim_running"], 0);
  EXPECT_EQ(m["llmbench_sim_tokens_generated_total"], kTokens);
  EXPECT_EQ(m["llmbench_sim_requests_total{outcome=\"success\"}"], 1);
}

TEST(SimBackpressureTest, ClosedClientCancelsItsSequenceAtOnce) {
  SimProcess::Options options;
  options.kinds = {"vllm"};
  // 2 s steps: a write error would only show up at the next token, >= 2 s after the close, so
  // noticing within 1 s proves the close itself is detected.
  options.args = {"--itl-ms", "2000", "--ttft-base-ms", "1", "--ttft-per-token-us", "0"};
  auto sim = SimProcess::Start(options);
  ASSERT_TRUE(sim.ok()) << sim.status();
  for (bool reset : {false, true}) {
    SCOPED_TRACE(reset ? "reset" : "close");
    const double cancelled0 = SimMetrics(**sim)[kCancelled];
    auto c = RawClient::Connect((*sim)->Port("vllm"));
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->SendAll(StreamRequest(1000)));
    std::string got;
    ASSERT_TRUE(c->ReadUntil(got, "\"text\":", std::chrono::seconds(10))) << got;
    EXPECT_EQ(SimMetrics(**sim)["llmbench_sim_running"], 1);
    const auto closed_at = Clock::now();
    if (reset) {
      c->Reset();
    } else {
      c->Close();
    }
    // Within 1 s (polled every 20 ms).
    EXPECT_EQ(WaitForMetric(**sim, "llmbench_sim_running", 0, milliseconds(1000),
                            milliseconds(20)),
              0);
    const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - closed_at);
    EXPECT_LT(waited.count(), 1500) << "metrics polling included";
    EXPECT_EQ(SimMetrics(**sim)[kCancelled], cancelled0 + 1);
  }
  // The simulator is still serving.
  EXPECT_EQ(HttpGet((*sim)->BaseUrl("vllm") + "/health").status, 200);
}

TEST(SimBackpressureTest, SigtermUnderLoadExitsZeroPromptly) {
  RaiseFdLimit();
  auto sim = SimProcess::Start(FastSim());
  ASSERT_TRUE(sim.ok()) << sim.status();
  constexpr int kStreams = 500;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kStreams; ++i) {
    // Half drain nothing (stalled), half have default buffers (streaming into the kernel).
    auto c = RawClient::Connect((*sim)->Port("vllm"), i % 2 == 0 ? 4096 : 0);
    ASSERT_NE(c, nullptr) << "connect " << i;
    ASSERT_TRUE(c->SendAll(StreamRequest(1'000'000)));
    clients.push_back(std::move(c));
  }
  EXPECT_EQ(WaitForMetric(**sim, "llmbench_sim_running", kStreams, std::chrono::seconds(30)),
            kStreams);
  const auto sent = Clock::now();
  (*sim)->process().Signal(SIGTERM);
  auto status = (*sim)->process().Wait(std::chrono::seconds(2));
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - sent);
  ASSERT_TRUE(status.ok()) << status.status() << " (SIGTERM under load must exit within 2 s)";
  EXPECT_TRUE(status->exited);
  EXPECT_EQ(status->code, 0);
  std::cout << "[          ] exited " << took.count() << " ms after SIGTERM with " << kStreams
            << " streams\n";
}

}  // namespace
}  // namespace llmbench::testing
