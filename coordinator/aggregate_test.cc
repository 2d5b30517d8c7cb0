#include "coordinator/aggregate.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "common/stats.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

constexpr int64_t kMs = 1'000'000;  // ns

// A successful streamed record: TTFT = offsets[0], chunk offsets relative to sent.
v1::RequestRecord Success(uint64_t id, int64_t sent, int64_t end, std::vector<int64_t> offsets,
                          uint32_t output_tokens, const std::string& worker = "w1",
                          const std::string& engine = "vllm") {
  v1::RequestRecord r;
  r.set_request_id(id);
  r.set_worker_id(worker);
  r.set_engine(engine);
  r.set_sent_ns(sent);
  if (!offsets.empty()) r.set_first_token_ns(sent + offsets[0]);
  r.set_end_ns(end);
  for (int64_t o : offsets) r.add_chunk_offsets_ns(o);
  r.set_content_chunks(static_cast<uint32_t>(offsets.size()));
  r.set_output_tokens(output_tokens);
  r.set_output_token_source(v1::TOKEN_SOURCE_ENGINE);
  r.set_http_status(200);
  return r;
}

v1::RequestRecord Failure(uint64_t id, int64_t sent, int64_t end, v1::ErrorClass error_class,
                          const std::string& message, const std::string& worker = "w1",
                          const std::string& engine = "vllm") {
  v1::RequestRecord r;
  r.set_request_id(id);
  r.set_worker_id(worker);
  r.set_engine(engine);
  r.set_sent_ns(sent);
  r.set_end_ns(end);
  r.set_error_class(error_class);
  r.set_error_message(message);
  return r;
}

