#include "coordinator/exporters.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/status.h"
#include "common/text_safety.h"
#include "coordinator/aggregate.h"
#include "coordinator/cost.h"
#include "coordinator/csv.h"
#include "coordinator/engine_metrics_csv.h"
#include "coordinator/sweep.h"
#include "coordinator/workload_summary.h"
#include "google/protobuf/util/json_util.h"

namespace llmbench::coordinator {

namespace {

constexpr size_t kCsvFlushBytes = 1 << 16;

const char* TokenSourceName(v1::TokenSource source) {
  switch (source) {
    case v1::TOKEN_SOURCE_ENGINE:
      return "engine";
    case v1::TOKEN_SOURCE_CHUNKS:
      return "chunks";
    default:
      return "unspecified";
  }
}

const char* VerdictName(v1::Verdict::State state) {
  switch (state) {
    case v1::Verdict::STATE_VALID:
      return "VALID";
    case v1::Verdict::STATE_DEGRADED:
      return "DEGRADED";
    case v1::Verdict::STATE_INVALID:
      return "INVALID";
    case v1::Verdict::STATE_ENGINE_DOWN:
      return "ENGINE_DOWN";
    case v1::Verdict::STATE_INTERRUPTED:
      return "INTERRUPTED";
    default:
      return "UNSPECIFIED";
  }
}

absl::Status WriteFile(const std::filesystem::path& path, std::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", path.string(), ": ", std::strerror(errno)));
  }
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

template <typename T>
void AppendOptional(bool has, T value, std::string* out) {
  if (has) absl::StrAppend(out, value);
  out->push_back(',');
}

}  // namespace

absl::StatusOr<std::string> SummaryJson(const v1::RunResult& result) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = false;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(result, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print the result as JSON: ", status.ToString()));
  }
  if (json.empty() || json.back() != '\n') json.push_back('\n');
  return json;
}

absl::StatusOr<v1::RunResult> LoadRunResult(const std::string& dir) {
  const std::filesystem::path path = std::filesystem::path(dir) / kSummaryFileName;
  LLMBENCH_ASSIGN_OR_RETURN(const std::string contents, ReadFileText(path.string()));
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // a summary from a newer llmbench still loads
  v1::RunResult result;
  auto status = google::protobuf::util::JsonStringToMessage(contents, &result, options);
  if (!status.ok()) {
    // The parser appends the input around the error on further lines; keep the first.
    std::string message(status.message().data(), status.message().size());
    message = message.substr(0, message.find('\n'));
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": not a llmbench summary: ", message));
  }
  return result;
}

absl::Status WriteRunResults(const std::string& dir, const v1::RunResult& result,
                             std::string_view scenario_yaml) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  absl::StatusOr<std::string> json = SummaryJson(result);
  if (!json.ok()) return json.status();
  absl::Status status = WriteFile(std::filesystem::path(dir) / kSummaryFileName, *json);
  if (!status.ok()) return status;
  if (!scenario_yaml.empty()) {
    status = WriteFile(std::filesystem::path(dir) / kScenarioFileName, scenario_yaml);
  }
  // engine_metrics.csv beside requests.csv when some engine has telemetry (engine_metrics_csv.h).
  if (status.ok() && result.scenario().outputs().csv()) status = WriteEngineMetricsCsv(dir, result);
  return status;
}

std::string RequestsCsvHeader() {
  return "request_id,shard_index,worker_id,engine,prompt_index,warmup,scheduled_ns,sent_ns,"
         "first_token_ns,end_ns,chunk_offsets_ns,content_chunks,input_tokens,"
         "output_tokens_reported,output_tokens,output_token_source,prompt_tokens_sent,"
         "finish_reason,load_duration_ns,prompt_eval_duration_ns,eval_duration_ns,"
         "total_duration_ns,prompt_eval_count,eval_count,queue_time_ns,inference_time_ns,"
         "time_per_token_ns,validation_time_ns,server_total_time_ns,prompt_time_ns,"
         "predicted_time_ns,server_ttft_ns,http_status,error_class,error_message,"
         "bytes_received,chunk_offsets_dropped,over_max_tokens,handed_ns,dispatch_delay_ns,"
         "connect_ns,max_tokens_sent,session_id,turn_index\n";
}

