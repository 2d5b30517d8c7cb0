// End-to-end tests of the worker against llmbench-sim over loopback: shards run in-process
// through ShardRunner and through a real llmbench-worker process over gRPC.
//
// The simulator runs with a deterministic latency model (--jitter 0): prefill 30 ms
// (--ttft-base-ms 30, --ttft-per-token-us 0, so prompt length does not matter), decode steps of
// 10 ms (--itl-ms 10, --itl-per-seq-us 0: batch size does not matter either), and no natural
// EOS (--natural-tokens 0), so every request generates exactly max_tokens tokens.
// Tolerance: the measured p50 TTFT and p50 ITL must be within kToleranceMs = 3 ms of the
// simulator's truth (loopback adds well under 1 ms; the rest is scheduling noise on a shared
// 2-core CI machine, which the median absorbs).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/version.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "llmbench/v1/worker.grpc.pb.h"
#include "tests/harness/harness.h"
#include "worker/event_loop.h"
#include "worker/shard_runner.h"

namespace llmbench::worker {
namespace {

using llmbench::testing::SimProcess;
using llmbench::testing::Subprocess;
using llmbench::v1::RequestRecord;
using llmbench::v1::Shard;
using llmbench::v1::WorkerMessage;
using ::testing::ElementsAreArray;

constexpr double kTtftMs = 30;
constexpr double kItlMs = 10;
constexpr double kToleranceMs = 3;
constexpr uint32_t kMaxTokens = 8;

struct Personality {
  std::string sim_kind;  // SimProcess listener
  llmbench::v1::EngineKind kind;
  llmbench::v1::Api api;
};

std::string PersonalityName(const ::testing::TestParamInfo<Personality>& info) {
  return info.param.sim_kind;
}

const std::vector<Personality>& Personalities() {
  static const auto* all = new std::vector<Personality>{
      {"ollama", llmbench::v1::ENGINE_KIND_OLLAMA, llmbench::v1::API_OLLAMA_GENERATE},
      {"vllm", llmbench::v1::ENGINE_KIND_VLLM, llmbench::v1::API_CHAT_COMPLETIONS},
      {"tgi", llmbench::v1::ENGINE_KIND_TGI, llmbench::v1::API_TGI_GENERATE},
  };
  return *all;
}

// One simulator for the whole binary (started lazily, killed at exit by its destructor).
SimProcess& Sim() {
  static SimProcess* sim = [] {
    SimProcess::Options options;
    options.args = {"--jitter",    "0",  "--ttft-base-ms",   "30", "--ttft-per-token-us", "0",
                    "--itl-ms",    "10", "--itl-per-seq-us", "0",  "--natural-tokens",    "0",
                    "--max-batch", "256", "--threads", "2"};
    auto started = SimProcess::Start(options);
    if (!started.ok()) {
      ADD_FAILURE() << started.status();
      std::abort();
    }
    return started->release();
  }();
  return *sim;
}

class SimEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { delete &Sim(); }
};
const auto* const kSimEnvironment = ::testing::AddGlobalTestEnvironment(new SimEnvironment);

Shard MakeShard(const Personality& p, std::vector<uint64_t> ids, uint32_t concurrency,
                uint32_t max_tokens = kMaxTokens) {
  Shard shard;
  shard.set_run_id("run-test");
  shard.set_shard_index(0);
  shard.set_shard_count(1);
  llmbench::v1::Engine* engine = shard.mutable_engine();
  engine->set_name(p.sim_kind);
  engine->set_kind(p.kind);
  engine->set_api(p.api);
  engine->set_base_url(Sim().BaseUrl(p.sim_kind));
  engine->set_model("sim-model");
  shard.mutable_generation()->set_max_tokens(max_tokens);
  shard.mutable_generation()->set_ignore_eos(true);
  shard.mutable_generation()->set_temperature(0);
  for (int i = 0; i < 3; ++i) {
    llmbench::v1::Prompt* prompt = shard.add_prompts();
    prompt->set_text(absl::StrCat("benchmark prompt number ", i, " with a few words"));
    prompt->set_approx_tokens(9);
  }
  if (concurrency > 0) shard.mutable_load()->mutable_concurrency()->set_concurrency(concurrency);
  for (uint64_t id : ids) shard.add_request_ids(id);
  return shard;
}

std::vector<uint64_t> Ids(uint64_t first, uint64_t count) {
  std::vector<uint64_t> ids;
  for (uint64_t i = 0; i < count; ++i) ids.push_back(first + i);
  return ids;
}

// ShardSummary.unfinished_ranges as the ids they hold, in order.
std::vector<uint64_t> UnfinishedIds(const llmbench::v1::ShardSummary& summary) {
  std::vector<uint64_t> ids;
  for (const llmbench::v1::IdRange& r : summary.unfinished_ranges()) {
    for (uint64_t i = 0; i < r.count(); ++i) ids.push_back(r.first() + i);
  }
  return ids;
}

double Median(std::vector<double> values) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

struct RunResult {
  std::vector<RequestRecord> records;
  llmbench::v1::ShardSummary summary;
};

ShardRunnerOptions RunnerOptions() {
  ShardRunnerOptions options;
  options.loop_threads = 2;
  options.max_concurrency = 64;
  options.worker_id = "test-worker";
  return options;
}

// Runs `shard` in-process to the end (or until `cancel_when` returns true, then cancels).
RunResult RunInProcess(const Shard& shard, ShardRunnerOptions options = RunnerOptions(),
                       const std::function<bool(const ShardRunner&)>& cancel_when = nullptr) {
  RunResult result;
  auto runner = ShardRunner::Create(shard, options);
  EXPECT_TRUE(runner.ok()) << runner.status();
  if (!runner.ok()) return result;
  EXPECT_TRUE((*runner)->Start().ok());
  RecordQueue& queue = (*runner)->records();
  bool cancelled = false;
  while (!queue.drained()) {
    queue.WaitPop(&result.records, 1024, EventLoop::MonotonicNowNs() + 20'000'000);
    if (cancel_when && !cancelled && cancel_when(**runner)) {
      (*runner)->Cancel();
      cancelled = true;
    }
  }
  (*runner)->Join();
  queue.TryPop(&result.records, 1u << 20);
  result.summary = (*runner)->summary();
  return result;
}

void ExpectKnownLatencies(const std::vector<RequestRecord>& records) {
  std::vector<double> ttft, itl;
  for (const RequestRecord& r : records) {
    ASSERT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_NONE)
        << r.request_id() << ": " << r.error_message();
    EXPECT_EQ(r.http_status(), 200u);
    EXPECT_EQ(r.output_tokens(), kMaxTokens) << r.request_id();
    ASSERT_TRUE(r.has_first_token_ns());
    EXPECT_GT(r.sent_ns(), 0);
    EXPECT_LE(r.sent_ns(), r.first_token_ns());
    EXPECT_LE(r.first_token_ns(), r.end_ns());
    ttft.push_back(static_cast<double>(r.first_token_ns() - r.sent_ns()) / 1e6);
    for (int i = 1; i < r.chunk_offsets_ns_size(); ++i) {
      itl.push_back(static_cast<double>(r.chunk_offsets_ns(i) - r.chunk_offsets_ns(i - 1)) / 1e6);
    }
  }
  EXPECT_NEAR(Median(ttft), kTtftMs, kToleranceMs);
  EXPECT_NEAR(Median(itl), kItlMs, kToleranceMs);
}