TEST(AggregatorTest, ExactLatenciesWarmupAndFailures) {
  Aggregator agg;
  // Warm-up: huge values that must not show anywhere but the live "completed" count.
  v1::RequestRecord warm = Success(0, 0, 5000 * kMs, {1000 * kMs, 5000 * kMs}, 2);
  warm.set_warmup(true);
  agg.Add(warm);
  // TTFT 10, gaps 10/5/15, E2E 40, TPOT (40-10)/3 = 10.
  v1::RequestRecord a = Success(1, 1 * kMs, 41 * kMs, {10 * kMs, 20 * kMs, 25 * kMs, 40 * kMs}, 4);
  a.set_input_tokens(100);
  agg.Add(a);
  // TTFT 20, gap 40, E2E 60, TPOT (60-20)/1 = 40.
  v1::RequestRecord b = Success(2, 2 * kMs, 62 * kMs, {20 * kMs, 60 * kMs}, 2);
  b.set_prompt_tokens_sent(200);  // no engine count: the intended count stands in
  agg.Add(b);
  agg.Add(Failure(3, 3 * kMs, 100 * kMs, v1::ERROR_CLASS_TIMEOUT, "total timeout, 97 ms"));

  const v1::RunResult result = agg.Finish({});
  const v1::Aggregates& o = result.overall();
  EXPECT_EQ(o.requests(), 3u);
  EXPECT_EQ(o.successes(), 2u);
  EXPECT_EQ(o.failures(), 1u);
  EXPECT_DOUBLE_EQ(o.success_rate(), 2.0 / 3.0);
  ASSERT_EQ(o.errors_size(), 1);
  EXPECT_EQ(o.errors(0).error_class(), "timeout");
  EXPECT_EQ(o.errors(0).count(), 1u);
  EXPECT_EQ(o.errors(0).example_message(), "total timeout, 97 ms");

  ASSERT_TRUE(o.has_ttft_ms());
  EXPECT_EQ(o.ttft_ms().count(), 2u);
  EXPECT_DOUBLE_EQ(o.ttft_ms().mean(), 15);
  EXPECT_DOUBLE_EQ(o.ttft_ms().stdev(), std::sqrt(50.0));
  EXPECT_DOUBLE_EQ(o.ttft_ms().min(), 10);
  EXPECT_DOUBLE_EQ(o.ttft_ms().p50(), 15);
  EXPECT_DOUBLE_EQ(o.ttft_ms().p90(), 19);
  EXPECT_DOUBLE_EQ(o.ttft_ms().p99(), 19.9);
  EXPECT_DOUBLE_EQ(o.ttft_ms().max(), 20);

  // ITL pooled: {5, 10, 15, 40}.
  ASSERT_TRUE(o.has_itl_ms());
  EXPECT_EQ(o.itl_ms().count(), 4u);
  EXPECT_DOUBLE_EQ(o.itl_ms().mean(), 17.5);
  EXPECT_DOUBLE_EQ(o.itl_ms().min(), 5);
  EXPECT_DOUBLE_EQ(o.itl_ms().p50(), 12.5);        // h = 1.5
  EXPECT_DOUBLE_EQ(o.itl_ms().p90(), 15 + 0.7 * 25);  // h = 2.7
  EXPECT_DOUBLE_EQ(o.itl_ms().max(), 40);

  ASSERT_TRUE(o.has_tpot_ms());
  EXPECT_EQ(o.tpot_ms().count(), 2u);
  EXPECT_DOUBLE_EQ(o.tpot_ms().min(), 10);
  EXPECT_DOUBLE_EQ(o.tpot_ms().p50(), 25);
  EXPECT_DOUBLE_EQ(o.tpot_ms().max(), 40);

  ASSERT_TRUE(o.has_e2e_ms());
  EXPECT_DOUBLE_EQ(o.e2e_ms().min(), 40);
  EXPECT_DOUBLE_EQ(o.e2e_ms().p50(), 50);
  EXPECT_DOUBLE_EQ(o.e2e_ms().max(), 60);

  ASSERT_TRUE(o.has_output_tokens());
  EXPECT_DOUBLE_EQ(o.output_tokens().p50(), 3);
  ASSERT_TRUE(o.has_input_tokens());
  EXPECT_DOUBLE_EQ(o.input_tokens().min(), 100);
  EXPECT_DOUBLE_EQ(o.input_tokens().max(), 200);
  EXPECT_EQ(o.output_tokens_total(), 6u);
  EXPECT_EQ(o.input_tokens_total(), 300u);

  // Window: earliest measured sent (1 ms) to latest measured end (100 ms, the failure).
  EXPECT_DOUBLE_EQ(o.measured_window_s(), 0.099);
  EXPECT_DOUBLE_EQ(o.request_throughput(), 2 / 0.099);
  EXPECT_DOUBLE_EQ(o.output_token_throughput(), 6 / 0.099);
  EXPECT_DOUBLE_EQ(o.input_token_throughput(), 300 / 0.099);
  EXPECT_DOUBLE_EQ(o.total_token_throughput(), 306 / 0.099);
  // Sum of E2E of every measured request (40 + 60 + 97 ms) over the window.
  EXPECT_DOUBLE_EQ(o.mean_concurrency(), 0.197 / 0.099);

  // No SLOs, no schedule: absent, not zero.
  EXPECT_FALSE(o.has_goodput());
  EXPECT_FALSE(o.has_slo_attainment());
  EXPECT_FALSE(o.has_ttft_from_schedule_ms());
  EXPECT_FALSE(o.has_e2e_from_schedule_ms());
  EXPECT_FALSE(o.has_schedule_lateness_ms());

  EXPECT_EQ(result.verdict().state(), v1::Verdict::STATE_VALID);
  EXPECT_EQ(result.verdict().reasons_size(), 0);
  EXPECT_FALSE(result.definitions().empty());

  const LiveSnapshot live = agg.Snapshot();
  EXPECT_EQ(live.completed, 4u);
  EXPECT_EQ(live.warmup, 1u);
  EXPECT_EQ(live.measured, 3u);
  EXPECT_EQ(live.successes, 2u);
  EXPECT_EQ(live.errors, 1u);
  EXPECT_DOUBLE_EQ(live.elapsed_s, 0.099);
  EXPECT_DOUBLE_EQ(live.requests_per_s, 2 / 0.099);
  EXPECT_DOUBLE_EQ(live.output_tokens_per_s, 6 / 0.099);
  ASSERT_TRUE(live.ttft_p50_ms.has_value());
  // The histogram reports one of the two ranks round(0.5) lies between, within 1%.
  EXPECT_TRUE(std::abs(*live.ttft_p50_ms - 10) <= 0.1 || std::abs(*live.ttft_p50_ms - 20) <= 0.2)
      << *live.ttft_p50_ms;
}