void AppendRequestCsvRow(const v1::RequestRecord& r, std::string* out) {
  absl::StrAppend(out, r.request_id(), ",", r.shard_index(), ",", CsvField(r.worker_id()), ",",
                  CsvField(r.engine()), ",", r.prompt_index(), ",", r.warmup() ? "true" : "false",
                  ",");
  AppendOptional(r.has_scheduled_ns(), r.scheduled_ns(), out);
  absl::StrAppend(out, r.sent_ns(), ",");
  AppendOptional(r.has_first_token_ns(), r.first_token_ns(), out);
  absl::StrAppend(out, r.end_ns(), ",", absl::StrJoin(r.chunk_offsets_ns(), ";"), ",",
                  r.content_chunks(), ",");
  AppendOptional(r.has_input_tokens(), r.input_tokens(), out);
  AppendOptional(r.has_output_tokens_reported(), r.output_tokens_reported(), out);
  absl::StrAppend(out, r.output_tokens(), ",", TokenSourceName(r.output_token_source()), ",");
  AppendOptional(r.has_prompt_tokens_sent(), r.prompt_tokens_sent(), out);
  absl::StrAppend(out, CsvField(r.finish_reason()), ",");
  const v1::EngineTimings& t = r.engine_timings();
  AppendOptional(t.has_load_duration_ns(), t.load_duration_ns(), out);
  AppendOptional(t.has_prompt_eval_duration_ns(), t.prompt_eval_duration_ns(), out);
  AppendOptional(t.has_eval_duration_ns(), t.eval_duration_ns(), out);
  AppendOptional(t.has_total_duration_ns(), t.total_duration_ns(), out);
  AppendOptional(t.has_prompt_eval_count(), t.prompt_eval_count(), out);
  AppendOptional(t.has_eval_count(), t.eval_count(), out);
  AppendOptional(t.has_queue_time_ns(), t.queue_time_ns(), out);
  AppendOptional(t.has_inference_time_ns(), t.inference_time_ns(), out);
  AppendOptional(t.has_time_per_token_ns(), t.time_per_token_ns(), out);
  AppendOptional(t.has_validation_time_ns(), t.validation_time_ns(), out);
  AppendOptional(t.has_server_total_time_ns(), t.server_total_time_ns(), out);
  AppendOptional(t.has_prompt_time_ns(), t.prompt_time_ns(), out);
  AppendOptional(t.has_predicted_time_ns(), t.predicted_time_ns(), out);
  AppendOptional(t.has_server_ttft_ns(), t.server_ttft_ns(), out);
  absl::StrAppend(out, r.http_status(), ",", std::string(ErrorClassName(r.error_class())), ",",
                  CsvField(r.error_message()), ",", r.bytes_received(), ",",
                  r.chunk_offsets_dropped(), ",", r.over_max_tokens() ? "true" : "false", ",");
  AppendOptional(r.has_handed_ns(), r.handed_ns(), out);
  AppendOptional(r.has_dispatch_delay_ns(), r.dispatch_delay_ns(), out);
  AppendOptional(r.has_connect_ns(), r.connect_ns(), out);
  // The request's own max_tokens (output lengths from a distribution or a dataset).
  if (r.has_max_tokens_sent()) absl::StrAppend(out, r.max_tokens_sent());
  out->push_back(',');
  // Multi-turn: the session and the turn (0-based); empty otherwise.
  AppendOptional(r.has_session_id(), r.session_id(), out);
  if (r.has_turn_index()) absl::StrAppend(out, r.turn_index());
  out->push_back('\n');
}

std::string RequestsCsv(std::span<const v1::RequestRecord> records) {
  std::string out = RequestsCsvHeader();
  for (const v1::RequestRecord& r : records) AppendRequestCsvRow(r, &out);
  return out;
}

RequestsCsvWriter::RequestsCsvWriter(std::string path, std::FILE* file)
    : path_(std::move(path)), file_(file) {}

RequestsCsvWriter::~RequestsCsvWriter() { (void)Close(); }

absl::StatusOr<std::unique_ptr<RequestsCsvWriter>> RequestsCsvWriter::Open(
    const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  std::unique_ptr<RequestsCsvWriter> writer(new RequestsCsvWriter(path, file));
  writer->buffer_ = RequestsCsvHeader();
  return writer;
}

void RequestsCsvWriter::Append(const v1::RequestRecord& record) {
  if (file_ == nullptr) return;
  AppendRequestCsvRow(record, &buffer_);
  if (buffer_.size() >= kCsvFlushBytes) status_.Update(Flush());
}

