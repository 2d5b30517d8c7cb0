// Per-request values of a run, per engine: the successful measured requests' TTFT, TPOT, E2E
// and pooled ITL (docs/metrics.md definitions, request_metrics.h) for `llmbench diff` and the
// spread across --repeat runs, and their send and end instants for the capacity sweep's
// sending-window throughput (sweep.h). Collected from records as a run streams them
// (SampleCollector, kept in memory for sweeps and repeats) or read back from a results
// folder's requests.csv (requests_csv.h).
//
// Thread-safety: pure functions.
#ifndef LLMBENCH_COORDINATOR_REQUEST_SAMPLES_H_
#define LLMBENCH_COORDINATOR_REQUEST_SAMPLES_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "llmbench/v1/record.pb.h"

namespace llmbench::coordinator {

// Per-request values of one engine's successful measured (non-warm-up) requests, in file order.
struct RequestSamples {
  std::vector<double> ttft_ms;  // first_token − sent, requests with a first token
  std::vector<double> e2e_ms;   // end − sent
  std::vector<double> tpot_ms;  // (E2E − TTFT) / (output_tokens − 1), output_tokens >= 2
  std::vector<double> itl_ms;   // every gap between consecutive chunk offsets, pooled
  std::vector<int64_t> sent_ns;  // send instant (the shard clock), one per success
  std::vector<int64_t> end_ns;   // end instant, parallel to sent_ns
};

using SamplesByEngine = std::map<std::string, RequestSamples>;

// Adds `record` to its engine's samples when it is a successful measured request.
void AddSample(const llmbench::v1::RequestRecord& record, SamplesByEngine* samples);

// Parses requests.csv text into samples per engine. Errors name `source` and the line.
absl::StatusOr<SamplesByEngine> ParseRequestSamples(std::string_view csv,
                                                    const std::string& source);
// Reads and parses DIR/requests.csv. NotFound when it is missing.
absl::StatusOr<std::map<std::string, RequestSamples>> LoadRequestSamples(const std::string& dir);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_REQUEST_SAMPLES_H_