TEST(AggregatorTest, NoDataMeansAbsent) {
  Aggregator agg;
  EXPECT_FALSE(agg.Snapshot().ttft_p50_ms.has_value());
  v1::RequestRecord warm = Success(1, 0, 10 * kMs, {5 * kMs}, 1);
  warm.set_warmup(true);
  agg.Add(warm);
  const v1::RunResult result = agg.Finish({});
  EXPECT_EQ(result.overall().requests(), 0u);
  EXPECT_FALSE(result.overall().has_ttft_ms());
  EXPECT_FALSE(result.overall().has_e2e_ms());
  EXPECT_FALSE(result.overall().has_itl_ms());
  EXPECT_EQ(result.overall().measured_window_s(), 0);
  EXPECT_EQ(result.overall().success_rate(), 0);
  // The warm-up-only worker and engine are still listed.
  ASSERT_EQ(result.engines_size(), 1);
  EXPECT_EQ(result.engines(0).engine(), "vllm");
  ASSERT_EQ(result.workers_size(), 1);
  EXPECT_EQ(result.workers(0).worker_id(), "w1");
  EXPECT_EQ(result.verdict().state(), v1::Verdict::STATE_VALID);
}

TEST(AggregatorTest, NonStreamedAndSingleTokenRequestsHaveNoTtftTpotOrItl) {
  Aggregator agg;
  agg.Add(Success(1, 0, 30 * kMs, {}, 7));              // non-streamed: no first token
  agg.Add(Success(2, 0, 20 * kMs, {15 * kMs}, 1));      // one token: TTFT but no TPOT/ITL
  const v1::Aggregates o = agg.Finish({}).overall();
  ASSERT_TRUE(o.has_ttft_ms());
  EXPECT_EQ(o.ttft_ms().count(), 1u);
  EXPECT_DOUBLE_EQ(o.ttft_ms().p50(), 15);
  EXPECT_FALSE(o.has_tpot_ms());
  EXPECT_FALSE(o.has_itl_ms());
  ASSERT_TRUE(o.has_e2e_ms());
  EXPECT_EQ(o.e2e_ms().count(), 2u);
  EXPECT_FALSE(o.has_input_tokens());
}