std::vector<uint64_t> SortedIds(const std::vector<RequestRecord>& records) {
  std::vector<uint64_t> ids;
  for (const RequestRecord& r : records) ids.push_back(r.request_id());
  std::sort(ids.begin(), ids.end());
  return ids;
}

// ---- ShardRunner in-process -------------------------------------------------------------

class ShardRunnerSimTest : public ::testing::TestWithParam<Personality> {};

TEST_P(ShardRunnerSimTest, ClosedLoopMeasuresTheSimulatorsLatencies) {
  const Shard shard = MakeShard(GetParam(), Ids(100, 24), /*concurrency=*/4);
  RunResult result = RunInProcess(shard);
  ASSERT_EQ(result.records.size(), 24u);
  EXPECT_THAT(SortedIds(result.records), ElementsAreArray(Ids(100, 24)));
  ExpectKnownLatencies(result.records);
  for (const RequestRecord& r : result.records) {
    EXPECT_EQ(r.prompt_index(), r.request_id() % 3);
    EXPECT_EQ(r.engine(), GetParam().sim_kind);
    EXPECT_EQ(r.worker_id(), "test-worker");
    EXPECT_FALSE(r.warmup());
    EXPECT_FALSE(r.has_scheduled_ns());
  }
  EXPECT_EQ(result.summary.requests_sent(), 24u);
  EXPECT_EQ(result.summary.records_sent(), 24u);
  EXPECT_EQ(result.summary.records_dropped(), 0u);
  EXPECT_FALSE(result.summary.cancelled());
  EXPECT_EQ(result.summary.unfinished_ranges_size(), 0);
  EXPECT_GT(result.summary.cpu_seconds(), 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, ShardRunnerSimTest, ::testing::ValuesIn(Personalities()),
                         PersonalityName);

const Personality& Vllm() { return Personalities()[1]; }

TEST(ShardRunnerTest, WarmupRequestsComeFirstWithTheirOwnIds) {
  Shard shard = MakeShard(Vllm(), {7, 8, 9}, /*concurrency=*/1);
  shard.set_shard_index(3);
  shard.set_warmup_requests(2);
  RunResult result = RunInProcess(shard);
  ASSERT_EQ(result.records.size(), 5u);
  // Concurrency 1: completion order is dispatch order.
  EXPECT_EQ(result.records[0].request_id(), wire::WarmupRequestId(3, 0));
  EXPECT_EQ(result.records[0].request_id(), (uint64_t{1} << 63) | (uint64_t{3} << 32));
  EXPECT_EQ(result.records[1].request_id(), wire::WarmupRequestId(3, 1));
  EXPECT_TRUE(result.records[0].warmup());
  EXPECT_TRUE(result.records[1].warmup());
  for (int i = 2; i < 5; ++i) {
    EXPECT_EQ(result.records[i].request_id(), static_cast<uint64_t>(5 + i));
    EXPECT_FALSE(result.records[i].warmup());
    EXPECT_EQ(result.records[i].shard_index(), 3u);
  }
}

TEST(ShardRunnerTest, OpenLoopKeepsEachRequestsScheduleAndRecordsLateness) {
  Shard shard = MakeShard(Vllm(), Ids(0, 20), /*concurrency=*/0);
  shard.mutable_load()->mutable_rate()->set_rps(50);  // constant: arrival k at k * 20 ms
  shard.mutable_load()->mutable_rate()->set_arrival(llmbench::v1::ARRIVAL_CONSTANT);
  RunResult result = RunInProcess(shard);
  ASSERT_EQ(result.records.size(), 20u);
  int64_t max_lateness = 0;
  std::vector<double> lateness_ms;
  for (const RequestRecord& r : result.records) {
    ASSERT_TRUE(r.has_scheduled_ns());
    const int64_t expected = static_cast<int64_t>(r.request_id()) * 20'000'000;
    EXPECT_NEAR(static_cast<double>(r.scheduled_ns()), static_cast<double>(expected), 1.0);
    EXPECT_GE(r.sent_ns(), r.scheduled_ns()) << "sent before its time";
    max_lateness = std::max(max_lateness, r.sent_ns() - r.scheduled_ns());
    lateness_ms.push_back(static_cast<double>(r.sent_ns() - r.scheduled_ns()) / 1e6);
    EXPECT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_NONE);
  }
  // 50 rps is far below what loopback sustains: the generator is on time (median under 3 ms,
  // the first request of each loop also opens a connection).
  EXPECT_LT(Median(lateness_ms), 3.0);
  EXPECT_DOUBLE_EQ(result.summary.max_lateness_ms(), static_cast<double>(max_lateness) / 1e6);
  ExpectKnownLatencies(result.records);
}

