// Resources and monitors (docs/metrics.md, "Resources and monitors"), with real processes:
//   - worker/nvml.h against the fake libnvidia-ml.so.1 of this folder (fixed values, the seam
//     at the dlopen boundary) and against an absent library;
//   - `llmbench-worker --monitor` over gRPC: with the fake its samples carry exactly the fake's
//     values; without a library it says "no GPU telemetry: ..." and sends no GPU sample;
//   - the real `llmbench` with two real workers (one with --gpu-telemetry and the fake) and a
//     monitor against the real simulator: every worker in summary.json has resource samples,
//     RunResult.monitors has the monitor's host samples and its no-GPU note, resources.csv has
//     a row per sample.
// This machine has no GPU: real NVML is not exercised here (docs/metrics.md says so).
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "coordinator/dispatch_monitors.h"
#include "coordinator/exporters.h"
#include "coordinator/resources.h"
#include "coordinator/worker_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"
#include "tests/resources/fake_nvml_values.h"
#include "worker/nvml.h"

namespace llmbench {
namespace {

namespace v1 = ::llmbench::v1;
namespace fake = ::llmbench::fake_nvml;
using llmbench::testing::SimProcess;
using llmbench::testing::Subprocess;
using ::testing::HasSubstr;

constexpr char kAbsentLibrary[] = "/nonexistent/libnvidia-ml.so.1";
constexpr char kAbsentNote[] =
    "no GPU telemetry: /nonexistent/libnvidia-ml.so.1 not found (/nonexistent/"
    "libnvidia-ml.so.1: cannot open shared object file: No such file or directory)";

// Checks one GpuSample against the fake's values for device `i`.
void ExpectFakeValues(const v1::GpuSample& g, int i) {
  EXPECT_EQ(g.index(), static_cast<uint32_t>(i));
  ASSERT_TRUE(g.has_util_percent());
  EXPECT_EQ(g.util_percent(), fake::kUtilPercent[i]);
  EXPECT_EQ(g.mem_util_percent(), fake::kMemUtilPercent[i]);
  EXPECT_EQ(g.mem_used_bytes(), fake::kMemUsedBytes[i]);
  EXPECT_EQ(g.mem_total_bytes(), fake::kMemTotalBytes[i]);
  if (fake::kPowerMilliwatts[i] == 0) {
    EXPECT_FALSE(g.has_power_w()) << "NOT_SUPPORTED must be absent, never zero";
  } else {
    ASSERT_TRUE(g.has_power_w());
    EXPECT_DOUBLE_EQ(g.power_w(), fake::kPowerMilliwatts[i] / 1000.0);
  }
  EXPECT_EQ(g.sm_clock_mhz(), fake::kSmClockMhz[i]);
  EXPECT_EQ(g.mem_clock_mhz(), fake::kMemClockMhz[i]);
}

// ---------------------------------------------------------------------------------------------
// Nvml against the fake library, in this process.

TEST(FakeNvmlTest, ReportsExactlyTheFakesValues) {
  absl::StatusOr<std::unique_ptr<worker::Nvml>> nvml =
      worker::Nvml::Load(LLMBENCH_FAKE_NVML_LIBRARY);
  ASSERT_TRUE(nvml.ok()) << nvml.status();
  ASSERT_EQ((*nvml)->devices().size(), static_cast<size_t>(fake::kDevices));
  for (int i = 0; i < fake::kDevices; ++i) {
    EXPECT_EQ((*nvml)->devices()[i].index(), static_cast<uint32_t>(i));
    EXPECT_EQ((*nvml)->devices()[i].name(), fake::kNames[i]);
  }
  std::vector<v1::GpuSample> samples = (*nvml)->Sample();
  ASSERT_EQ(samples.size(), static_cast<size_t>(fake::kDevices));
  for (int i = 0; i < fake::kDevices; ++i) ExpectFakeValues(samples[i], i);
}

TEST(FakeNvmlTest, FailingInitIsNoGpuTelemetryWithTheCode) {
  ASSERT_EQ(setenv("LLMBENCH_FAKE_NVML_INIT_RC", "9", 1), 0);
  absl::StatusOr<std::unique_ptr<worker::Nvml>> nvml =
      worker::Nvml::Load(LLMBENCH_FAKE_NVML_LIBRARY);
  unsetenv("LLMBENCH_FAKE_NVML_INIT_RC");
  EXPECT_EQ(nvml.status(), absl::UnavailableError("no GPU telemetry: nvmlInit_v2 failed: NVML "
                                                  "error 9 (driver not loaded)"));
}

TEST(FakeNvmlTest, NoDeviceIsNoGpuTelemetry) {
  ASSERT_EQ(setenv("LLMBENCH_FAKE_NVML_COUNT", "0", 1), 0);
  absl::StatusOr<std::unique_ptr<worker::Nvml>> nvml =
      worker::Nvml::Load(LLMBENCH_FAKE_NVML_LIBRARY);
  unsetenv("LLMBENCH_FAKE_NVML_COUNT");
  EXPECT_EQ(nvml.status(), absl::UnavailableError("no GPU telemetry: NVML reports no GPU"));
}

// ---------------------------------------------------------------------------------------------
// Real llmbench-worker processes.

// Starts llmbench-worker with `args` on 127.0.0.1:0 and returns it with its address.
absl::StatusOr<std::pair<std::unique_ptr<Subprocess>, std::string>> StartWorker(
    std::vector<std::string> args, std::vector<std::string> env) {
  std::vector<std::string> argv = {LLMBENCH_WORKER_BINARY, "--listen", "127.0.0.1:0",
                                   "--log-level", "warn"};
  argv.insert(argv.end(), args.begin(), args.end());
  // These processes run without a token (loopback); none is inherited from the environment.
  unsetenv("LLMBENCH_WORKER_TOKEN");
  unsetenv("LLMBENCH_TOKEN");
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(argv, env);
  if (!process.ok()) return process.status();
  auto line = (*process)->WaitForStdoutLine(0, std::chrono::seconds(20));
  constexpr std::string_view kPrefix = "listening grpc://";
  if (!line.ok() || !line->second.starts_with(kPrefix)) {
    return absl::InternalError(absl::StrCat(
        "llmbench-worker did not print its address: ",
        line.ok() ? line->second : std::string(line.status().message()), "; stderr: ",
        (*process)->Stderr()));
  }
  return std::make_pair(*std::move(process), line->second.substr(kPrefix.size()));
}

// Reads a Monitor stream on a thread until `want` samples arrived (or 30 s passed, generous
// for a loaded 2-core machine), then cancels it.
struct MonitorCapture {
  std::vector<v1::ResourceSeries> messages;
  size_t samples = 0;
  absl::Status status;
};
MonitorCapture CaptureMonitor(const std::string& address, uint32_t interval_ms, size_t want) {
  coordinator::WorkerClient client(address);
  MonitorCapture capture;
  std::mutex mu;
  std::condition_variable cv;
  bool ended = false;
  std::thread reader([&] {
    absl::Status status = client.Monitor(interval_ms, [&](const v1::ResourceSeries& m) {
      std::lock_guard<std::mutex> lock(mu);
      capture.messages.push_back(m);
      capture.samples += static_cast<size_t>(m.samples_size());
      cv.notify_all();
    });
    std::lock_guard<std::mutex> lock(mu);
    capture.status = status;
    ended = true;
    cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return ended || capture.samples >= want; });
  }
  client.Cancel();
  reader.join();
  return capture;
}

TEST(MonitorProcessTest, SamplesCarryExactlyTheFakeNvmlValues) {
  auto worker = StartWorker({"--monitor"}, {absl::StrCat("LLMBENCH_NVML_LIBRARY=",
                                                         LLMBENCH_FAKE_NVML_LIBRARY)});
  ASSERT_TRUE(worker.ok()) << worker.status();
  MonitorCapture capture = CaptureMonitor(worker->second, 100, 3);
  ASSERT_GE(capture.samples, 3u) << capture.status;
  ASSERT_FALSE(capture.messages.empty());
  // The first message describes the host and carries no sample.
  const v1::ResourceSeries& header = capture.messages[0];
  EXPECT_EQ(header.samples_size(), 0);
  EXPECT_FALSE(header.hostname().empty());
  EXPECT_GE(header.cores(), 1u);
  EXPECT_DOUBLE_EQ(header.interval_s(), 0.1);
  EXPECT_EQ(header.gpu_note(), "");
  ASSERT_EQ(header.gpus_size(), fake::kDevices);
  for (int i = 0; i < fake::kDevices; ++i) EXPECT_EQ(header.gpus(i).name(), fake::kNames[i]);
  double last_t = -1;
  for (size_t m = 1; m < capture.messages.size(); ++m) {
    ASSERT_EQ(capture.messages[m].samples_size(), 1);
    const v1::ResourceSample& s = capture.messages[m].samples(0);
    EXPECT_GT(s.t_s(), last_t);
    last_t = s.t_s();
    ASSERT_EQ(s.gpus_size(), fake::kDevices);
    for (int i = 0; i < fake::kDevices; ++i) ExpectFakeValues(s.gpus(i), i);
    ASSERT_TRUE(s.has_host_cpu_percent());
    EXPECT_GE(s.host_cpu_percent(), 0.0);
    EXPECT_LE(s.host_cpu_percent(), 100.0);
    EXPECT_GT(s.process_rss_bytes(), 0u);
    EXPECT_GT(s.host_mem_total_bytes(), s.host_mem_used_bytes());
  }
  // A monitor serves nothing but Monitor and health.
  coordinator::WorkerClient client(worker->second);
  absl::StatusOr<coordinator::WorkerInfo> info = client.Describe(1, 5000);
  EXPECT_EQ(info.status().code(), absl::StatusCode::kUnimplemented) << info.status();
  EXPECT_EQ(worker->first->Stop().code, 0) << worker->first->Stderr();
}

TEST(MonitorProcessTest, AbsentLibraryReportsNoGpuTelemetryNeverZeros) {
  auto worker =
      StartWorker({"--monitor"}, {absl::StrCat("LLMBENCH_NVML_LIBRARY=", kAbsentLibrary)});
  ASSERT_TRUE(worker.ok()) << worker.status();
  MonitorCapture capture = CaptureMonitor(worker->second, 100, 2);
  ASSERT_GE(capture.samples, 2u) << capture.status;
  EXPECT_EQ(capture.messages[0].gpu_note(), kAbsentNote);
  EXPECT_EQ(capture.messages[0].gpus_size(), 0);
  for (const v1::ResourceSeries& m : capture.messages) {
    for (const v1::ResourceSample& s : m.samples()) EXPECT_EQ(s.gpus_size(), 0);
  }
  EXPECT_THAT(worker->first->Stderr(), HasSubstr(kAbsentNote));
}

TEST(HostMonitorsTest, UnreachableMonitorFailsBeforeTheRun) {
  // A port that was free a moment ago: nothing listens there.
  auto worker = StartWorker({"--monitor"}, {});
  ASSERT_TRUE(worker.ok()) << worker.status();
  const std::string address = worker->second;
  worker->first->Stop();
  absl::StatusOr<std::unique_ptr<coordinator::HostMonitors>> monitors =
      coordinator::HostMonitors::Start({address}, {}, 0, 100, 3000);
  ASSERT_FALSE(monitors.ok());
  EXPECT_EQ(monitors.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(monitors.status().message()),
              ::testing::StartsWith(absl::StrCat("monitor ", address, ": ")));
}

// ---------------------------------------------------------------------------------------------
// The whole system.

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ResourcesEndToEndTest, EveryWorkerHasSamplesAndTheMonitorItsHostSeries) {
  SimProcess::Options sim_options;
  sim_options.kinds = {"vllm"};
  sim_options.args = {"--itl-ms", "5", "--natural-tokens", "0", "--threads", "1"};
  absl::StatusOr<std::unique_ptr<SimProcess>> sim = SimProcess::Start(sim_options);
  ASSERT_TRUE(sim.ok()) << sim.status();
  auto plain = StartWorker({"--loop-threads", "1", "--worker-id", "plain"}, {});
  ASSERT_TRUE(plain.ok()) << plain.status();
  auto gpu = StartWorker({"--loop-threads", "1", "--worker-id", "gpu", "--gpu-telemetry"},
                         {absl::StrCat("LLMBENCH_NVML_LIBRARY=", LLMBENCH_FAKE_NVML_LIBRARY)});
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  auto monitor =
      StartWorker({"--monitor"}, {absl::StrCat("LLMBENCH_NVML_LIBRARY=", kAbsentLibrary)});
  ASSERT_TRUE(monitor.ok()) << monitor.status();

  char templ[] = "/tmp/llmbench-resources-XXXXXX";
  ASSERT_NE(mkdtemp(templ), nullptr);
  const std::string out = templ;
  absl::StatusOr<std::unique_ptr<Subprocess>> run = Subprocess::Start(
      {LLMBENCH_COORDINATOR_BINARY, "load", "-e", "vllm", "-u", (*sim)->BaseUrl("vllm"), "-m",
       "sim-model", "-c", "4", "--max-tokens", "16", "--duration", "3", "--workers",
       absl::StrCat(plain->second, ",", gpu->second), "--monitor", monitor->second, "--out",
       out, "--quiet"},
      {});
  ASSERT_TRUE(run.ok()) << run.status();
  absl::StatusOr<testing::ExitStatus> exit = (*run)->Wait(std::chrono::seconds(120));
  ASSERT_TRUE(exit.ok()) << exit.status();
  // 0, or 4 when the verdict is INVALID because a worker looked saturated on this shared
  // machine; the resources are recorded either way.
  ASSERT_TRUE(exit->exited && (exit->code == 0 || exit->code == 4))
      << "exit " << exit->code << " signal " << exit->signal << "\n"
      << (*run)->Stderr() << absl::StrJoin((*run)->StdoutLines(), "\n");

  absl::StatusOr<v1::RunResult> result = coordinator::LoadRunResult(out);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->workers_size(), 2);
  size_t rows = 0;
  for (const v1::WorkerResult& w : result->workers()) {
    SCOPED_TRACE(w.worker_id());
    ASSERT_TRUE(w.has_resources());
    const v1::ResourceSeries& r = w.resources();
    EXPECT_FALSE(r.hostname().empty());
    ASSERT_GE(r.cores(), 1u);
    EXPECT_DOUBLE_EQ(r.interval_s(), 1.0);
    // ~3.3 s of shard at 1 s, plus one at the end: at least 2 whatever the scheduling.
    EXPECT_GE(r.samples_size(), 2);
    double last_t = -1e9;
    for (const v1::ResourceSample& s : r.samples()) {
      EXPECT_GT(s.t_s(), last_t);
      last_t = s.t_s();
      // On the run's clock: after the run started, before it finished.
      EXPECT_GT(s.t_s(), 0.0);
      EXPECT_LT(s.t_s(), (result->finished_unix_ns() - result->started_unix_ns()) / 1e9 + 1.0);
      ASSERT_TRUE(s.has_host_cpu_percent());
      EXPECT_GE(s.host_cpu_percent(), 0.0);
      EXPECT_LE(s.host_cpu_percent(), 100.0);
      ASSERT_TRUE(s.has_process_cpu_percent());
      EXPECT_GE(s.process_cpu_percent(), 0.0);
      EXPECT_LE(s.process_cpu_percent(), 100.0 * r.cores());
      EXPECT_GT(s.process_rss_bytes(), 0u);
      EXPECT_GT(s.host_mem_total_bytes(), s.host_mem_used_bytes());
      rows += 1 + static_cast<size_t>(s.gpus_size());
      if (w.worker_id() == "gpu") {
        ASSERT_EQ(s.gpus_size(), fake::kDevices);
        for (int i = 0; i < fake::kDevices; ++i) ExpectFakeValues(s.gpus(i), i);
      } else {
        EXPECT_EQ(s.gpus_size(), 0);
      }
    }
    if (w.worker_id() == "gpu") {
      EXPECT_EQ(r.gpu_note(), "");
      ASSERT_EQ(r.gpus_size(), fake::kDevices);
      EXPECT_EQ(r.gpus(0).name(), fake::kNames[0]);
    } else {
      EXPECT_EQ(r.gpu_note(),
                "no GPU telemetry: not requested (llmbench-worker --monitor or --gpu-telemetry)");
    }
  }
  ASSERT_EQ(result->monitors_size(), 1);
  const v1::HostMonitor& m = result->monitors(0);
  EXPECT_EQ(m.address(), monitor->second);
  EXPECT_EQ(m.error(), "");
  EXPECT_EQ(m.resources().gpu_note(), kAbsentNote);
  EXPECT_EQ(m.resources().gpus_size(), 0);
  EXPECT_GE(m.resources().samples_size(), 2);
  for (const v1::ResourceSample& s : m.resources().samples()) {
    ASSERT_TRUE(s.has_host_cpu_percent());
    EXPECT_LE(s.host_cpu_percent(), 100.0);
    EXPECT_GT(s.host_mem_total_bytes(), 0u);
    EXPECT_EQ(s.gpus_size(), 0);
    ++rows;
  }
  // resources.csv: a header and one row per host or GPU sample.
  const std::string csv = ReadFile(out + "/resources.csv");
  std::vector<std::string> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines[0], ::testing::StartsWith("source,name,hostname,kind,t_s,"));
  EXPECT_EQ(lines.size(), rows + 1);
  EXPECT_EQ(csv, coordinator::ResourcesCsv(*result));
  std::error_code ec;
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(out, ec);
}

}  // namespace
}  // namespace llmbench
