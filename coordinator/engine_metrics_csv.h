// engine_metrics.csv: the engine telemetry of a run (EngineResult.telemetry, built by
// coordinator/engine_telemetry.h), one row per value, written beside requests.csv by
// WriteRunResults (coordinator/exporters.h).
//
// Thread-safety: free functions without shared state.
#ifndef LLMBENCH_COORDINATOR_ENGINE_METRICS_CSV_H_
#define LLMBENCH_COORDINATOR_ENGINE_METRICS_CSV_H_

#include <string>

#include "absl/status/status.h"
#include "llmbench/v1/result.pb.h"

namespace llmbench::coordinator {

inline constexpr char kEngineMetricsFileName[] = "engine_metrics.csv";

// engine_metrics.csv (docs/metrics.md, "Engine telemetry"): one row per value, columns
//   engine,section,name,metric,t_s,client,server,diff
// section "client_vs_server" (name ttft_p50_ms, ..., output_tokens; client/server/diff),
// "counter" (server = increase), "histogram" (name server_ttft_p50_ms, ...; server),
// "gauge" (one row per sample: t_s and server), "ollama_ps" (name = model, metric
// size_vram_bytes; t_s and server), "server_timing" (name e.g. decode_tokens_per_s_p50;
// server). Empty cells for absent values. Empty (header only) when no engine has telemetry.
std::string EngineMetricsCsv(const v1::RunResult& result);
// Writes DIR/engine_metrics.csv when some engine has telemetry; OK and nothing written
// otherwise. Errors name the file.
absl::Status WriteEngineMetricsCsv(const std::string& dir, const v1::RunResult& result);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_ENGINE_METRICS_CSV_H_