TEST(ShardRunnerTest, DispatchTraceSplitsEachArrivalsLatenessAndReusedConnectionsSendAtOnce) {
  Shard shard = MakeShard(Vllm(), Ids(0, 20), /*concurrency=*/0);
  shard.mutable_load()->mutable_rate()->set_rps(50);  // constant: arrival k at k * 20 ms
  shard.mutable_load()->mutable_rate()->set_arrival(llmbench::v1::ARRIVAL_CONSTANT);
  ShardRunnerOptions options = RunnerOptions();
  options.loop_threads = 1;
  std::mutex mu;
  std::vector<DispatchTrace> traces;
  options.dispatch_trace = [&](const DispatchTrace& t) {
    std::lock_guard<std::mutex> lock(mu);
    traces.push_back(t);
  };
  uint64_t connections = 0;
  RunResult result = RunInProcess(shard, options, [&](const ShardRunner& runner) {
    connections = runner.connections_opened();  // read while the runner lives
    return false;
  });
  ASSERT_EQ(result.records.size(), 20u);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(traces.size(), 20u);
  std::map<uint64_t, int64_t> sent_by_id;
  for (const RequestRecord& r : result.records) {
    ASSERT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_NONE) << r.error_message();
    sent_by_id[r.request_id()] = r.sent_ns();
  }
  int sent_inside_the_dispatch_callback = 0;
  for (size_t i = 0; i < traces.size(); ++i) {
    const DispatchTrace& t = traces[i];
    EXPECT_EQ(t.request_id, i);  // one loop: arrivals in order, each once
    EXPECT_NEAR(static_cast<double>(t.scheduled_ns), static_cast<double>(i) * 20e6, 1.0);
    EXPECT_LE(t.wait_start_ns, t.wake_ns);
    EXPECT_LE(t.wake_ns, t.dispatch_ns);
    EXPECT_LE(t.scheduled_ns, t.dispatch_ns) << "dispatched before its time";
    EXPECT_LE(t.dispatch_ns, t.flushed_ns);
    EXPECT_GT(t.turn_cpu_ns, 0);
    ASSERT_EQ(sent_by_id.count(t.request_id), 1u);
    const int64_t sent = sent_by_id[t.request_id];
    EXPECT_GE(sent, t.dispatch_ns);
    if (sent <= t.flushed_ns) ++sent_inside_the_dispatch_callback;
  }
  // Every request either reused a pooled connection, and then went out inside the dispatch
  // callback (CurlMultiTransport::Flush), or opened a connection first (sent a turn later).
  EXPECT_GE(connections, 1u);
  EXPECT_LE(connections, 20u);
  EXPECT_GE(static_cast<uint64_t>(sent_inside_the_dispatch_callback) + connections, 20u);
}

TEST(ShardRunnerTest, OpenLoopSendsLateRequestsAtOnceAndRecordsTheirLateness) {
  // A burst of 30 arrivals at t=0 on one loop: the later ones cannot all leave at 0; each
  // keeps scheduled_ns = 0 and its lateness is recorded (never silently re-timed).
  Shard shard = MakeShard(Vllm(), Ids(0, 30), /*concurrency=*/0);
  shard.mutable_load()->mutable_rate()->set_rps(1e9);  // every arrival within 30 ns of 0
  ShardRunnerOptions options = RunnerOptions();
  options.loop_threads = 1;
  RunResult result = RunInProcess(shard, options);
  ASSERT_EQ(result.records.size(), 30u);
  int64_t max_lateness = 0;
  for (const RequestRecord& r : result.records) {
    ASSERT_TRUE(r.has_scheduled_ns());
    EXPECT_LE(r.scheduled_ns(), 30);
    max_lateness = std::max(max_lateness, r.sent_ns() - r.scheduled_ns());
  }
  EXPECT_GT(max_lateness, 0);
  EXPECT_DOUBLE_EQ(result.summary.max_lateness_ms(), static_cast<double>(max_lateness) / 1e6);
}

TEST(ShardRunnerTest, DurationBoundedShardNumbersRequestsByStride) {
  Shard shard = MakeShard(Vllm(), {}, /*concurrency=*/2);
  shard.set_first_id(5);
  shard.set_id_stride(3);
  shard.set_duration_seconds(0.5);
  RunResult result = RunInProcess(shard);
  // Each request takes ~30 + 7 * 10 = 100 ms: about 10 requests from 2 slots in 0.5 s.
  ASSERT_GE(result.records.size(), 4u);
  ASSERT_LE(result.records.size(), 12u);
  std::vector<uint64_t> expected;
  for (uint64_t k = 0; k < result.records.size(); ++k) expected.push_back(5 + 3 * k);
  EXPECT_THAT(SortedIds(result.records), ElementsAreArray(expected));
  for (const RequestRecord& r : result.records) {
    EXPECT_LT(r.sent_ns(), 500'000'000) << "dispatched after the duration";
    EXPECT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_NONE) << "in-flight requests finish";
  }
}

