#include "worker/resource_sampler.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace llmbench::worker {
namespace {

namespace v1 = ::llmbench::v1;

// A procfs root whose counters the test sets by hand.
class ResourceSamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("llmbench-sampler-test-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(root_ / "net");
    std::filesystem::create_directories(root_ / "self");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(root_ / name, std::ios::binary | std::ios::trunc) << text;
  }
  // Host jiffies (user, system, idle, iowait), 4 cores; memory in kB; net bytes; process
  // ticks and RSS in kB.
  void SetHost(uint64_t user, uint64_t system, uint64_t idle, uint64_t iowait) {
    Write("stat", absl::StrFormat("cpu  %d 0 %d %d %d 0 0 0 0 0\ncpu0 0 0 0 0\ncpu1 0 0 0 0\n"
                                  "cpu2 0 0 0 0\ncpu3 0 0 0 0\n",
                                  user, system, idle, iowait));
  }
  void SetMemory(uint64_t total_kb, uint64_t available_kb) {
    Write("meminfo", absl::StrFormat("MemTotal: %d kB\nMemAvailable: %d kB\n", total_kb,
                                     available_kb));
  }
  void SetNet(uint64_t rx, uint64_t tx) {
    Write("net/dev",
          absl::StrFormat("Inter-|\n face |\n    lo: 777 0 0 0 0 0 0 0 777 0 0 0 0 0 0 0\n"
                          "  eth0: %d 0 0 0 0 0 0 0 %d 0 0 0 0 0 0 0\n",
                          rx, tx));
  }
  void SetProcess(uint64_t utime, uint64_t stime, uint64_t rss_kb) {
    Write("self/stat", absl::StrFormat("7 (w) S 1 1 1 0 -1 0 0 0 0 0 %d %d 0 0\n", utime, stime));
    Write("self/status", absl::StrFormat("Name:\tw\nVmRSS:\t%d kB\n", rss_kb));
  }

  ResourceSampler MakeSampler(const Nvml* nvml = nullptr) {
    ResourceSamplerOptions options;
    options.procfs_root = root_.string();
    options.clock = &clock_;
    options.reference_ns = 500'000'000;  // t_s counts from 0.5 s
    options.ticks_per_second = 100;
    options.nvml = nvml;
    return ResourceSampler(options);
  }

  std::filesystem::path root_;
  FakeClock clock_{0};
};