absl::Status RequestsCsvWriter::Flush() {
  if (buffer_.empty() || file_ == nullptr) return absl::OkStatus();
  const size_t written = std::fwrite(buffer_.data(), 1, buffer_.size(), file_);
  const bool ok = written == buffer_.size();
  buffer_.clear();
  if (!ok) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path_, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status RequestsCsvWriter::Close() {
  if (file_ == nullptr) return status_;
  status_.Update(Flush());
  if (std::fclose(file_) != 0) {
    status_.Update(
        absl::UnavailableError(absl::StrCat("cannot write ", path_, ": ", std::strerror(errno))));
  }
  file_ = nullptr;
  return status_;
}

namespace {

std::vector<std::string> EngineRow(const std::string& name, const v1::Aggregates& a) {
  std::vector<std::string> row;
  row.push_back(name);
  row.push_back(absl::StrCat(a.requests()));
  row.push_back(a.requests() > 0 ? absl::StrFormat("%.1f", 100.0 * a.success_rate()) : "-");
  row.push_back(a.measured_window_s() > 0 ? absl::StrFormat("%.2f", a.request_throughput())
                                          : "-");
  row.push_back(a.measured_window_s() > 0 ? absl::StrFormat("%.1f", a.output_token_throughput())
                                          : "-");
  auto pct = [&](bool has, const v1::Distribution& d, bool p99) -> std::string {
    if (!has) return "-";
    return absl::StrFormat("%.2f", p99 ? d.p99() : d.p50());
  };
  row.push_back(pct(a.has_ttft_ms(), a.ttft_ms(), false));
  row.push_back(pct(a.has_ttft_ms(), a.ttft_ms(), true));
  row.push_back(pct(a.has_itl_ms(), a.itl_ms(), false));
  row.push_back(pct(a.has_itl_ms(), a.itl_ms(), true));
  row.push_back(pct(a.has_tpot_ms(), a.tpot_ms(), false));
  row.push_back(pct(a.has_e2e_ms(), a.e2e_ms(), false));
  row.push_back(pct(a.has_e2e_ms(), a.e2e_ms(), true));
  row.push_back(a.has_goodput() ? absl::StrFormat("%.2f", a.goodput()) : "-");
  return row;
}

void AppendCostCells(const v1::EngineResult& e, std::vector<std::string>* row) {
  const v1::Cost& c = e.cost();
  auto cell = [&](bool has, double v) {
    return e.has_cost() && has ? absl::StrFormat("%.4g", v) : std::string("-");
  };
  row->push_back(cell(c.has_per_million_output_tokens(), c.per_million_output_tokens()));
  row->push_back(cell(c.has_per_million_total_tokens(), c.per_million_total_tokens()));
  row->push_back(cell(c.has_per_request(), c.per_request()));
}

}  // namespace

std::string ConsoleSummary(const v1::RunResult& result) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"engine", "requests", "ok %", "req/s", "out tok/s", "TTFT p50", "TTFT p99",
                  "ITL p50", "ITL p99", "TPOT p50", "E2E p50", "E2E p99", "goodput"});
  // Cost columns (coordinator/cost.h) only when some engine has a price.
  const bool with_cost = HasAnyCost(result);
  if (with_cost) {
    for (const char* h : {"cost/M out tok", "cost/M tok", "cost/req"}) rows[0].push_back(h);
  }
  // Requests that never ran (engine down, run stopped, workers lost) get a column when any.
  const bool with_not_run = result.overall().requests_not_run() > 0;
  if (with_not_run) rows[0].insert(rows[0].begin() + 2, "not run");
  auto add_row = [&](const std::string& name, const v1::Aggregates& a, const v1::EngineResult& e) {
    rows.push_back(EngineRow(name, a));
    if (with_not_run) rows.back().insert(rows.back().begin() + 2, absl::StrCat(a.requests_not_run()));
    if (with_cost) AppendCostCells(e, &rows.back());
  };
  for (const v1::EngineResult& e : result.engines()) add_row(e.engine(), e.aggregates(), e);
  // A combined row means something only when the engines ran at the same time: one after
  // another, its percentiles would pool different engines and its rates would average over
  // the gaps between them.
  const bool side_by_side = result.scenario().load().side_by_side();
  if (result.engines_size() == 0 || (result.engines_size() > 1 && side_by_side)) {
    add_row("all", result.overall(), v1::EngineResult());
  }

  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  auto append_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      const std::string pad(widths[i] - row[i].size(), ' ');
      line += i == 0 ? row[i] + pad : pad + row[i];  // names left, numbers right
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  };
  append_row(rows[0]);
  size_t total = 0;
  for (size_t w : widths) total += w;
  total += 2 * (widths.size() - 1);
  absl::StrAppend(&out, std::string(total, '-'), "\n");
  for (size_t i = 1; i < rows.size(); ++i) append_row(rows[i]);
  absl::StrAppend(&out, "(latencies in ms; req/s and goodput in requests/s",
                  with_cost ? "; cost in the price's currency" : "", ")\n");
  if (result.engines_size() > 1 && !side_by_side) {
    absl::StrAppend(&out,
                    "(engines ran one after another: each row is over its own window; no "
                    "combined row)\n");
  }
  absl::StrAppend(&out, SweepTable(result));

  absl::StrAppend(&out, WorkloadSummaryLines(result));  // lengths, tags, GPU metrics
  const v1::Aggregates& overall = result.overall();
  if (overall.has_schedule_lateness_ms()) {
    absl::StrAppend(&out,
                    absl::StrFormat("schedule lateness p99 %.3f ms; TTFT from schedule p99 %s ms\n",
                                    overall.schedule_lateness_ms().p99(),
                                    overall.has_ttft_from_schedule_ms()
                                        ? absl::StrFormat("%.2f",
                                                          overall.ttft_from_schedule_ms().p99())
                                        : "-"));
  }
  if (overall.has_dispatch_delay_ms()) {
    std::string line = absl::StrFormat("client: dispatch delay p50 %.3f ms, p99 %.3f ms",
                                       overall.dispatch_delay_ms().p50(),
                                       overall.dispatch_delay_ms().p99());
    if (overall.has_busiest_loop_window()) {
      const v1::LoopWindow& w = overall.busiest_loop_window();
      absl::StrAppendFormat(&line, "; busiest loop second: %s loop %d at %.0f s, CPU %.0f%%",
                            w.worker_id(), w.loop(), w.t_s(), 100 * w.cpu());
      if (w.has_runq_wait()) {
        absl::StrAppendFormat(&line, " + waiting for a CPU %.0f%%", 100 * w.runq_wait());
      }
    }
    absl::StrAppend(&out, line, "\n");
  }
  for (const v1::ErrorCount& e : overall.errors()) {
    std::string example = e.example_message();
    for (char& c : example) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    // Engine text: escape control characters so that it cannot drive the terminal.
    absl::StrAppend(&out, "errors: ", e.error_class(), " x", e.count(), " (e.g. \"",
                    EscapeControlCharacters(example), "\")\n");
  }
  absl::StrAppend(&out, "verdict: ", VerdictName(result.verdict().state()), "\n");
  // Reasons and warnings may quote workers' and engines' messages.
  for (const std::string& reason : result.verdict().reasons()) {
    absl::StrAppend(&out, "  - ", EscapeControlCharacters(reason), "\n");
  }
  for (const std::string& crossed : result.verdict().thresholds_crossed()) {
    absl::StrAppend(&out, "  THRESHOLD CROSSED: ", EscapeControlCharacters(crossed), "\n");
  }
  for (const std::string& warning : result.verdict().warnings()) {
    absl::StrAppend(&out, "  warning: ", EscapeControlCharacters(warning), "\n");
  }
  return out;
}

int ExitStatusFor(const v1::RunResult& result, const v1::Thresholds& thresholds,
                  std::string* reason) {
  const v1::Verdict& stored = result.verdict();
  if (stored.has_exit_status()) {
    if (reason != nullptr) *reason = stored.exit_reason();
    return stored.exit_status();
  }
  // Written before verdicts carried their exit status: judge again from the stored state and
  // the thresholds (a result from an older llmbench has no thresholds_crossed).
  v1::Verdict verdict = stored;
  verdict.clear_thresholds_crossed();
  for (std::string& crossed : ThresholdsCrossed(result, thresholds)) {
    verdict.add_thresholds_crossed(std::move(crossed));
  }
  return ExitStatusForVerdict(verdict, 0, reason);
}

}  // namespace llmbench::coordinator