TEST(ShardRunnerTest, CancelAbortsInFlightRequestsAndListsUnfinishedIds) {
  // 1000 tokens at 10 ms: each request would take 10 s.
  const Shard shard = MakeShard(Vllm(), Ids(10, 8), /*concurrency=*/4, /*max_tokens=*/1000);
  RunResult result = RunInProcess(shard, RunnerOptions(), [](const ShardRunner& runner) {
    // Cancel once the 4 requests are streaming (elapsed > 300 ms: past the 30 ms prefill).
    const auto p = runner.progress();
    return p.in_flight() == 4 && p.elapsed_ns() > 300'000'000;
  });
  ASSERT_EQ(result.records.size(), 4u);
  for (const RequestRecord& r : result.records) {
    EXPECT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_CANCELLED);
    EXPECT_EQ(r.error_message(), "shard cancelled");
    EXPECT_GT(r.content_chunks(), 0u) << "what was measured before the cancel is kept";
    EXPECT_GE(r.end_ns(), 300'000'000);
  }
  EXPECT_TRUE(result.summary.cancelled());
  EXPECT_EQ(result.summary.requests_sent(), 4u);
  EXPECT_THAT(UnfinishedIds(result.summary), ElementsAreArray(Ids(10, 8)));
  // Two ranges at most: the cancelled in-flight ids and those never sent, merged when adjacent.
  EXPECT_LE(result.summary.unfinished_ranges_size(), 2);
}

