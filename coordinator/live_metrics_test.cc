#include "coordinator/live_metrics.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/clock.h"
#include "common/version.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr int64_t kMs = 1'000'000;  // ns
constexpr int64_t kUs = 1'000;      // ns

v1::Scenario DemoScenario(std::vector<std::string> engines = {"a"}) {
  v1::Scenario s;
  s.set_name("demo");
  for (const std::string& name : engines) s.add_engines()->set_name(name);
  return s;
}

// A successful streamed record: first token at offsets[0] after sent.
v1::RequestRecord Success(const std::string& worker, int64_t sent, int64_t end,
                          std::vector<int64_t> offsets, uint32_t output_tokens,
                          const std::string& engine = "a") {
  v1::RequestRecord r;
  r.set_worker_id(worker);
  r.set_engine(engine);
  r.set_sent_ns(sent);
  if (!offsets.empty()) r.set_first_token_ns(sent + offsets[0]);
  r.set_end_ns(end);
  for (int64_t o : offsets) r.add_chunk_offsets_ns(o);
  r.set_output_tokens(output_tokens);
  return r;
}

v1::RequestRecord Failure(const std::string& worker, int64_t sent, int64_t end,
                          v1::ErrorClass error_class, const std::string& engine = "a") {
  v1::RequestRecord r;
  r.set_worker_id(worker);
  r.set_engine(engine);
  r.set_sent_ns(sent);
  r.set_end_ns(end);
  r.set_error_class(error_class);
  return r;
}

v1::WorkerMessage Progress(uint64_t in_flight, double cpu_utilization) {
  v1::WorkerMessage m;
  m.mutable_progress()->set_in_flight(in_flight);
  m.mutable_progress()->set_cpu_utilization(cpu_utilization);
  return m;
}

v1::WorkerMessage Summary() {
  v1::WorkerMessage m;
  m.mutable_summary()->set_records_sent(1);
  return m;
}

// The value of the sample line that starts with `series` followed by a space.
double Value(const std::string& text, absl::string_view series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, series) && absl::ConsumePrefix(&line, " ")) {
      double v = 0;
      EXPECT_TRUE(absl::SimpleAtod(line, &v)) << line;
      return v;
    }
  }
  ADD_FAILURE() << "no sample " << series << " in\n" << text;
  return -1;
}

