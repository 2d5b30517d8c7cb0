// Procfs: pure parsers of the few /proc files the resource sampler reads, and a reader that
// takes them from an injectable root ("/proc" in production, a fixture folder in tests).
//
//   /proc/stat         the aggregate "cpu" line (jiffies) and the count of "cpuN" lines
//   /proc/meminfo      MemTotal and MemAvailable (kB)
//   /proc/net/dev      receive and transmit bytes, summed over every interface but lo
//   /proc/self/stat    utime and stime (fields 14 and 15, clock ticks) of this process
//   /proc/self/status  VmRSS (kB) of this process
//
// Every parser returns InvalidArgument naming the file and what was wrong for malformed text
// (a missing line, a non-number); none crashes on any input.
//
// Thread-safety: the parsers are pure functions; ProcfsReader is immutable and thread-safe.
#ifndef LLMBENCH_WORKER_PROCFS_H_
#define LLMBENCH_WORKER_PROCFS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace llmbench::worker {

// The aggregate "cpu" line of /proc/stat, in jiffies (USER_HZ).
struct HostCpuTimes {
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
           steal = 0;
  uint32_t cores = 0;  // "cpuN" lines

  // user + nice + system + idle + iowait + irq + softirq + steal (guest time is already in
  // user and nice, so it is not added again).
  uint64_t Total() const { return user + nice + system + idle + iowait + irq + softirq + steal; }
  // Total() − idle − iowait.
  uint64_t Busy() const { return Total() - idle - iowait; }
};

struct HostMemory {
  uint64_t total_bytes = 0;      // MemTotal
  uint64_t available_bytes = 0;  // MemAvailable
};

struct NetCounters {
  uint64_t rx_bytes = 0;  // every interface but lo
  uint64_t tx_bytes = 0;
};

// utime + stime of one process, in clock ticks (sysconf(_SC_CLK_TCK)).
struct ProcessCpuTicks {
  uint64_t utime = 0;
  uint64_t stime = 0;
};

absl::StatusOr<HostCpuTimes> ParseProcStat(std::string_view text);
absl::StatusOr<HostMemory> ParseMeminfo(std::string_view text);
absl::StatusOr<NetCounters> ParseNetDev(std::string_view text);
absl::StatusOr<ProcessCpuTicks> ParseProcessStat(std::string_view text);
// VmRSS in bytes.
absl::StatusOr<uint64_t> ParseProcessStatusRss(std::string_view text);

// Everything one sample needs, read at one instant.
struct ProcfsSnapshot {
  HostCpuTimes host_cpu;
  HostMemory memory;
  NetCounters net;
  ProcessCpuTicks process_cpu;
  uint64_t process_rss_bytes = 0;
};

class ProcfsReader {
 public:
  // `root`: the procfs mount ("/proc"), or a folder with the same layout (stat, meminfo,
  // net/dev, self/stat, self/status).
  explicit ProcfsReader(std::string root = "/proc");

  // Reads and parses the five files. NotFound naming the path when one cannot be read;
  // InvalidArgument from the parsers, prefixed with the path.
  absl::StatusOr<ProcfsSnapshot> Read() const;

  const std::string& root() const { return root_; }

 private:
  const std::string root_;
};

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_PROCFS_H_