TEST(ShardRunnerTest, ASlowReaderCostsDroppedRecordsNotAStalledLoad) {
  const Shard shard = MakeShard(Vllm(), Ids(1, 10), /*concurrency=*/5, /*max_tokens=*/2);
  ShardRunnerOptions options = RunnerOptions();
  options.queue_capacity = 3;
  auto runner = ShardRunner::Create(shard, options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  ASSERT_TRUE((*runner)->Start().ok());
  (*runner)->Join();  // nobody reads while the shard runs: the loops must still finish
  EXPECT_TRUE((*runner)->done());
  std::vector<RequestRecord> records;
  (*runner)->records().TryPop(&records, 100);
  EXPECT_EQ(records.size(), 3u);
  const llmbench::v1::ShardSummary summary = (*runner)->summary();
  EXPECT_EQ(summary.requests_sent(), 10u);
  EXPECT_EQ(summary.records_sent(), 3u);
  EXPECT_EQ(summary.records_dropped(), 7u);
  EXPECT_EQ(summary.note(),
            "7 records dropped: the reader fell behind and the worker's record queue "
            "(capacity 3) overflowed");
}

struct FaultCase {
  std::string fault;
  llmbench::v1::ErrorClass error_class;
  uint32_t http_status;
};

class ShardRunnerFaultTest : public ::testing::TestWithParam<FaultCase> {};

TEST_P(ShardRunnerFaultTest, EngineFaultsBecomeErrorClasses) {
  Shard shard = MakeShard(Vllm(), Ids(1, 2), /*concurrency=*/2);
  (*shard.mutable_engine()->mutable_headers())["x-llmbench-fault"] = GetParam().fault;
  shard.mutable_engine()->mutable_timeouts()->set_total_ms(800);  // for "stall"
  RunResult result = RunInProcess(shard);
  ASSERT_EQ(result.records.size(), 2u);
  for (const RequestRecord& r : result.records) {
    EXPECT_EQ(r.error_class(), GetParam().error_class) << r.error_message();
    EXPECT_EQ(r.http_status(), GetParam().http_status);
    EXPECT_FALSE(r.error_message().empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Faults, ShardRunnerFaultTest,
    ::testing::Values(FaultCase{"status_429", llmbench::v1::ERROR_CLASS_OVERLOADED, 429},
                      FaultCase{"status_500", llmbench::v1::ERROR_CLASS_HTTP_5XX, 500},
                      FaultCase{"status_400", llmbench::v1::ERROR_CLASS_HTTP_4XX, 400},
                      FaultCase{"stream_error", llmbench::v1::ERROR_CLASS_STREAM_BROKEN, 200},
                      // A connection reset after the stream started: the connection existed,
                      // so it is a broken stream, not a connect failure.
                      FaultCase{"reset", llmbench::v1::ERROR_CLASS_STREAM_BROKEN, 200},
                      FaultCase{"stall", llmbench::v1::ERROR_CLASS_TIMEOUT, 200},
                      FaultCase{"malformed", llmbench::v1::ERROR_CLASS_PARSE, 200},
                      FaultCase{"huge_line", llmbench::v1::ERROR_CLASS_PARSE, 200}),
    [](const ::testing::TestParamInfo<FaultCase>& param_info) { return param_info.param.fault; });

// The sim closes the connection after a stream error (its response head had promised
// keep-alive): the next request, sent on that pooled connection before the close was seen, is
// sent again on a new connection instead of waiting for a response that never comes
// (regression: the HTTP/1.1 client dropped the request's bytes once written, and its retry sent
// nothing). Each of the three requests is one stream error, none a timeout.
TEST(ShardRunnerTest, ARequestOnAConnectionTheEngineClosedIsSentAgain) {
  Shard shard = MakeShard(Vllm(), Ids(1, 3), /*concurrency=*/1);
  (*shard.mutable_engine()->mutable_headers())["x-llmbench-fault"] = "stream_error;after=2";
  shard.mutable_engine()->mutable_timeouts()->set_first_byte_ms(5000);
  ShardRunnerOptions options = RunnerOptions();
  options.loop_threads = 1;
  RunResult result = RunInProcess(shard, options);
  ASSERT_EQ(result.records.size(), 3u);
  for (const RequestRecord& r : result.records) {
    EXPECT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_STREAM_BROKEN) << r.error_message();
    EXPECT_EQ(r.http_status(), 200u);
    EXPECT_LT(r.end_ns() - r.sent_ns(), 4'000'000'000) << r.error_message();
  }
}

// A listening socket that never accepts: connections complete (backlog) but no byte comes back.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { Close(); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(ShardRunnerTest, NoResponseHeadersIsAFirstByteTimeout) {
  SilentListener listener;
  Shard shard = MakeShard(Vllm(), Ids(1, 1), /*concurrency=*/1);
  shard.mutable_engine()->set_base_url(absl::StrCat("http://127.0.0.1:", listener.port()));
  shard.mutable_engine()->mutable_timeouts()->set_first_byte_ms(300);
  RunResult result = RunInProcess(shard);
  ASSERT_EQ(result.records.size(), 1u);
  const RequestRecord& r = result.records[0];
  EXPECT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_TIMEOUT);
  EXPECT_EQ(r.error_message(), "no response headers within 300 ms (first-byte timeout)");
  EXPECT_EQ(r.http_status(), 0u);
  EXPECT_GE(r.end_ns() - r.sent_ns(), 300'000'000);
  EXPECT_LT(r.end_ns() - r.sent_ns(), 2'000'000'000);
}

TEST(ShardRunnerTest, RefusedConnectionIsAConnectError) {
  SilentListener listener;
  const int port = listener.port();
  listener.Close();  // nothing listens there any more
  Shard shard = MakeShard(Vllm(), Ids(1, 1), /*concurrency=*/1);
  shard.mutable_engine()->set_base_url(absl::StrCat("http://127.0.0.1:", port));
  RunResult result = RunInProcess(shard);
  ASSERT_EQ(result.records.size(), 1u);
  EXPECT_EQ(result.records[0].error_class(), llmbench::v1::ERROR_CLASS_CONNECT);
  EXPECT_EQ(result.records[0].error_message(),
            absl::StrCat("connect to 127.0.0.1:", port, " failed: Connection refused"));
  EXPECT_FALSE(result.records[0].has_dispatch_delay_ns()) << "never sent";
}

// The same through libcurl (https, HTTP/2 and proxies still go there).
TEST(ShardRunnerTest, RefusedConnectionIsAConnectErrorThroughCurl) {
  SilentListener listener;
  const int port = listener.port();
  listener.Close();
  Shard shard = MakeShard(Vllm(), Ids(1, 1), /*concurrency=*/1);
  shard.mutable_engine()->set_base_url(absl::StrCat("http://127.0.0.1:", port));
  ::setenv("LLMBENCH_HTTP_CLIENT", "curl", 1);
  RunResult result = RunInProcess(shard);
  ::unsetenv("LLMBENCH_HTTP_CLIENT");
  ASSERT_EQ(result.records.size(), 1u);
  EXPECT_EQ(result.records[0].error_class(), llmbench::v1::ERROR_CLASS_CONNECT);
  EXPECT_THAT(result.records[0].error_message(),
              ::testing::StartsWith(absl::StrCat("curl: Failed to connect to 127.0.0.1 port ",
                                                 port)));
}

// Issue 13: every sent request records when it was handed over, when its bytes were written
// (sent_ns) and the dispatch delay between them; requests that opened a connection also record
// its set-up time, requests on a reused connection do not. Both transports.
class DispatchDelayTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DispatchDelayTest, EveryRequestRecordsItsDispatchDelay) {
  ::setenv("LLMBENCH_HTTP_CLIENT", GetParam().c_str(), 1);
  Shard shard = MakeShard(Vllm(), Ids(0, 24), /*concurrency=*/4);
  ShardRunnerOptions options = RunnerOptions();
  options.loop_threads = 1;
  RunResult result = RunInProcess(shard, options);
  ::unsetenv("LLMBENCH_HTTP_CLIENT");
  ASSERT_EQ(result.records.size(), 24u);
  int with_connect = 0;
  for (const RequestRecord& r : result.records) {
    ASSERT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_NONE) << r.error_message();
    ASSERT_TRUE(r.has_handed_ns());
    ASSERT_TRUE(r.has_dispatch_delay_ns()) << r.request_id();
    EXPECT_EQ(r.dispatch_delay_ns(), r.sent_ns() - r.handed_ns());
    EXPECT_GE(r.dispatch_delay_ns(), 0);
    if (r.has_connect_ns()) {
      ++with_connect;
      EXPECT_GT(r.connect_ns(), 0);
      EXPECT_LE(r.connect_ns(), r.dispatch_delay_ns());
    }
  }
  // 4 connections for 24 requests: the first request of each slot opened one.
  EXPECT_GE(with_connect, 1);
  EXPECT_LE(with_connect, 8);
  ExpectKnownLatencies(result.records);
}

INSTANTIATE_TEST_SUITE_P(Transports, DispatchDelayTest, ::testing::Values("http1", "curl"));

