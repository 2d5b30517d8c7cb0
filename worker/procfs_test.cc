#include "worker/procfs.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace llmbench::worker {
namespace {

// Fixture text as Linux 6.1 writes these files (values made up, layout exact).
constexpr char kStat[] =
    "cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0\n"
    "cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0\n"
    "cpu1 1335848 57001 500117 11217226 2863 0 1918 0 47411 0\n"
    "intr 199292311 17 0 0\n"
    "ctxt 366346498\n"
    "btime 1700000000\n";
constexpr char kMeminfo[] =
    "MemTotal:       16314748 kB\n"
    "MemFree:         1129484 kB\n"
    "MemAvailable:    9423712 kB\n"
    "Buffers:          551032 kB\n";
constexpr char kNetDev[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo: 9000000   12345    0    0    0     0          0         0  9000000   12345    0 "
    "   0    0     0       0          0\n"
    "  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n"
    "wlan0:3000 30 0 0 0 0 0 0 4000 40 0 0 0 0 0 0\n";
// comm with a space and a ')' inside, as a process may name itself.
constexpr char kSelfStat[] =
    "4242 (llm bench) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 123456 "
    "1000000 2500 18446744073709551615\n";
constexpr char kSelfStatus[] =
    "Name:\tllmbench-worker\n"
    "VmPeak:\t  300000 kB\n"
    "VmRSS:\t   20480 kB\n"
    "Threads:\t9\n";

TEST(ProcfsTest, ParsesProcStatCpuLineAndCores) {
  absl::StatusOr<HostCpuTimes> cpu = ParseProcStat(kStat);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_EQ(cpu->user, 10132153u);
  EXPECT_EQ(cpu->nice, 290696u);
  EXPECT_EQ(cpu->system, 3084719u);
  EXPECT_EQ(cpu->idle, 46828483u);
  EXPECT_EQ(cpu->iowait, 16683u);
  EXPECT_EQ(cpu->irq, 0u);
  EXPECT_EQ(cpu->softirq, 25195u);
  EXPECT_EQ(cpu->steal, 0u);
  EXPECT_EQ(cpu->cores, 2u);
  EXPECT_EQ(cpu->Total(), 10132153u + 290696u + 3084719u + 46828483u + 16683u + 25195u);
  EXPECT_EQ(cpu->Busy(), 10132153u + 290696u + 3084719u + 25195u);
}

TEST(ProcfsTest, ProcStatWithOnlyFourValuesIsAccepted) {
  absl::StatusOr<HostCpuTimes> cpu = ParseProcStat("cpu 1 2 3 4\ncpu0 1 2 3 4\n");
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_EQ(cpu->Total(), 10u);
  EXPECT_EQ(cpu->Busy(), 6u);
}

TEST(ProcfsTest, MalformedProcStatIsAClearError) {
  EXPECT_EQ(ParseProcStat("").status(),
            absl::InvalidArgumentError("no aggregate \"cpu\" line"));
  EXPECT_EQ(ParseProcStat("cpu0 1 2 3 4\n").status(),
            absl::InvalidArgumentError("no aggregate \"cpu\" line"));
  EXPECT_EQ(ParseProcStat("cpu 1 2 3\n").status(),
            absl::InvalidArgumentError("the \"cpu\" line has 3 values, expected at least 4"));
  EXPECT_EQ(ParseProcStat("cpu 1 2 x 4\n").status(),
            absl::InvalidArgumentError(
                "\"cpu\" value 3: \"x\" is not a non-negative integer"));
  EXPECT_EQ(ParseProcStat("cpu 1 2 -3 4\n").status(),
            absl::InvalidArgumentError(
                "\"cpu\" value 3: \"-3\" is not a non-negative integer"));
}

TEST(ProcfsTest, ParsesMeminfo) {
  absl::StatusOr<HostMemory> memory = ParseMeminfo(kMeminfo);
  ASSERT_TRUE(memory.ok()) << memory.status();
  EXPECT_EQ(memory->total_bytes, 16314748ull * 1024);
  EXPECT_EQ(memory->available_bytes, 9423712ull * 1024);
}

TEST(ProcfsTest, MalformedMeminfoIsAClearError) {
  EXPECT_EQ(ParseMeminfo("MemFree: 1 kB\n").status(),
            absl::InvalidArgumentError("no MemTotal line"));
  EXPECT_EQ(ParseMeminfo("MemTotal: 10 kB\n").status(),
            absl::InvalidArgumentError("no MemAvailable line"));
  EXPECT_EQ(ParseMeminfo("MemTotal: 10 MB\nMemAvailable: 1 kB\n").status(),
            absl::InvalidArgumentError("MemTotal: expected \"<number> kB\", got \"10 MB\""));
  EXPECT_EQ(ParseMeminfo("MemTotal: ten kB\nMemAvailable: 1 kB\n").status(),
            absl::InvalidArgumentError("MemTotal: \"ten\" is not a non-negative integer"));
  EXPECT_EQ(ParseMeminfo("MemTotal: 1 kB\nMemAvailable: 2 kB\n").status(),
            absl::InvalidArgumentError("MemAvailable 2048 B exceeds MemTotal 1024 B"));
  EXPECT_EQ(ParseMeminfo("MemTotal: 18446744073709551615 kB\nMemAvailable: 1 kB\n").status(),
            absl::InvalidArgumentError("MemTotal: 18446744073709551615 kB is out of range"));
}

TEST(ProcfsTest, ParsesNetDevSkippingLoopback) {
  absl::StatusOr<NetCounters> net = ParseNetDev(kNetDev);
  ASSERT_TRUE(net.ok()) << net.status();
  EXPECT_EQ(net->rx_bytes, 1000u + 3000u);  // wlan0's name touches its first counter
  EXPECT_EQ(net->tx_bytes, 2000u + 4000u);
}

TEST(ProcfsTest, MalformedNetDevIsAClearError) {
  EXPECT_EQ(ParseNetDev("").status(),
            absl::InvalidArgumentError("no header line (not a /proc/net/dev file)"));
  const std::string header = "Inter-|\n face |\n";
  EXPECT_EQ(ParseNetDev(header).status(), absl::OkStatus());  // no interface at all
  EXPECT_EQ(ParseNetDev(header + "eth0 1 2 3\n").status(),
            absl::InvalidArgumentError("line \"eth0 1 2 3\" has no \"IFACE:\""));
  EXPECT_EQ(ParseNetDev(header + "eth0: 1 2 3\n").status(),
            absl::InvalidArgumentError("interface eth0 has 3 counters, expected 16"));
  EXPECT_EQ(ParseNetDev(header + "eth0: 1 0 0 0 0 0 0 0 z 0 0 0 0 0 0 0\n").status(),
            absl::InvalidArgumentError("eth0 tx bytes: \"z\" is not a non-negative integer"));
}

TEST(ProcfsTest, ParsesProcessStatAfterTheLastParenthesis) {
  absl::StatusOr<ProcessCpuTicks> ticks = ParseProcessStat(kSelfStat);
  ASSERT_TRUE(ticks.ok()) << ticks.status();
  EXPECT_EQ(ticks->utime, 250u);
  EXPECT_EQ(ticks->stime, 75u);
}

TEST(ProcfsTest, MalformedProcessStatIsAClearError) {
  EXPECT_EQ(ParseProcessStat("4242 S 1").status(),
            absl::InvalidArgumentError("no \"(comm)\" field"));
  EXPECT_EQ(ParseProcessStat("4242 (w) S 1 2 3").status(),
            absl::InvalidArgumentError("6 fields, expected at least 15"));
  EXPECT_EQ(ParseProcessStat("1 (w) S 1 1 1 0 -1 0 0 0 0 0 x 75").status(),
            absl::InvalidArgumentError("utime (field 14): \"x\" is not a non-negative integer"));
}

TEST(ProcfsTest, ParsesVmRss) {
  absl::StatusOr<uint64_t> rss = ParseProcessStatusRss(kSelfStatus);
  ASSERT_TRUE(rss.ok()) << rss.status();
  EXPECT_EQ(*rss, 20480u * 1024);
  EXPECT_EQ(ParseProcessStatusRss("Name:\tkthreadd\n").status(),
            absl::InvalidArgumentError("no VmRSS line"));
}

// Writes the five files under a fresh folder; removed at the end of the test.
class ProcfsRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("llmbench-procfs-test-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(root_ / "net");
    std::filesystem::create_directories(root_ / "self");
    Write("stat", kStat);
    Write("meminfo", kMeminfo);
    Write("net/dev", kNetDev);
    Write("self/stat", kSelfStat);
    Write("self/status", kSelfStatus);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(root_ / name, std::ios::binary | std::ios::trunc) << text;
  }
  std::filesystem::path root_;
};

TEST_F(ProcfsRootTest, ReadsEveryFileUnderTheRoot) {
  absl::StatusOr<ProcfsSnapshot> s = ProcfsReader(root_.string()).Read();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->host_cpu.user, 10132153u);
  EXPECT_EQ(s->memory.total_bytes, 16314748ull * 1024);
  EXPECT_EQ(s->net.rx_bytes, 4000u);
  EXPECT_EQ(s->process_cpu.utime, 250u);
  EXPECT_EQ(s->process_rss_bytes, 20480u * 1024);
}

TEST_F(ProcfsRootTest, ErrorsNameThePath) {
  Write("meminfo", "MemTotal: 10 kB\n");
  EXPECT_EQ(ProcfsReader(root_.string()).Read().status(),
            absl::InvalidArgumentError((root_ / "meminfo").string() + ": no MemAvailable line"));
  std::filesystem::remove(root_ / "self/status");
  Write("meminfo", kMeminfo);
  EXPECT_EQ(ProcfsReader(root_.string()).Read().status(),
            absl::NotFoundError((root_ / "self/status").string() +
                                ": No such file or directory"));
}

TEST(ProcfsRealTest, ReadsThisMachinesProc) {
  absl::StatusOr<ProcfsSnapshot> s = ProcfsReader().Read();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GT(s->host_cpu.Total(), 0u);
  EXPECT_GE(s->host_cpu.cores, 1u);
  EXPECT_GT(s->memory.total_bytes, s->memory.available_bytes);
  EXPECT_GT(s->process_rss_bytes, 0u);
}

}  // namespace
}  // namespace llmbench::worker
