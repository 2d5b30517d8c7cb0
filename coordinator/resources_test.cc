#include "coordinator/resources.h"

#include "coordinator/aggregate.h"
#include "coordinator/scenario_loader.h"
#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

v1::ResourceSample HostSample(double t_s, double host_cpu) {
  v1::ResourceSample s;
  s.set_t_s(t_s);
  s.set_host_cpu_percent(host_cpu);
  s.set_process_cpu_percent(12.5);
  s.set_host_mem_used_bytes(1000);
  s.set_host_mem_total_bytes(4000);
  s.set_process_rss_bytes(300);
  s.set_net_rx_bytes_per_s(10);
  return s;
}

TEST(AppendResourcesTest, ShiftsSamplesAndKeepsTheHeader) {
  v1::ResourceSeries first;
  first.set_hostname("h1");
  first.set_cores(4);
  first.set_interval_s(1);
  first.set_gpu_note("no GPU telemetry: not requested");
  *first.add_samples() = HostSample(0.75, 10);
  v1::ResourceSeries second;
  *second.add_samples() = HostSample(1.75, 20);
  v1::ResourceSeries series;
  AppendResources(first, 2.5, &series);
  AppendResources(second, 2.5, &series);
  EXPECT_EQ(series.hostname(), "h1");
  EXPECT_EQ(series.cores(), 4u);
  EXPECT_DOUBLE_EQ(series.interval_s(), 1.0);
  EXPECT_EQ(series.gpu_note(), "no GPU telemetry: not requested");
  ASSERT_EQ(series.samples_size(), 2);
  EXPECT_DOUBLE_EQ(series.samples(0).t_s(), 3.25);
  EXPECT_DOUBLE_EQ(series.samples(1).t_s(), 4.25);
  EXPECT_DOUBLE_EQ(series.samples(1).host_cpu_percent(), 20);
}

v1::WorkerResult Worker(const std::string& id, const std::string& host,
                        const std::vector<double>& cpu) {
  v1::WorkerResult w;
  w.set_worker_id(id);
  w.mutable_resources()->set_hostname(host);
  for (size_t i = 0; i < cpu.size(); ++i) {
    *w.mutable_resources()->add_samples() = HostSample(static_cast<double>(i + 1), cpu[i]);
  }
  return w;
}

TEST(SaturatedHostTest, ThreeConsecutiveSamplesAtOrAbove95PercentAreSaturation) {
  v1::RunResult result;
  *result.add_workers() = Worker("a", "h1", {50, 95, 99.5, 97, 40});
  EXPECT_EQ(SaturatedHostReasons(result),
            std::vector<std::string>{"load host h1 (worker a) was saturated: host CPU >= 95% for "
                                     "3 samples in a row (from 2.0 s, peak 99.5%)"});
  // A warning, not a change of state: the host's CPU may be the engine's own work.
  v1::Verdict verdict = ComputeVerdict(result, v1::Thresholds());
  EXPECT_EQ(verdict.state(), v1::Verdict::STATE_VALID);
  EXPECT_EQ(verdict.reasons_size(), 0);
  ASSERT_EQ(verdict.warnings_size(), 1);
  EXPECT_EQ(verdict.warnings(0), SaturatedHostReasons(result)[0]);
  result.mutable_workers(0)->set_records_dropped(1);
  verdict = ComputeVerdict(result, v1::Thresholds());
  EXPECT_EQ(verdict.state(), v1::Verdict::STATE_DEGRADED);
  EXPECT_EQ(verdict.reasons_size(), 1);
  EXPECT_EQ(verdict.warnings_size(), 1);
}

TEST(SaturatedHostTest, InterruptedOrShortRunsAreNot) {
  v1::RunResult result;
  *result.add_workers() = Worker("a", "h1", {96, 99, 94.9, 99, 99});
  *result.add_workers() = Worker("b", "h2", {100, 100});
  EXPECT_TRUE(SaturatedHostReasons(result).empty());
  EXPECT_EQ(ComputeVerdict(result, v1::Thresholds()).state(), v1::Verdict::STATE_VALID);
}