TEST(ShardRunnerTest, OpenLoopDispatchDelayCountsFromTheSchedule) {
  Shard shard = MakeShard(Vllm(), Ids(0, 10), /*concurrency=*/0);
  shard.mutable_load()->mutable_rate()->set_rps(100);
  shard.mutable_load()->mutable_rate()->set_arrival(llmbench::v1::ARRIVAL_CONSTANT);
  RunResult result = RunInProcess(shard);
  ASSERT_EQ(result.records.size(), 10u);
  for (const RequestRecord& r : result.records) {
    ASSERT_TRUE(r.has_scheduled_ns());
    ASSERT_TRUE(r.has_dispatch_delay_ns());
    EXPECT_EQ(r.dispatch_delay_ns(), r.sent_ns() - r.scheduled_ns());
    EXPECT_GE(r.handed_ns(), r.scheduled_ns());
  }
}

// Timeouts.idle_ms: a stream that stops sending (the sim's "stall" fault: tokens, then
// silence with the connection open) fails as a timeout that says so, long before total_ms.
class IdleTimeoutTest : public ::testing::TestWithParam<std::string> {};

TEST_P(IdleTimeoutTest, AStalledStreamIsAnIdleTimeout) {
  ::setenv("LLMBENCH_HTTP_CLIENT", GetParam().c_str(), 1);
  Shard shard = MakeShard(Vllm(), Ids(1, 1), /*concurrency=*/1);
  (*shard.mutable_engine()->mutable_headers())["x-llmbench-fault"] = "stall;after=2";
  shard.mutable_engine()->mutable_timeouts()->set_idle_ms(300);
  shard.mutable_engine()->mutable_timeouts()->set_total_ms(30000);
  RunResult result = RunInProcess(shard);
  ::unsetenv("LLMBENCH_HTTP_CLIENT");
  ASSERT_EQ(result.records.size(), 1u);
  const RequestRecord& r = result.records[0];
  EXPECT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_TIMEOUT);
  EXPECT_EQ(r.error_message(),
            "no data from the engine for 300 ms in the middle of the response (idle timeout)");
  EXPECT_EQ(r.http_status(), 200u);
  EXPECT_GE(r.content_chunks(), 1u);
  EXPECT_GE(r.end_ns() - r.first_token_ns(), 300'000'000);
  EXPECT_LT(r.end_ns() - r.sent_ns(), 10'000'000'000);
}

INSTANTIATE_TEST_SUITE_P(Transports, IdleTimeoutTest, ::testing::Values("http1", "curl"));

// Every completed second of every loop is reported, with its busy, CPU and run-queue shares.
TEST(ShardRunnerTest, LoopWindowsCoverTheRun) {
  Shard shard = MakeShard(Vllm(), Ids(0, 24), /*concurrency=*/2, /*max_tokens=*/60);
  RunResult result = RunInProcess(shard);  // ~ 12 x (30 ms + 59 x 10 ms) = 7.4 s on 2 loops
  ASSERT_EQ(result.records.size(), 24u);
  ASSERT_GE(result.summary.loop_windows_size(), 4);
  std::set<uint32_t> loops;
  for (const llmbench::v1::LoopWindow& w : result.summary.loop_windows()) {
    loops.insert(w.loop());
    EXPECT_GE(w.length_s(), 1.0);
    EXPECT_GE(w.t_s(), 0.0);
    EXPECT_GE(w.busy(), 0.0);
    EXPECT_LE(w.busy(), 1.0);
    EXPECT_GE(w.cpu(), 0.0);
    EXPECT_TRUE(w.has_runq_wait());
  }
  EXPECT_EQ(loops.size(), 2u);
}

TEST(ShardRunnerTest, InvalidShardsAreRefusedWithTheFieldNamed) {
  Shard shard = MakeShard(Vllm(), Ids(1, 1), /*concurrency=*/1);
  shard.clear_prompts();
  EXPECT_EQ(ShardRunner::Create(shard, RunnerOptions()).status(),
            absl::InvalidArgumentError("shard.prompts is empty"));
  shard = MakeShard(Vllm(), Ids(1, 1), /*concurrency=*/65);
  EXPECT_EQ(ShardRunner::Create(shard, RunnerOptions()).status(),
            absl::InvalidArgumentError(
                "shard.load.concurrency 65 exceeds this worker's max_concurrency 64"));
  shard = MakeShard(Vllm(), {}, /*concurrency=*/1);
  EXPECT_EQ(ShardRunner::Create(shard, RunnerOptions()).status(),
            absl::InvalidArgumentError("shard has neither request_ids, request_ranges nor duration_seconds"));
  shard = MakeShard(Vllm(), Ids(1, 1), /*concurrency=*/1);
  shard.mutable_engine()->set_api_key_env("LLMBENCH_TEST_UNSET_KEY_VARIABLE");
  EXPECT_EQ(ShardRunner::Create(shard, RunnerOptions()).status(),
            absl::InvalidArgumentError(
                "shard.engine.api_key_env LLMBENCH_TEST_UNSET_KEY_VARIABLE: this worker sends only "
                "variables named LLMBENCH_KEY_* and those given with --api-key-env, when they are "
                "set"));
  shard.mutable_engine()->set_api_key_env("");
  (*shard.mutable_engine()->mutable_headers())["X-Injected"] = "a\r\nHost: evil";
  EXPECT_EQ(ShardRunner::Create(shard, RunnerOptions()).status(),
            absl::InvalidArgumentError(
                "shard.engine.headers.X-Injected: header values must not contain line breaks"));
  shard.mutable_engine()->mutable_headers()->clear();
  (*shard.mutable_engine()->mutable_headers())["X-Bad\r\nName"] = "v";
  EXPECT_EQ(ShardRunner::Create(shard, RunnerOptions()).status(),
            absl::InvalidArgumentError(
                "shard.engine.headers: not a valid HTTP header name: \"X-Bad\\r\\nName\""));
}