TEST(AggregatorTest, WideAndNegativeGapsAreKeptExactly) {
  Aggregator agg;
  // Gaps: 5 s (beyond the compact uint32 range), -1 ms (bad data, still data), 2 ms.
  agg.Add(Success(1, 0, 10'000 * kMs, {10 * kMs, 5010 * kMs, 5009 * kMs, 5011 * kMs}, 4));
  const v1::Aggregates o = agg.Finish({}).overall();
  ASSERT_TRUE(o.has_itl_ms());
  EXPECT_EQ(o.itl_ms().count(), 3u);
  EXPECT_DOUBLE_EQ(o.itl_ms().min(), -1);
  EXPECT_DOUBLE_EQ(o.itl_ms().p50(), 2);
  EXPECT_DOUBLE_EQ(o.itl_ms().max(), 5000);
}

TEST(AggregatorTest, OpenLoopFromScheduleAndLateness) {
  Aggregator agg;
  v1::RequestRecord a = Success(1, 2 * kMs, 22 * kMs, {10 * kMs, 20 * kMs}, 2);
  a.set_scheduled_ns(0);  // 2 ms late
  v1::RequestRecord b = Success(2, 10'500'000, 30'500'000, {5 * kMs, 20 * kMs}, 2);
  b.set_scheduled_ns(10 * kMs);  // 0.5 ms late
  v1::RequestRecord c = Failure(3, 21 * kMs, 25 * kMs, v1::ERROR_CLASS_HTTP_5XX, "500");
  c.set_scheduled_ns(20 * kMs);  // 1 ms late; a failure still measures the generator
  agg.Add(a);
  agg.Add(b);
  agg.Add(c);

  FinishOptions options;
  const v1::RunResult valid = agg.Finish(options);
  const v1::Aggregates& o = valid.overall();
  ASSERT_TRUE(o.has_ttft_ms());
  EXPECT_DOUBLE_EQ(o.ttft_ms().min(), 5);
  EXPECT_DOUBLE_EQ(o.ttft_ms().max(), 10);
  ASSERT_TRUE(o.has_ttft_from_schedule_ms());
  EXPECT_EQ(o.ttft_from_schedule_ms().count(), 2u);
  EXPECT_DOUBLE_EQ(o.ttft_from_schedule_ms().min(), 5.5);
  EXPECT_DOUBLE_EQ(o.ttft_from_schedule_ms().max(), 12);
  ASSERT_TRUE(o.has_e2e_from_schedule_ms());
  EXPECT_DOUBLE_EQ(o.e2e_from_schedule_ms().min(), 20.5);
  EXPECT_DOUBLE_EQ(o.e2e_from_schedule_ms().max(), 22);
  ASSERT_TRUE(o.has_schedule_lateness_ms());
  EXPECT_EQ(o.schedule_lateness_ms().count(), 3u);
  EXPECT_DOUBLE_EQ(o.schedule_lateness_ms().p50(), 1);
  EXPECT_DOUBLE_EQ(o.schedule_lateness_ms().p99(), 1.98);  // {0.5, 1, 2}: h = 1.98
  EXPECT_EQ(valid.verdict().state(), v1::Verdict::STATE_VALID);  // default 10 ms

  options.thresholds.set_max_lateness_p99_ms(1.5);
  const v1::RunResult invalid = agg.Finish(options);
  EXPECT_EQ(invalid.verdict().state(), v1::Verdict::STATE_INVALID);
  ASSERT_EQ(invalid.verdict().reasons_size(), 1);
  EXPECT_EQ(invalid.verdict().reasons(0),
            "generator fell behind its schedule: schedule lateness p99 1.980 ms > 1.500 ms");
}

TEST(AggregatorTest, GoodputAgainstTtftAndE2eSlos) {
  v1::Slo slo;
  slo.set_ttft_ms(15);
  slo.set_e2e_ms(50);
  Aggregator agg(slo);
  agg.Add(Success(1, 0, 40 * kMs, {10 * kMs, 40 * kMs}, 2));   // good
  agg.Add(Success(2, 0, 40 * kMs, {20 * kMs, 40 * kMs}, 2));   // TTFT 20 > 15
  agg.Add(Success(3, 0, 60 * kMs, {10 * kMs, 60 * kMs}, 2));   // E2E 60 > 50
  agg.Add(Success(4, 0, 50 * kMs, {15 * kMs, 50 * kMs}, 2));   // at both limits: good
  agg.Add(Failure(5, 0, 100 * kMs, v1::ERROR_CLASS_CONNECT, "refused"));  // never good
  const v1::Aggregates o = agg.Finish({}).overall();
  ASSERT_TRUE(o.has_goodput());
  EXPECT_DOUBLE_EQ(o.measured_window_s(), 0.1);
  EXPECT_DOUBLE_EQ(o.goodput(), 2 / 0.1);
  ASSERT_TRUE(o.has_slo_attainment());
  EXPECT_DOUBLE_EQ(o.slo_attainment(), 2.0 / 5.0);
}

TEST(AggregatorTest, GoodputAgainstTpotAndMeanItlSlos) {
  v1::Slo slo;
  slo.set_tpot_ms(10);
  slo.set_itl_ms(8);
  Aggregator agg(slo);
  // Mean ITL (30-10)/2 = 10 > 8 although TPOT (30-10)/2 = 10 meets its SLO.
  agg.Add(Success(1, 0, 30 * kMs, {10 * kMs, 20 * kMs, 30 * kMs}, 3));
  // Mean ITL (20-10)/2 = 5, TPOT (30-10)/2 = 10: good.
  agg.Add(Success(2, 0, 30 * kMs, {10 * kMs, 15 * kMs, 20 * kMs}, 3));
  // TPOT (50-10)/2 = 20 > 10.
  agg.Add(Success(3, 0, 50 * kMs, {10 * kMs, 12 * kMs, 14 * kMs}, 3));
  // One token: neither TPOT nor ITL applies, so it meets both.
  agg.Add(Success(4, 0, 50 * kMs, {40 * kMs}, 1));
  const v1::Aggregates o = agg.Finish({}).overall();
  ASSERT_TRUE(o.has_slo_attainment());
  EXPECT_DOUBLE_EQ(o.slo_attainment(), 2.0 / 4.0);
  EXPECT_DOUBLE_EQ(o.goodput(), 2 / 0.05);
}

TEST(AggregatorTest, GroupsPerEngineAndPerWorker) {
  Aggregator agg;
  agg.Add(Success(1, 0, 10 * kMs, {1 * kMs}, 1, "w1", "vllm"));
  agg.Add(Success(2, 0, 10 * kMs, {3 * kMs}, 1, "w2", "vllm"));
  agg.Add(Success(3, 0, 10 * kMs, {5 * kMs}, 1, "w1", "ollama"));
  agg.Add(Success(4, 0, 20 * kMs, {7 * kMs}, 1, "w2", "ollama"));
  agg.Add(Failure(5, 0, 10 * kMs, v1::ERROR_CLASS_OVERLOADED, "429", "w2", "ollama"));
  agg.Add(Success(6, 0, 10 * kMs, {9 * kMs}, 1, "w1", "vllm"));

  FinishOptions options;
  options.engine_names = {"vllm", "ollama", "tgi"};
  WorkerReport w2;
  w2.worker_id = "w2";
  w2.address = "127.0.0.1:7000";
  w2.cpu_utilization = 0.25;
  options.workers = {w2};
  const v1::RunResult result = agg.Finish(options);

  ASSERT_EQ(result.engines_size(), 3);
  EXPECT_EQ(result.engines(0).engine(), "vllm");
  EXPECT_EQ(result.engines(0).aggregates().requests(), 3u);
  EXPECT_DOUBLE_EQ(result.engines(0).aggregates().ttft_ms().p50(), 3);  // {1, 3, 9}
  EXPECT_EQ(result.engines(1).engine(), "ollama");
  EXPECT_EQ(result.engines(1).aggregates().requests(), 3u);
  EXPECT_EQ(result.engines(1).aggregates().successes(), 2u);
  EXPECT_DOUBLE_EQ(result.engines(1).aggregates().ttft_ms().p50(), 6);  // {5, 7}
  EXPECT_DOUBLE_EQ(result.engines(1).aggregates().measured_window_s(), 0.02);
  EXPECT_EQ(result.engines(2).engine(), "tgi");
  EXPECT_EQ(result.engines(2).aggregates().requests(), 0u);
  EXPECT_FALSE(result.engines(2).aggregates().has_ttft_ms());

  ASSERT_EQ(result.workers_size(), 2);
  EXPECT_EQ(result.workers(0).worker_id(), "w2");  // reported first, then seen-only
  EXPECT_EQ(result.workers(0).address(), "127.0.0.1:7000");
  EXPECT_DOUBLE_EQ(result.workers(0).cpu_utilization(), 0.25);
  EXPECT_EQ(result.workers(0).aggregates().requests(), 3u);
  EXPECT_DOUBLE_EQ(result.workers(0).aggregates().ttft_ms().p50(), 5);  // {3, 7}
  ASSERT_EQ(result.workers(0).aggregates().errors_size(), 1);
  EXPECT_EQ(result.workers(0).aggregates().errors(0).error_class(), "overloaded");
  EXPECT_EQ(result.workers(1).worker_id(), "w1");
  EXPECT_FALSE(result.workers(1).has_cpu_utilization());
  EXPECT_EQ(result.workers(1).aggregates().requests(), 3u);
  EXPECT_DOUBLE_EQ(result.workers(1).aggregates().ttft_ms().p50(), 5);  // {1, 5, 9}

  EXPECT_EQ(result.overall().requests(), 6u);
  EXPECT_DOUBLE_EQ(result.overall().ttft_ms().p50(), 5);  // {1, 3, 5, 7, 9}
}

TEST(AggregatorTest, ErrorsByClassKeepTheLowestRequestIdsMessage) {
  Aggregator agg;
  agg.Add(Failure(9, 0, 1, v1::ERROR_CLASS_PARSE, "bad json at 9"));
  agg.Add(Failure(4, 0, 1, v1::ERROR_CLASS_PARSE, "bad json at 4", "w2"));
  agg.Add(Failure(5, 0, 1, v1::ERROR_CLASS_CONNECT, "refused"));
  agg.Add(Failure(6, 0, 1, static_cast<v1::ErrorClass>(42), "from the future"));
  const v1::Aggregates o = agg.Finish({}).overall();
  ASSERT_EQ(o.errors_size(), 3);  // enum order, unknown last
  EXPECT_EQ(o.errors(0).error_class(), "connect");
  EXPECT_EQ(o.errors(1).error_class(), "parse");
  EXPECT_EQ(o.errors(1).count(), 2u);
  EXPECT_EQ(o.errors(1).example_message(), "bad json at 4");
  EXPECT_EQ(o.errors(2).error_class(), "unknown");
  EXPECT_EQ(o.errors(2).example_message(), "from the future");
  EXPECT_EQ(o.success_rate(), 0);
}

TEST(AggregatorTest, VerdictDegradedOnWorkerFailureAndInvalidOnSaturation) {
  Aggregator agg;
  agg.Add(Success(1, 0, 10 * kMs, {1 * kMs}, 1, "w1"));
  agg.Add(Success(2, 0, 10 * kMs, {1 * kMs}, 1, "w2"));

  FinishOptions options;
  WorkerReport w1;
  w1.worker_id = "w1";
  w1.failed = true;
  w1.failure = "stream cut off after 12 s";
  WorkerReport w2;
  w2.worker_id = "w2";
  w2.cpu_utilization = 0.5;
  w2.records_dropped = 3;
  options.workers = {w1, w2};
  v1::RunResult result = agg.Finish(options);
  EXPECT_EQ(result.verdict().state(), v1::Verdict::STATE_DEGRADED);
  ASSERT_EQ(result.verdict().reasons_size(), 2);
  EXPECT_EQ(result.verdict().reasons(0), "worker w1 failed: stream cut off after 12 s");
  EXPECT_EQ(result.verdict().reasons(1), "worker w2 dropped 3 records");
  EXPECT_TRUE(result.workers(0).failed());

  options.workers[1].cpu_utilization = 0.9;
  result = agg.Finish(options);
  EXPECT_EQ(result.verdict().state(), v1::Verdict::STATE_INVALID);
  ASSERT_EQ(result.verdict().reasons_size(), 3);
  EXPECT_EQ(result.verdict().reasons(0),
            "worker w2 is saturated: CPU utilization 0.90 per core >= 0.90");
  EXPECT_EQ(result.verdict().reasons(1), "worker w1 failed: stream cut off after 12 s");
}

// Issue 13: dispatch delay p99 over thresholds.max_dispatch_delay_p99_ms (default 5 ms), and a
// loop window that was saturated (CPU + run-queue wait >= 0.95, or its timer >= 250 ms late),
// each make the run INVALID and name the worker and the window.
TEST(AggregatorTest, VerdictInvalidOnDispatchDelayAndSaturatedLoopWindows) {
  Aggregator agg;
  for (uint64_t i = 0; i < 100; ++i) {
    v1::RequestRecord r = Success(i, 0, 10 * kMs, {1 * kMs}, 1, "w1");
    r.set_handed_ns(0);
    r.set_dispatch_delay_ns(i < 98 ? 100'000 : 20 * kMs);  // 0.1 ms, two at 20 ms
    if (i < 4) r.set_connect_ns(50'000);
    agg.Add(r);
  }
  FinishOptions options;
  WorkerReport w1;
  w1.worker_id = "w1";
  v1::LoopWindow quiet;
  quiet.set_t_s(1);
  quiet.set_length_s(1.0);
  quiet.set_busy(0.2);
  quiet.set_cpu(0.1);
  quiet.set_runq_wait(0.05);
  w1.loop_windows = {quiet};
  options.workers = {w1};
  v1::RunResult result = agg.Finish(options);
  ASSERT_TRUE(result.overall().has_dispatch_delay_ms());
  EXPECT_EQ(result.overall().dispatch_delay_ms().count(), 100u);
  EXPECT_NEAR(result.overall().dispatch_delay_ms().p50(), 0.1, 1e-9);
  EXPECT_EQ(result.overall().connect_ms().count(), 4u);
  EXPECT_EQ(result.workers(0).aggregates().loop_windows_size(), 1);
  EXPECT_EQ(result.overall().loop_windows_size(), 0) << "per worker only";
  EXPECT_EQ(result.overall().busiest_loop_window().worker_id(), "w1");
  EXPECT_EQ(result.overall().saturated_loop_windows(), 0u);
  EXPECT_EQ(result.verdict().state(), v1::Verdict::STATE_INVALID);  // p99 is 20 ms
  ASSERT_EQ(result.verdict().reasons_size(), 1);
  EXPECT_EQ(result.verdict().reasons(0),
            "the client was late sending requests: dispatch delay p99 20.000 ms > 5.000 ms");
  v1::Thresholds lenient;
  lenient.set_max_dispatch_delay_p99_ms(25);
  EXPECT_EQ(ComputeVerdict(result, lenient).state(), v1::Verdict::STATE_VALID);

  // A starved loop: little CPU, but waiting for one nearly all the second.
  v1::LoopWindow starved = quiet;
  starved.set_t_s(2);
  starved.set_cpu(0.05);
  starved.set_runq_wait(0.93);
  starved.set_loop(1);
  // A frozen loop: its 1 s timer ran 1.5 s late, nothing else to see.
  v1::LoopWindow frozen = quiet;
  frozen.set_t_s(3);
  frozen.set_length_s(2.5);
  options.workers[0].loop_windows = {quiet, frozen, starved};
  options.thresholds = lenient;
  result = agg.Finish(options);
  EXPECT_EQ(result.workers(0).aggregates().saturated_loop_windows(), 2u);
  EXPECT_EQ(result.overall().saturated_loop_windows(), 2u);
  EXPECT_EQ(result.verdict().state(), v1::Verdict::STATE_INVALID);
  ASSERT_EQ(result.verdict().reasons_size(), 1);
  EXPECT_EQ(result.verdict().reasons(0),
            "worker w1's event loop was saturated in 2 1 s window(s) (CPU + waiting for a CPU >= "
            "95%, or its 1 s timer 250 ms late); first: loop 1, 2.0-3.0 s into the run: busy "
            "20%, CPU 5%, waiting for a CPU 93%; worst: loop 1, 2.0-3.0 s into the run: busy 20%, "
            "CPU 5%, waiting for a CPU 93%");
}

TEST(AggregatorTest, VerdictInvalidWhenOneWorkerFallsBehind) {
  Aggregator agg;
  for (uint64_t i = 0; i < 10; ++i) {
    v1::RequestRecord fast = Success(i, static_cast<int64_t>(i) * kMs, 100 * kMs, {5 * kMs}, 1,
                                     "fast");
    fast.set_scheduled_ns(static_cast<int64_t>(i) * kMs);  // on time
    agg.Add(fast);
  }
  v1::RequestRecord slow = Success(99, 50 * kMs, 100 * kMs, {5 * kMs}, 1, "slow");
  slow.set_scheduled_ns(0);  // 50 ms late
  agg.Add(slow);
  const v1::RunResult result = agg.Finish({});
  EXPECT_EQ(result.verdict().state(), v1::Verdict::STATE_INVALID);
  // The overall p99 over 11 values: h = 9.9 between 0 and 50 -> 45 ms.
  ASSERT_EQ(result.verdict().reasons_size(), 2);
  EXPECT_EQ(result.verdict().reasons(0),
            "generator fell behind its schedule: schedule lateness p99 45.000 ms > 10.000 ms");
  EXPECT_EQ(result.verdict().reasons(1),
            "worker slow fell behind its schedule: schedule lateness p99 50.000 ms > 10.000 ms");
}

// Random records for the merge test: three shards (workers), two engines, a mix of
// successes, failures, warm-ups, open-loop schedules and odd gaps.
std::vector<std::vector<v1::RequestRecord>> RandomShards(uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<v1::RequestRecord>> shards(3);
  uint64_t id = 0;
  const char* engines[] = {"vllm", "tgi"};
  for (size_t s = 0; s < shards.size(); ++s) {
    for (int i = 0; i < 400; ++i) {
      const std::string worker = "w" + std::to_string(s);
      const std::string engine = engines[rng() % 2];
      const int64_t sent = static_cast<int64_t>(rng() % (10'000 * kMs));
      v1::RequestRecord r;
      if (rng() % 10 == 0) {
        r = Failure(id, sent, sent + static_cast<int64_t>(rng() % (100 * kMs)),
                    static_cast<v1::ErrorClass>(1 + rng() % 8),
                    "failure " + std::to_string(rng() % 1000), worker, engine);
      } else {
        std::vector<int64_t> offsets;
        int64_t t = static_cast<int64_t>(rng() % (500 * kMs));
        const int chunks = static_cast<int>(rng() % 20);
        for (int c = 0; c < chunks; ++c) {
          offsets.push_back(t);
          const uint64_t kind = rng() % 100;
          if (kind == 0) {
            t += 6'000 * kMs;  // wide gap
          } else if (kind == 1) {
            t -= 1 * kMs;  // negative gap
          } else {
            t += static_cast<int64_t>(rng() % (50 * kMs));
          }
        }
        r = Success(id, sent, sent + t + static_cast<int64_t>(rng() % kMs), offsets,
                    static_cast<uint32_t>(chunks + rng() % 3), worker, engine);
        if (rng() % 2) r.set_input_tokens(static_cast<uint32_t>(rng() % 4000));
      }
      if (rng() % 3 == 0) r.set_scheduled_ns(sent - static_cast<int64_t>(rng() % (3 * kMs)));
      r.set_warmup(rng() % 20 == 0);
      shards[s].push_back(r);
      ++id;
    }
  }
  return shards;
}

TEST(AggregatorTest, MergeIsIndependentOfArrivalOrder) {
  v1::Slo slo;
  slo.set_ttft_ms(300);
  slo.set_itl_ms(25);
  const auto shards = RandomShards(7);
  FinishOptions options;
  options.engine_names = {"vllm", "tgi"};

  // Shard after shard.
  Aggregator sequential(slo);
  std::vector<v1::RequestRecord> all;
  for (const auto& shard : shards) {
    for (const auto& r : shard) {
      sequential.Add(r);
      all.push_back(r);
    }
  }
  const v1::RunResult expected = sequential.Finish(options);

  // Interleaved in several random orders.
  std::mt19937 rng(11);
  for (int round = 0; round < 3; ++round) {
    std::shuffle(all.begin(), all.end(), rng);
    Aggregator shuffled(slo);
    for (const auto& r : all) shuffled.Add(r);
    const v1::RunResult got = shuffled.Finish(options);
    std::string diff;
    google::protobuf::util::MessageDifferencer differencer;
    differencer.ReportDifferencesToString(&diff);
    EXPECT_TRUE(differencer.Compare(expected, got)) << "round " << round << ":\n" << diff;
  }

  // And the percentiles are those of the union, computed directly.
  std::vector<double> gaps;
  for (const auto& r : all) {
    if (r.warmup() || r.error_class() != v1::ERROR_CLASS_NONE) continue;
    for (int i = 1; i < r.chunk_offsets_ns_size(); ++i) {
      gaps.push_back(static_cast<double>(r.chunk_offsets_ns(i) - r.chunk_offsets_ns(i - 1)) / 1e6);
    }
  }
  const std::optional<SummaryStats> direct = Summarize(gaps);
  ASSERT_TRUE(direct.has_value());
  ASSERT_TRUE(expected.overall().has_itl_ms());
  EXPECT_EQ(expected.overall().itl_ms().count(), direct->count);
  // Percentiles are bit-identical; mean and stdev come from exact integer moments rather than
  // running double sums, so they agree to rounding (1e-9 relative is ample).
  EXPECT_NEAR(expected.overall().itl_ms().mean(), direct->mean, 1e-9 * std::abs(direct->mean));
  EXPECT_NEAR(expected.overall().itl_ms().stdev(), direct->stdev, 1e-9 * direct->stdev);
  EXPECT_EQ(expected.overall().itl_ms().p50(), direct->p50);
  EXPECT_EQ(expected.overall().itl_ms().p90(), direct->p90);
  EXPECT_EQ(expected.overall().itl_ms().p95(), direct->p95);
  EXPECT_EQ(expected.overall().itl_ms().p99(), direct->p99);
  EXPECT_EQ(expected.overall().itl_ms().p999(), direct->p999);
  EXPECT_EQ(expected.overall().itl_ms().min(), direct->min);
  EXPECT_EQ(expected.overall().itl_ms().max(), direct->max);
  EXPECT_LT(direct->min, 0);      // the negative gaps made it through
  EXPECT_GT(direct->max, 5'000);  // and the wide ones
}

}  // namespace
}  // namespace llmbench::coordinator