TEST(SaturatedHostTest, WorkersOnOneHostGiveOneReason) {
  v1::RunResult result;
  *result.add_workers() = Worker("a", "h1", {96, 97, 98});
  *result.add_workers() = Worker("b", "h1", {99, 99, 99, 99});
  v1::WorkerResult none;  // a worker that sent no samples
  none.set_worker_id("c");
  *result.add_workers() = none;
  EXPECT_EQ(SaturatedHostReasons(result),
            std::vector<std::string>{"load host h1 (workers a, b) was saturated: host CPU >= "
                                     "95% for 4 samples in a row (from 1.0 s, peak 99.0%)"});
}

TEST(ResourcesCsvTest, OneRowPerHostAndGpuSampleWithEmptyCellsForAbsentValues) {
  v1::RunResult result;
  v1::WorkerResult w = Worker("w,1", "h1", {50});
  w.mutable_resources()->mutable_samples(0)->clear_net_rx_bytes_per_s();
  *result.add_workers() = w;
  v1::HostMonitor* m = result.add_monitors();
  m->set_address("gpu-host:50061");
  m->mutable_resources()->set_hostname("gpu-host");
  v1::GpuDevice* device = m->mutable_resources()->add_gpus();
  device->set_index(0);
  device->set_name("H100");
  v1::ResourceSample* s = m->mutable_resources()->add_samples();
  *s = HostSample(2.5, 7.25);
  v1::GpuSample* g = s->add_gpus();
  g->set_index(0);
  g->set_util_percent(87);
  g->set_mem_used_bytes(64);
  g->set_mem_total_bytes(80);
  g->set_sm_clock_mhz(1980);
  EXPECT_EQ(ResourcesCsv(result),
            "source,name,hostname,kind,t_s,host_cpu_percent,process_cpu_percent,"
            "host_mem_used_bytes,host_mem_total_bytes,process_rss_bytes,net_rx_bytes_per_s,"
            "net_tx_bytes_per_s,gpu_index,gpu_name,gpu_util_percent,gpu_mem_util_percent,"
            "gpu_mem_used_bytes,gpu_mem_total_bytes,gpu_power_w,gpu_sm_clock_mhz,"
            "gpu_mem_clock_mhz\n"
            "worker,\"w,1\",h1,host,1,50,12.5,1000,4000,300,,,,,,,,,,,\n"
            "monitor,gpu-host:50061,gpu-host,host,2.5,7.25,12.5,1000,4000,300,10,,,,,,,,,,\n"
            "monitor,gpu-host:50061,gpu-host,gpu,2.5,,,,,,,,0,H100,87,,64,80,,1980,\n");
}

TEST(ScenarioMonitorsTest, ScenarioListsMonitorsAndRoundTripsThroughYaml) {
  absl::StatusOr<v1::Scenario> scenario = ParseScenarioYaml(
      "engines:\n  - kind: vllm\n    base_url: http://127.0.0.1:8000\n    model: m\n"
      "monitors: [gpu-host-1:50061, \"gpu-host-2:50061\"]\n",
      "monitors.yaml", "");
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  ASSERT_EQ(scenario->monitors_size(), 2);
  EXPECT_EQ(scenario->monitors(0), "gpu-host-1:50061");
  EXPECT_EQ(scenario->monitors(1), "gpu-host-2:50061");
  absl::StatusOr<v1::Scenario> again = ParseScenarioYaml(ScenarioToYaml(*scenario), "e.yaml", "");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->monitors_size(), 2);
  EXPECT_EQ(ParseScenarioYaml("engines:\n  - kind: vllm\n    base_url: http://127.0.0.1:8000\n"
                              "    model: m\nmonitors: gpu-host:1\n",
                              "bad.yaml", "")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmbench::coordinator