// ---- a real llmbench-worker over gRPC -----------------------------------------------------

class WorkerProcess {
 public:
  WorkerProcess() {
    auto started = Subprocess::Start({LLMBENCH_WORKER_BINARY, "--listen", "127.0.0.1:0",
                                      "--loop-threads", "2", "--max-concurrency", "64",
                                      "--worker-id", "w-test", "--log-level", "warn"});
    EXPECT_TRUE(started.ok()) << started.status();
    process_ = *std::move(started);
    auto line = process_->WaitForStdoutLine(0, std::chrono::seconds(20));
    EXPECT_TRUE(line.ok()) << line.status() << process_->Stderr();
    const std::string prefix = "listening grpc://";
    EXPECT_THAT(line->second, ::testing::StartsWith(prefix + "127.0.0.1:"));
    address_ = line->second.substr(prefix.size());
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    channel_ = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
    stub_ = llmbench::v1::WorkerService::NewStub(channel_);
  }
  llmbench::v1::WorkerService::Stub& stub() { return *stub_; }
  Subprocess& process() { return *process_; }
  const std::string& address() const { return address_; }

 private:
  std::unique_ptr<Subprocess> process_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<llmbench::v1::WorkerService::Stub> stub_;
};

struct StreamResult {
  std::vector<WorkerMessage> messages;
  std::vector<RequestRecord> records;
  int progress_messages = 0;
  int batches = 0;
  int max_batch = 0;
  std::optional<llmbench::v1::ShardSummary> summary;
  bool summary_last = false;
  grpc::Status status;
};

StreamResult ReadStream(grpc::ClientReader<WorkerMessage>* reader,
                        const std::function<void(const WorkerMessage&)>& on_message = nullptr) {
  StreamResult result;
  WorkerMessage message;
  while (reader->Read(&message)) {
    if (on_message) on_message(message);
    result.summary_last = false;
    if (message.has_records()) {
      ++result.batches;
      result.max_batch = std::max(result.max_batch, message.records().records_size());
      for (const RequestRecord& r : message.records().records()) result.records.push_back(r);
    } else if (message.has_progress()) {
      ++result.progress_messages;
    } else if (message.has_summary()) {
      result.summary = message.summary();
      result.summary_last = true;
    }
    result.messages.push_back(message);
  }
  result.status = reader->Finish();
  return result;
}

StreamResult RunOverGrpc(WorkerProcess& worker, const Shard& shard) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  llmbench::v1::RunShardRequest request;
  *request.mutable_shard() = shard;
  auto reader = worker.stub().RunShard(&context, request);
  return ReadStream(reader.get());
}

class WorkerGrpcSimTest : public ::testing::TestWithParam<Personality> {};

TEST_P(WorkerGrpcSimTest, RunShardStreamsBatchesProgressAndSummary) {
  WorkerProcess worker;
  Shard shard = MakeShard(GetParam(), Ids(1000, 24), /*concurrency=*/4);
  shard.set_record_batch_size(5);
  shard.set_progress_interval_ms(100);
  StreamResult result = RunOverGrpc(worker, shard);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.records.size(), 24u);
  EXPECT_THAT(SortedIds(result.records), ElementsAreArray(Ids(1000, 24)));
  ExpectKnownLatencies(result.records);
  for (const RequestRecord& r : result.records) EXPECT_EQ(r.worker_id(), "w-test");
  EXPECT_LE(result.max_batch, 5);
  EXPECT_GE(result.batches, 5);  // 24 records in batches of at most 5
  // ~0.6 s of shard at 100 ms per heartbeat.
  EXPECT_GE(result.progress_messages, 2);
  ASSERT_TRUE(result.summary.has_value());
  EXPECT_TRUE(result.summary_last);
  EXPECT_EQ(result.summary->requests_sent(), 24u);
  EXPECT_EQ(result.summary->records_sent(), 24u);
  EXPECT_EQ(result.summary->records_dropped(), 0u);
  EXPECT_FALSE(result.summary->cancelled());
  EXPECT_EQ(worker.process().Stop().code, 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, WorkerGrpcSimTest, ::testing::ValuesIn(Personalities()),
                         PersonalityName);

