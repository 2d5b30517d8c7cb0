// Feeds N synthetic records (default 1,000,000, 64 content chunks each) through
// coordinator::Aggregator::Add on one thread, then Finish(), and prints records/s for each
// phase, the bytes the aggregator retains per record and the process's peak RSS (VmHWM).
//
// Usage: coordinator_merge_bench [records] [chunks_per_record] [workers] [engines]
//
// The records come from a pool of 4096 prebuilt protos whose ids and times are rewritten
// before each Add (as a gRPC batch would hand over freshly parsed records), so the pool's few
// MB count in the RSS but the run does not hold N protos.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "coordinator/aggregate.h"

namespace {

long PeakRssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  const long records = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  const int chunks = argc > 2 ? std::atoi(argv[2]) : 64;
  const int workers = argc > 3 ? std::atoi(argv[3]) : 4;
  const int engines = argc > 4 ? std::atoi(argv[4]) : 2;
  if (records <= 0 || chunks < 0 || workers <= 0 || engines <= 0) {
    std::fprintf(stderr, "usage: %s [records>0] [chunks>=0] [workers>0] [engines>0]\n", argv[0]);
    return 2;
  }
  constexpr size_t kPool = 4096;
  std::mt19937_64 rng(42);
  std::vector<llmbench::v1::RequestRecord> pool(kPool);
  for (size_t i = 0; i < kPool; ++i) {
    llmbench::v1::RequestRecord& r = pool[i];
    // Records of one worker arrive together (a worker's batch), engines interleave.
    r.set_worker_id("worker-" + std::to_string((i / 64) % static_cast<size_t>(workers)));
    r.set_engine("engine-" + std::to_string(i % static_cast<size_t>(engines)));
    int64_t t = 20'000'000 + static_cast<int64_t>(rng() % 30'000'000);  // TTFT 20-50 ms
    for (int c = 0; c < chunks; ++c) {
      r.add_chunk_offsets_ns(t);
      t += 5'000'000 + static_cast<int64_t>(rng() % 20'000'000);  // ITL 5-25 ms
    }
    r.set_content_chunks(static_cast<uint32_t>(chunks));
    r.set_output_tokens(static_cast<uint32_t>(chunks));
    r.set_input_tokens(128 + static_cast<uint32_t>(rng() % 512));
    r.set_http_status(200);
    if (i % 100 == 99) {
      r.set_error_class(llmbench::v1::ERROR_CLASS_TIMEOUT);
      r.set_error_message("total timeout");
    }
    r.set_end_ns(t + 1'000'000);  // sent_ns is 0 here; shifted below
  }

  llmbench::v1::Slo slo;
  slo.set_ttft_ms(40);
  slo.set_tpot_ms(20);
  llmbench::coordinator::Aggregator aggregator(slo);
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ThreadCpuSeconds();
  for (long i = 0; i < records; ++i) {
    llmbench::v1::RequestRecord& r = pool[static_cast<size_t>(i) % kPool];
    const int64_t base = i * 1'000'000;  // 1000 requests/s arrival
    const int64_t e2e = r.end_ns() - r.sent_ns();
    r.set_request_id(static_cast<uint64_t>(i));
    r.set_scheduled_ns(base);
    r.set_sent_ns(base + 50'000);
    if (r.chunk_offsets_ns_size() > 0) r.set_first_token_ns(r.sent_ns() + r.chunk_offsets_ns(0));
    r.set_end_ns(r.sent_ns() + e2e);
    aggregator.Add(r);
  }
  const auto added = std::chrono::steady_clock::now();
  const double cpu_added = ThreadCpuSeconds();
  const llmbench::v1::RunResult result = aggregator.Finish({});
  const auto finished = std::chrono::steady_clock::now();
  const double cpu_finished = ThreadCpuSeconds();

  const double add_s = std::chrono::duration<double>(added - start).count();
  const double finish_s = std::chrono::duration<double>(finished - added).count();
  std::printf("records               %ld (%d chunks each, %d workers x %d engines)\n", records,
              chunks, workers, engines);
  const double add_cpu = cpu_added - cpu_start;
  const double finish_cpu = cpu_finished - cpu_added;
  const double n = static_cast<double>(records);
  // Wall time suffers on a shared machine; thread CPU time is what one core spends.
  std::printf("Add                   wall %.3f s (%.0f records/s)  cpu %.3f s (%.0f records/s, "
              "%.0f ns/record)\n",
              add_s, n / add_s, add_cpu, n / add_cpu, add_cpu * 1e9 / n);
  std::printf("Finish                wall %.3f s  cpu %.3f s\n", finish_s, finish_cpu);
  std::printf("Add + Finish          wall %.0f records/s  cpu %.0f records/s\n",
              n / (add_s + finish_s), n / (add_cpu + finish_cpu));
  std::printf("retained              %zu bytes (%.1f bytes/record)\n", aggregator.RetainedBytes(),
              static_cast<double>(aggregator.RetainedBytes()) / static_cast<double>(records));
  std::printf("peak RSS (VmHWM)      %ld kB\n", PeakRssKb());
  std::printf("check: requests=%llu itl_count=%llu ttft_p99=%.3f ms\n",
              static_cast<unsigned long long>(result.overall().requests()),
              static_cast<unsigned long long>(result.overall().itl_ms().count()),
              result.overall().ttft_ms().p99());
  return 0;
}