TEST(LiveMetricsTest, ExactTextForAKnownSequenceOfRecords) {
  FakeClock clock(1'000 * kMs);
  LiveMetrics live(clock);
  live.BeginRun("run-1", DemoScenario());
  clock.AdvanceNs(2'500 * kMs);

  // w1, closed loop: TTFT 20 ms, gaps 10 and 15 ms, E2E 100 ms; a timeout of 5 s.
  v1::RequestRecord a = Success("w1", 0, 100 * kMs, {20 * kMs, 30 * kMs, 45 * kMs}, 3);
  a.set_input_tokens(10);
  a.set_prompt_tokens_sent(999);  // the engine's count wins
  live.Add(a);
  live.Add(Failure("w1", 0, 5'000 * kMs, v1::ERROR_CLASS_TIMEOUT));
  // Warm-up: counted nowhere.
  v1::RequestRecord warm = Success("w1", 0, 90'000 * kMs, {50'000 * kMs, 60'000 * kMs}, 1000);
  warm.set_warmup(true);
  warm.set_input_tokens(1000);
  live.Add(warm);
  // w2, open loop: 0.3 ms late, TTFT 2 ms, one chunk (no gap), E2E exactly 2.5 s (a bucket
  // bound: "le" is inclusive); only the count the client sent for input tokens.
  v1::RequestRecord b = Success("w2", 300 * kUs, 300 * kUs + 2'500 * kMs, {2 * kMs}, 1);
  b.set_scheduled_ns(0);
  b.set_prompt_tokens_sent(7);
  live.Add(b);
  // w2, open loop: a 5xx 2 ms late (lateness counts failures too).
  v1::RequestRecord c = Failure("w2", 2 * kMs, 3 * kMs, v1::ERROR_CLASS_HTTP_5XX);
  c.set_scheduled_ns(0);
  live.Add(c);

  live.OnWorkerMessage("w1", 2, Progress(4, 0.5));  // 0.5 of a process over 2 loop threads
  live.OnWorkerMessage("w2", 1, Progress(2, 0));    // no CPU figure yet
  live.OnWorkerMessage("w2", 1, Summary());         // shard over: nothing in flight

  const std::string expected = absl::StrCat(
      "# HELP llmbench_run_info The run being measured; the value is always 1.\n"
      "# TYPE llmbench_run_info gauge\n"
      "llmbench_run_info{run_id=\"run-1\",scenario=\"demo\",version=\"", kVersion, "\"} 1\n",
      R"(# HELP llmbench_run_elapsed_seconds Seconds since the run began.
# TYPE llmbench_run_elapsed_seconds gauge
llmbench_run_elapsed_seconds 2.5
# HELP llmbench_requests_total Measured requests finished, by outcome (success or the error class); warm-up excluded.
# TYPE llmbench_requests_total counter
llmbench_requests_total{engine="a",worker="w1",outcome="success"} 1
llmbench_requests_total{engine="a",worker="w1",outcome="timeout"} 1
llmbench_requests_total{engine="a",worker="w2",outcome="success"} 1
llmbench_requests_total{engine="a",worker="w2",outcome="http_5xx"} 1
# HELP llmbench_output_tokens_total Output tokens of successful measured requests.
# TYPE llmbench_output_tokens_total counter
llmbench_output_tokens_total{engine="a",worker="w1"} 3
llmbench_output_tokens_total{engine="a",worker="w2"} 1
# HELP llmbench_input_tokens_total Input tokens of successful measured requests (engine-reported, else as sent).
# TYPE llmbench_input_tokens_total counter
llmbench_input_tokens_total{engine="a",worker="w1"} 10
llmbench_input_tokens_total{engine="a",worker="w2"} 7
# HELP llmbench_requests_in_flight Requests in flight on the worker, from its latest progress report.
# TYPE llmbench_requests_in_flight gauge
llmbench_requests_in_flight{worker="w1"} 4
llmbench_requests_in_flight{worker="w2"} 0
# HELP llmbench_worker_cpu_utilization Worker process CPU seconds per wall second per event-loop thread since its shard started (1 = one core busy).
# TYPE llmbench_worker_cpu_utilization gauge
llmbench_worker_cpu_utilization{worker="w1"} 0.25
# HELP llmbench_ttft_seconds Time to first token of successful measured requests.
# TYPE llmbench_ttft_seconds histogram
llmbench_ttft_seconds_bucket{engine="a",le="0.001"} 0
llmbench_ttft_seconds_bucket{engine="a",le="0.0025"} 1
llmbench_ttft_seconds_bucket{engine="a",le="0.005"} 1
llmbench_ttft_seconds_bucket{engine="a",le="0.01"} 1
llmbench_ttft_seconds_bucket{engine="a",le="0.025"} 2
llmbench_ttft_seconds_bucket{engine="a",le="0.05"} 2
llmbench_ttft_seconds_bucket{engine="a",le="0.1"} 2
llmbench_ttft_seconds_bucket{engine="a",le="0.25"} 2
llmbench_ttft_seconds_bucket{engine="a",le="0.5"} 2
llmbench_ttft_seconds_bucket{engine="a",le="1"} 2
llmbench_ttft_seconds_bucket{engine="a",le="2.5"} 2
llmbench_ttft_seconds_bucket{engine="a",le="5"} 2
llmbench_ttft_seconds_bucket{engine="a",le="10"} 2
llmbench_ttft_seconds_bucket{engine="a",le="30"} 2
llmbench_ttft_seconds_bucket{engine="a",le="60"} 2
llmbench_ttft_seconds_bucket{engine="a",le="+Inf"} 2
llmbench_ttft_seconds_sum{engine="a"} 0.022
llmbench_ttft_seconds_count{engine="a"} 2
# HELP llmbench_itl_seconds Inter-token latency: every gap between consecutive content chunks of successful measured requests.
# TYPE llmbench_itl_seconds histogram
llmbench_itl_seconds_bucket{engine="a",le="0.0005"} 0
llmbench_itl_seconds_bucket{engine="a",le="0.001"} 0
llmbench_itl_seconds_bucket{engine="a",le="0.0025"} 0
llmbench_itl_seconds_bucket{engine="a",le="0.005"} 0
llmbench_itl_seconds_bucket{engine="a",le="0.01"} 1
llmbench_itl_seconds_bucket{engine="a",le="0.015"} 2
llmbench_itl_seconds_bucket{engine="a",le="0.02"} 2
llmbench_itl_seconds_bucket{engine="a",le="0.025"} 2
llmbench_itl_seconds_bucket{engine="a",le="0.05"} 2
llmbench_itl_seconds_bucket{engine="a",le="0.075"} 2
llmbench_itl_seconds_bucket{engine="a",le="0.1"} 2
llmbench_itl_seconds_bucket{engine="a",le="0.25"} 2
llmbench_itl_seconds_bucket{engine="a",le="0.5"} 2
llmbench_itl_seconds_bucket{engine="a",le="1"} 2
llmbench_itl_seconds_bucket{engine="a",le="2.5"} 2
llmbench_itl_seconds_bucket{engine="a",le="+Inf"} 2
llmbench_itl_seconds_sum{engine="a"} 0.025
llmbench_itl_seconds_count{engine="a"} 2
# HELP llmbench_e2e_seconds End-to-end latency of successful measured requests.
# TYPE llmbench_e2e_seconds histogram
llmbench_e2e_seconds_bucket{engine="a",le="0.01"} 0
llmbench_e2e_seconds_bucket{engine="a",le="0.025"} 0
llmbench_e2e_seconds_bucket{engine="a",le="0.05"} 0
llmbench_e2e_seconds_bucket{engine="a",le="0.1"} 1
llmbench_e2e_seconds_bucket{engine="a",le="0.25"} 1
llmbench_e2e_seconds_bucket{engine="a",le="0.5"} 1
llmbench_e2e_seconds_bucket{engine="a",le="1"} 1
llmbench_e2e_seconds_bucket{engine="a",le="2.5"} 2
llmbench_e2e_seconds_bucket{engine="a",le="5"} 2
llmbench_e2e_seconds_bucket{engine="a",le="10"} 2
llmbench_e2e_seconds_bucket{engine="a",le="20"} 2
llmbench_e2e_seconds_bucket{engine="a",le="30"} 2
llmbench_e2e_seconds_bucket{engine="a",le="60"} 2
llmbench_e2e_seconds_bucket{engine="a",le="120"} 2
llmbench_e2e_seconds_bucket{engine="a",le="300"} 2
llmbench_e2e_seconds_bucket{engine="a",le="+Inf"} 2
llmbench_e2e_seconds_sum{engine="a"} 2.6
llmbench_e2e_seconds_count{engine="a"} 2
# HELP llmbench_schedule_lateness_seconds Open loop: sent minus scheduled time of every measured request (the generator's own delay).
# TYPE llmbench_schedule_lateness_seconds histogram
llmbench_schedule_lateness_seconds_bucket{engine="a",le="0.0001"} 0
llmbench_schedule_lateness_seconds_bucket{engine="a",le="0.00025"} 0
llmbench_schedule_lateness_seconds_bucket{engine="a",le="0.0005"} 1
llmbench_schedule_lateness_seconds_bucket{engine="a",le="0.001"} 1
llmbench_schedule_lateness_seconds_bucket{engine="a",le="0.0025"} 2
llmbench_schedule_lateness_seconds_bucket{engine="a",le="0.005"} 2
llmbench_schedule_lateness_seconds_bucket{engine="a",le="0.01"} 2
llmbench_schedule_lateness_seconds_bucket{engine="a",le="0.025"} 2
llmbench_schedule_lateness_seconds_bucket{engine="a",le="0.05"} 2
llmbench_schedule_lateness_seconds_bucket{engine="a",le="0.1"} 2
llmbench_schedule_lateness_seconds_bucket{engine="a",le="0.25"} 2
llmbench_schedule_lateness_seconds_bucket{engine="a",le="0.5"} 2
llmbench_schedule_lateness_seconds_bucket{engine="a",le="1"} 2
llmbench_schedule_lateness_seconds_bucket{engine="a",le="+Inf"} 2
llmbench_schedule_lateness_seconds_sum{engine="a"} 0.0023
llmbench_schedule_lateness_seconds_count{engine="a"} 2
)");
  EXPECT_EQ(live.Render(), expected);
}

TEST(LiveMetricsTest, BeforeAnyRunOnlyTheFamiliesAndAZeroElapsedTime) {
  FakeClock clock;
  LiveMetrics live(clock);
  const std::string text = live.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE llmbench_run_info gauge\n# HELP llmbench_run_elapsed"));
  EXPECT_THAT(text, HasSubstr("\nllmbench_run_elapsed_seconds 0\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE llmbench_schedule_lateness_seconds histogram\n"));
  EXPECT_THAT(text, Not(HasSubstr("_bucket")));
}

TEST(LiveMetricsTest, ScenarioEnginesGetEmptyHistogramsAtOnce) {
  FakeClock clock;
  LiveMetrics live(clock);
  live.BeginRun("r", DemoScenario({"a", "b"}));
  const std::string text = live.Render();
  EXPECT_THAT(text, HasSubstr("llmbench_ttft_seconds_bucket{engine=\"b\",le=\"+Inf\"} 0\n"
                              "llmbench_ttft_seconds_sum{engine=\"b\"} 0\n"
                              "llmbench_ttft_seconds_count{engine=\"b\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("llmbench_e2e_seconds_count{engine=\"a\"} 0\n"));
}

TEST(LiveMetricsTest, BeginRunForgetsThePreviousRun) {
  FakeClock clock;
  LiveMetrics live(clock);
  live.BeginRun("r1", DemoScenario());
  live.Add(Success("w1", 0, 10 * kMs, {5 * kMs}, 2));
  live.OnWorkerMessage("w1", 1, Progress(3, 0.5));
  clock.AdvanceNs(7'000 * kMs);
  live.BeginRun("r2", DemoScenario({"z"}));
  clock.AdvanceNs(250 * kMs);
  const std::string text = live.Render();
  EXPECT_THAT(text, HasSubstr("{run_id=\"r2\",scenario=\"demo\","));
  EXPECT_THAT(text, HasSubstr("\nllmbench_run_elapsed_seconds 0.25\n"));
  EXPECT_THAT(text, Not(HasSubstr("r1")));
  EXPECT_THAT(text, Not(HasSubstr("engine=\"a\"")));
  EXPECT_THAT(text, Not(HasSubstr("worker=\"w1\"")));
  // The cache of the last cell must not point into the forgotten run.
  live.Add(Success("w1", 0, 10 * kMs, {5 * kMs}, 2));
  EXPECT_EQ(Value(live.Render(), "llmbench_output_tokens_total{engine=\"a\",worker=\"w1\"}"), 2);
}

TEST(LiveMetricsTest, UnknownErrorClassesAndOddValuesAreData) {
  FakeClock clock;
  LiveMetrics live(clock);
  live.BeginRun("r", DemoScenario());
  live.Add(Failure("w1", 0, 1, static_cast<v1::ErrorClass>(42)));
  // A negative gap (a broken clock) counts as 0 so that _sum never decreases.
  live.Add(Success("w1", 0, 10 * kMs, {5 * kMs, 4 * kMs}, 2));
  const std::string text = live.Render();
  EXPECT_EQ(Value(text, "llmbench_requests_total{engine=\"a\",worker=\"w1\",outcome=\"unknown\"}"),
            1);
  EXPECT_EQ(Value(text, "llmbench_itl_seconds_bucket{engine=\"a\",le=\"0.0005\"}"), 1);
  EXPECT_EQ(Value(text, "llmbench_itl_seconds_sum{engine=\"a\"}"), 0);
}

TEST(LiveMetricsTest, LabelValuesAreEscaped) {
  EXPECT_EQ(EscapeLabelValue("plain-name_1.2"), "plain-name_1.2");
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  FakeClock clock;
  LiveMetrics live(clock);
  v1::Scenario scenario = DemoScenario({"we\"ird\\"});
  scenario.set_name("line1\nline2");
  live.BeginRun("r", scenario);
  live.Add(Success("host\"1", 0, 10 * kMs, {5 * kMs}, 2, "we\"ird\\"));
  const std::string text = live.Render();
  EXPECT_THAT(text, HasSubstr("scenario=\"line1\\nline2\""));
  EXPECT_THAT(text, HasSubstr("llmbench_output_tokens_total{engine=\"we\\\"ird\\\\\","
                              "worker=\"host\\\"1\"} 2\n"));
}

TEST(LiveMetricsTest, DoublesUseTheShortestTextThatReadsBack) {
  EXPECT_EQ(FormatPrometheusDouble(0), "0");
  EXPECT_EQ(FormatPrometheusDouble(1), "1");
  EXPECT_EQ(FormatPrometheusDouble(0.0025), "0.0025");
  EXPECT_EQ(FormatPrometheusDouble(2'500'000 / 1e9), "0.0025");
  EXPECT_EQ(FormatPrometheusDouble(123456789.5), "123456789.5");
  EXPECT_EQ(FormatPrometheusDouble(0.0005), "0.0005");
  EXPECT_EQ(FormatPrometheusDouble(0.00005), "5e-05");
  EXPECT_EQ(FormatPrometheusDouble(3000), "3000");
  EXPECT_EQ(FormatPrometheusDouble(-2.5), "-2.5");
  EXPECT_EQ(FormatPrometheusDouble(1e20), "100000000000000000000");
  EXPECT_EQ(FormatPrometheusDouble(1e21), "1e+21");
  EXPECT_EQ(FormatPrometheusDouble(1e300 * 1e10), "+Inf");
  EXPECT_EQ(FormatPrometheusDouble(-1e300 * 1e10), "-Inf");
  EXPECT_EQ(FormatPrometheusDouble(std::nan("")), "NaN");
}

TEST(LiveHistogramTest, BucketBoundsAreInclusiveAndTheLastIsInfinity) {
  static constexpr int64_t kBounds[] = {10, 20};
  LiveHistogram h(kBounds);
  h.Observe(10);
  h.Observe(11);
  h.Observe(20);
  h.Observe(21);
  h.Observe(-5);
  EXPECT_EQ(h.counts(), (std::vector<uint64_t>{2, 2, 1}));
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.sum_ns(), 62);
}

// Sums every sample of `family` whose line starts with "family{" or "family ".
double SumOf(const std::string& text, absl::string_view family) {
  double total = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, family)) continue;
    if (line.empty() || (line[0] != '{' && line[0] != ' ')) continue;
    double v = 0;
    EXPECT_TRUE(absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) << line;
    total += v;
  }
  return total;
}

// Writers on several threads while a reader renders: every render is a consistent snapshot
// (histogram _count equals its +Inf bucket and requests_total; counters never go back), and
// the final numbers are exact. Run under TSan (LLMBENCH_SANITIZE=thread) for the locking.
TEST(LiveMetricsTest, ConcurrentUpdatesAndRendersStayConsistent) {
  FakeClock clock;
  LiveMetrics live(clock);
  live.BeginRun("r", DemoScenario());
  constexpr int kWriters = 4;
  constexpr int kRecordsEach = 2000;
  std::atomic<int> writers_done{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const std::string worker = absl::StrCat("w", w);
      for (int i = 0; i < kRecordsEach; ++i) {
        live.Add(Success(worker, 0, (i % 50 + 1) * kMs, {1 * kMs, 2 * kMs}, 3));
        if (i % 100 == 0) live.OnWorkerMessage(worker, 1, Progress(i % 7, 0.5));
      }
      writers_done.fetch_add(1);
    });
  }
  double last_requests = 0;
  int renders = 0;
  bool consistent = true;  // no ASSERT here: the writers must be joined before returning
  while (consistent && (writers_done.load() < kWriters || renders < 3)) {
    const std::string text = live.Render();
    ++renders;
    const double requests = SumOf(text, "llmbench_requests_total");
    const double count = Value(text, "llmbench_e2e_seconds_count{engine=\"a\"}");
    EXPECT_EQ(count, Value(text, "llmbench_e2e_seconds_bucket{engine=\"a\",le=\"+Inf\"}"));
    EXPECT_EQ(count, requests);
    EXPECT_EQ(SumOf(text, "llmbench_output_tokens_total"), 3 * requests);
    EXPECT_EQ(Value(text, "llmbench_itl_seconds_count{engine=\"a\"}"), requests);
    EXPECT_GE(requests, last_requests);
    last_requests = requests;
    consistent = !HasFailure();
  }
  for (std::thread& t : writers) t.join();
  const std::string text = live.Render();
  EXPECT_EQ(SumOf(text, "llmbench_requests_total"), kWriters * kRecordsEach);
  EXPECT_EQ(Value(text, "llmbench_ttft_seconds_bucket{engine=\"a\",le=\"0.001\"}"),
            kWriters * kRecordsEach);
}

// ---------------------------------------------------------------------------------------------
// The HTTP server, over loopback with raw sockets (exact bytes on the wire).

// Sends `request` to 127.0.0.1:`port` and reads until the server closes (10 s receive
// timeout: generous for a 2-core machine; the server answers in well under a second).
std::string Exchange(int port, std::string_view request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "connect failed";
  }
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[4096];
  while (true) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return response;
}

class LiveMetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<LiveMetricsServer>> server =
        LiveMetricsServer::Start("127.0.0.1:0", [this] {
          ++renders_;
          return std::string("llmbench_test 1\n");
        });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  std::atomic<int> renders_{0};
  std::unique_ptr<LiveMetricsServer> server_;
};