TEST(WorkerGrpcTest, DescribeReportsTheWorker) {
  WorkerProcess worker;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  llmbench::v1::DescribeResponse response;
  const int64_t before = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  grpc::Status status = worker.stub().Describe(&context, {}, &response);
  const int64_t after = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  ASSERT_TRUE(status.ok()) << status.error_message();
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  EXPECT_EQ(response.worker_id(), "w-test");
  EXPECT_EQ(response.version(), std::string(llmbench::kVersion));
  EXPECT_EQ(response.protocol_version(), llmbench::kProtocolVersion);
  EXPECT_EQ(response.cores(), std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(response.loop_threads(), 2u);
  EXPECT_EQ(response.max_concurrency(), 64u);
  EXPECT_EQ(response.hostname(), std::string(host));
  EXPECT_FALSE(response.busy());
  EXPECT_GE(response.unix_time_ns(), before);
  EXPECT_LE(response.unix_time_ns(), after);
}

TEST(WorkerGrpcTest, HealthServiceIsServing) {
  WorkerProcess worker;
  auto channel = grpc::CreateChannel(worker.address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  // grpc.health.v1.Health/Check with an empty HealthCheckRequest; the reply is
  // HealthCheckResponse{status: SERVING} = field 1 varint 1 = bytes 08 01.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice empty_message("");
  grpc::ByteBuffer request(&empty_message, 1);
  grpc::ByteBuffer response;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  grpc::StubOptions options;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", options, &request, &response,
                 [&](grpc::Status s) {
                   std::lock_guard<std::mutex> lock(mu);
                   status = s;
                   done = true;
                   cv.notify_all();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

TEST(WorkerGrpcTest, SecondRunShardIsRefusedWhileOneRuns) {
  WorkerProcess worker;
  Shard long_shard = MakeShard(Vllm(), Ids(1, 2), /*concurrency=*/2, /*max_tokens=*/1000);
  long_shard.set_run_id("run-a");
  long_shard.set_shard_index(0);
  long_shard.set_progress_interval_ms(50);
  grpc::ClientContext first_context;
  llmbench::v1::RunShardRequest first_request;
  *first_request.mutable_shard() = long_shard;
  auto first = worker.stub().RunShard(&first_context, first_request);
  WorkerMessage message;
  ASSERT_TRUE(first->Read(&message));  // the shard is running (first heartbeat)

  StreamResult second = RunOverGrpc(worker, MakeShard(Vllm(), Ids(5, 1), 1));
  EXPECT_EQ(second.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(second.status.error_message(), "worker busy: shard run-a/0 is running");
  EXPECT_TRUE(second.messages.empty());

  {
    grpc::ClientContext context;
    llmbench::v1::DescribeResponse response;
    ASSERT_TRUE(worker.stub().Describe(&context, {}, &response).ok());
    EXPECT_TRUE(response.busy());
  }
  first_context.TryCancel();
  while (first->Read(&message)) {
  }
  EXPECT_EQ(first->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The cancelled shard winds down (aborts its requests) and the worker takes work again.
  StreamResult third;
  for (int attempt = 0; attempt < 100; ++attempt) {
    third = RunOverGrpc(worker, MakeShard(Vllm(), Ids(5, 1), 1));
    if (third.status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(third.status.ok()) << third.status.error_message();
  EXPECT_EQ(third.records.size(), 1u);
  EXPECT_EQ(worker.process().Stop().code, 0);
}

TEST(WorkerGrpcTest, InvalidShardIsRefused) {
  WorkerProcess worker;
  Shard shard = MakeShard(Vllm(), Ids(1, 1), 1);
  shard.clear_prompts();
  StreamResult result = RunOverGrpc(worker, shard);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(result.status.error_message(), "shard.prompts is empty");
}

TEST(WorkerGrpcTest, SigtermCancelsTheShardFlushesAndExitsZero) {
  WorkerProcess worker;
  Shard shard = MakeShard(Vllm(), Ids(1, 6), /*concurrency=*/3, /*max_tokens=*/1000);
  shard.set_progress_interval_ms(50);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  llmbench::v1::RunShardRequest request;
  *request.mutable_shard() = shard;
  auto reader = worker.stub().RunShard(&context, request);
  bool signalled = false;
  StreamResult result = ReadStream(reader.get(), [&](const WorkerMessage& m) {
    // Once the three requests are streaming tokens, ask the worker to stop.
    if (!signalled && m.has_progress() && m.progress().in_flight() == 3 &&
        m.progress().elapsed_ns() > 300'000'000) {
      worker.process().Signal(SIGTERM);
      signalled = true;
    }
  });
  ASSERT_TRUE(signalled);
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.records.size(), 3u);
  for (const RequestRecord& r : result.records) {
    EXPECT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_CANCELLED);
  }
  ASSERT_TRUE(result.summary.has_value());
  EXPECT_TRUE(result.summary_last);
  EXPECT_TRUE(result.summary->cancelled());
  EXPECT_EQ(result.summary->records_sent(), 3u);
  EXPECT_THAT(UnfinishedIds(*result.summary), ElementsAreArray(Ids(1, 6)));
  auto exit = worker.process().Wait(std::chrono::seconds(20));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->exited);
  EXPECT_EQ(exit->code, 0);
}

// Peak resident memory (VmHWM) of `pid` in KiB.
int64_t PeakRssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

TEST(WorkerGrpcTest, HugeLineIsAParseErrorWithBoundedMemory) {
  WorkerProcess worker;
  // Warm the worker up (threads, connection, allocator) so the peak below is about the line.
  ASSERT_TRUE(RunOverGrpc(worker, MakeShard(Vllm(), Ids(1, 2), 2)).status.ok());
  const int64_t before = PeakRssKib(worker.process().pid());
  Shard shard = MakeShard(Vllm(), Ids(10, 2), /*concurrency=*/2);
  // Each request streams one 10 MiB token line.
  (*shard.mutable_engine()->mutable_headers())["x-llmbench-fault"] = "huge_line";
  StreamResult result = RunOverGrpc(worker, shard);
  ASSERT_TRUE(result.status.ok());
  ASSERT_EQ(result.records.size(), 2u);
  for (const RequestRecord& r : result.records) {
    EXPECT_EQ(r.error_class(), llmbench::v1::ERROR_CLASS_PARSE) << r.error_message();
  }
  const int64_t after = PeakRssKib(worker.process().pid());
  ASSERT_GT(before, 0);
  // Two 10 MiB lines held in memory would add >= 20 MiB; bounded parsing adds far less.
  EXPECT_LT(after - before, 8 * 1024) << "peak RSS grew from " << before << " KiB to " << after;
}

}  // namespace
}  // namespace llmbench::worker