TEST_F(ResourceSamplerTest, ComputesSharesAndRatesFromDeltas) {
  SetHost(1000, 500, 8000, 500);
  SetMemory(1000000, 600000);
  SetNet(10000, 20000);
  SetProcess(100, 50, 2048);
  ResourceSampler sampler = MakeSampler();
  ASSERT_EQ(sampler.Prime(), absl::OkStatus());
  EXPECT_EQ(sampler.cores(), 4u);

  // 2 s later: host +300 user +100 system +350 idle +50 iowait = 800 jiffies, 400 busy;
  // process +120 + 30 ticks = 1.5 s of CPU in 2 s; net +5000 rx, +1000 tx.
  clock_.AdvanceNs(2'000'000'000);
  SetHost(1300, 600, 8350, 550);
  SetMemory(1000000, 400000);
  SetNet(15000, 21000);
  SetProcess(220, 80, 4096);
  absl::StatusOr<v1::ResourceSample> s = sampler.Sample();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(s->t_s(), 1.5);
  ASSERT_TRUE(s->has_host_cpu_percent());
  EXPECT_DOUBLE_EQ(s->host_cpu_percent(), 50.0);
  ASSERT_TRUE(s->has_process_cpu_percent());
  EXPECT_DOUBLE_EQ(s->process_cpu_percent(), 75.0);
  EXPECT_EQ(s->host_mem_total_bytes(), 1000000u * 1024);
  EXPECT_EQ(s->host_mem_used_bytes(), 600000u * 1024);
  EXPECT_EQ(s->process_rss_bytes(), 4096u * 1024);
  ASSERT_TRUE(s->has_net_rx_bytes_per_s());
  EXPECT_DOUBLE_EQ(s->net_rx_bytes_per_s(), 2500.0);  // lo excluded
  EXPECT_DOUBLE_EQ(s->net_tx_bytes_per_s(), 500.0);
  EXPECT_EQ(s->gpus_size(), 0);

  // The next sample covers only the next interval: 0.5 s, every core busy, process on 2 cores.
  clock_.AdvanceNs(500'000'000);
  SetHost(1500, 600, 8350, 550);
  SetProcess(320, 80, 4096);
  s = sampler.Sample();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(s->t_s(), 2.0);
  EXPECT_DOUBLE_EQ(s->host_cpu_percent(), 100.0);
  EXPECT_DOUBLE_EQ(s->process_cpu_percent(), 200.0);
  EXPECT_DOUBLE_EQ(s->net_rx_bytes_per_s(), 0.0);
}

TEST_F(ResourceSamplerTest, EmptyIntervalsAndBackwardCountersLeaveValuesAbsent) {
  SetHost(1000, 500, 8000, 500);
  SetMemory(1000, 500);
  SetNet(10000, 20000);
  SetProcess(100, 50, 1);
  ResourceSampler sampler = MakeSampler();
  ASSERT_EQ(sampler.Prime(), absl::OkStatus());
  // No time and no jiffies passed; an interface went away (counters fell).
  SetNet(5000, 20000);
  absl::StatusOr<v1::ResourceSample> s = sampler.Sample();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->has_host_cpu_percent());
  EXPECT_FALSE(s->has_process_cpu_percent());
  EXPECT_FALSE(s->has_net_rx_bytes_per_s());
  EXPECT_FALSE(s->has_net_tx_bytes_per_s());
  EXPECT_EQ(s->host_mem_used_bytes(), 500u * 1024);

  clock_.AdvanceNs(1'000'000'000);
  SetNet(5000, 19000);
  s = sampler.Sample();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(s->net_rx_bytes_per_s(), 0.0);
  EXPECT_FALSE(s->has_net_tx_bytes_per_s());
}

TEST_F(ResourceSamplerTest, UnreadableProcfsIsAnError) {
  ResourceSampler sampler = MakeSampler();
  EXPECT_EQ(sampler.Prime(),
            absl::NotFoundError((root_ / "stat").string() + ": No such file or directory"));
  EXPECT_EQ(sampler.Sample().status(),
            absl::FailedPreconditionError("ResourceSampler: not primed"));
}

TEST_F(ResourceSamplerTest, MalformedFileMidRunIsAnErrorAndTheNextSampleRecovers) {
  SetHost(1000, 500, 8000, 500);
  SetMemory(1000, 500);
  SetNet(0, 0);
  SetProcess(100, 50, 1);
  ResourceSampler sampler = MakeSampler();
  ASSERT_EQ(sampler.Prime(), absl::OkStatus());
  Write("self/status", "Name:\tw\n");
  clock_.AdvanceNs(1'000'000'000);
  EXPECT_EQ(sampler.Sample().status(),
            absl::InvalidArgumentError((root_ / "self/status").string() + ": no VmRSS line"));
  SetProcess(200, 50, 1);
  clock_.AdvanceNs(1'000'000'000);
  absl::StatusOr<v1::ResourceSample> s = sampler.Sample();
  ASSERT_TRUE(s.ok()) << s.status();
  // The failed reading did not replace the baseline: 100 ticks over 2 s.
  EXPECT_DOUBLE_EQ(s->process_cpu_percent(), 50.0);
}

TEST(ResourceSeriesHeaderTest, WithoutNvmlCarriesTheNote) {
  v1::ResourceSeries series =
      ResourceSeriesHeader("host-a", 8, 1000, nullptr, "no GPU telemetry: not requested");
  EXPECT_EQ(series.hostname(), "host-a");
  EXPECT_EQ(series.cores(), 8u);
  EXPECT_DOUBLE_EQ(series.interval_s(), 1.0);
  EXPECT_EQ(series.gpus_size(), 0);
  EXPECT_EQ(series.gpu_note(), "no GPU telemetry: not requested");
  EXPECT_EQ(series.samples_size(), 0);
}

TEST(ResourceSamplerRealTest, SamplesThisProcess) {
  ResourceSampler sampler{ResourceSamplerOptions()};
  ASSERT_EQ(sampler.Prime(), absl::OkStatus());
  absl::StatusOr<v1::ResourceSample> s = sampler.Sample();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GT(s->process_rss_bytes(), 0u);
  EXPECT_GT(s->host_mem_total_bytes(), 0u);
}

}  // namespace
}  // namespace llmbench::worker