TEST_F(LiveMetricsServerTest, GetMetricsAnswersTheRenderedText) {
  ASSERT_GT(server_->port(), 0);
  EXPECT_EQ(server_->url(), absl::StrCat("http://127.0.0.1:", server_->port(), "/metrics"));
  const std::string response =
      Exchange(server_->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(response,
              HasSubstr("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_THAT(response, HasSubstr("\r\nContent-Length: 16\r\n"));
  EXPECT_THAT(response, testing::EndsWith("\r\n\r\nllmbench_test 1\n"));
  EXPECT_EQ(renders_.load(), 1);
  // A query string is ignored.
  EXPECT_THAT(Exchange(server_->port(),
                       "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
              StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST_F(LiveMetricsServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  const std::string response = Exchange(
      server_->port(),
      "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n"
      "Connection: close\r\n\r\n");
  size_t oks = 0;
  for (size_t at = response.find("HTTP/1.1 200 OK"); at != std::string::npos;
       at = response.find("HTTP/1.1 200 OK", at + 1)) {
    ++oks;
  }
  EXPECT_EQ(oks, 2u) << response;
  EXPECT_EQ(renders_.load(), 2);
}

TEST_F(LiveMetricsServerTest, OtherPathsAre404OtherMethods405AndGarbage400) {
  const std::string not_found =
      Exchange(server_->port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(not_found, StartsWith("HTTP/1.1 404 Not Found\r\n"));
  EXPECT_THAT(not_found, testing::EndsWith("\r\n\r\nnot found: the metrics are at /metrics\n"));
  const std::string post = Exchange(
      server_->port(),
      "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
  EXPECT_THAT(post, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(post, HasSubstr("\r\nAllow: GET\r\n"));
  const std::string garbage = Exchange(server_->port(), "NOT HTTP\r\n\r\n");
  EXPECT_THAT(garbage, StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_THAT(garbage, HasSubstr("\r\n\r\nbad request: "));
  const std::string huge_header = Exchange(
      server_->port(), absl::StrCat("GET /metrics HTTP/1.1\r\nX: ", std::string(20000, 'a'),
                                    "\r\n\r\n"));
  EXPECT_THAT(huge_header, StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_EQ(renders_.load(), 0);
  // Still serving after all that.
  EXPECT_THAT(Exchange(server_->port(),
                       "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
              StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST_F(LiveMetricsServerTest, StopClosesTheListener) {
  const int port = server_->port();
  server_->Stop();
  server_->Stop();  // idempotent
  EXPECT_EQ(Exchange(port, "GET /metrics HTTP/1.1\r\n\r\n"), "connect failed");
}

TEST_F(LiveMetricsServerTest, AnAddressInUseIsUnavailableNamingTheFlag) {
  const std::string listen = absl::StrCat("127.0.0.1:", server_->port());
  absl::StatusOr<std::unique_ptr<LiveMetricsServer>> second =
      LiveMetricsServer::Start(listen, [] { return std::string(); });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(second.status().message(),
            absl::StrCat("--metrics-listen ", listen, ": cannot listen: Address already in use"));
}

TEST(LiveMetricsServerStartTest, MalformedAddressesAreInvalidArguments) {
  struct Case {
    std::string listen;
    std::string message;
  };
  const Case cases[] = {
      {"9464", "--metrics-listen \"9464\": no port (expected HOST:PORT, e.g. 127.0.0.1:9464)"},
      {":9464", "--metrics-listen \":9464\": no host (expected HOST:PORT, e.g. 127.0.0.1:9464)"},
      {"127.0.0.1:http",
       "--metrics-listen \"127.0.0.1:http\": port \"http\" is not a number from 0 to 65535 "
       "(expected HOST:PORT, e.g. 127.0.0.1:9464)"},
      {"127.0.0.1:65536",
       "--metrics-listen \"127.0.0.1:65536\": port \"65536\" is not a number from 0 to 65535 "
       "(expected HOST:PORT, e.g. 127.0.0.1:9464)"},
      {"example.com:9464",
       "--metrics-listen \"example.com:9464\": host \"example.com\" is not an IP address or "
       "localhost (expected HOST:PORT, e.g. 127.0.0.1:9464)"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::unique_ptr<LiveMetricsServer>> server =
        LiveMetricsServer::Start(c.listen, [] { return std::string(); });
    ASSERT_FALSE(server.ok()) << c.listen;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << c.listen;
    EXPECT_EQ(server.status().message(), c.message);
  }
}

TEST(LiveMetricsServerStartTest, LocalhostIsTheIpv4Loopback) {
  absl::StatusOr<std::unique_ptr<LiveMetricsServer>> server =
      LiveMetricsServer::Start("localhost:0", [] { return std::string(); });
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_THAT((*server)->url(), StartsWith("http://127.0.0.1:"));
}

}  // namespace
}  // namespace llmbench::coordinator
