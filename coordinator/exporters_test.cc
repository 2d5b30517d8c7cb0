#include "coordinator/exporters.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/aggregate.h"
#include "coordinator/diff.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

constexpr int64_t kMs = 1'000'000;  // ns

std::string GoldenPath(const std::string& name) {
  return std::string(LLMBENCH_SOURCE_DIR) + "/tests/golden/" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Compares `actual` with the golden file byte for byte. LLMBENCH_UPDATE_GOLDEN=1 rewrites
// the golden instead (then review `git diff tests/golden`).
void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = GoldenPath(name);
  if (const char* update = std::getenv("LLMBENCH_UPDATE_GOLDEN"); update && *update == '1') {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << actual;
    GTEST_SKIP() << "rewrote " << path;
  }
  const std::string expected = ReadFile(path);
  if (expected == actual) return;
  // Diff hint: the first differing line.
  std::istringstream e(expected), a(actual);
  std::string el, al;
  int line = 0;
  while (true) {
    ++line;
    const bool more_e = static_cast<bool>(std::getline(e, el));
    const bool more_a = static_cast<bool>(std::getline(a, al));
    if (!more_e && !more_a) break;
    if (!more_e) el = "<end of file>";
    if (!more_a) al = "<end of output>";
    if (el != al || !more_e || !more_a) break;
  }
  ADD_FAILURE() << path << " differs at line " << line << ":\n  golden: " << el
                << "\n  actual: " << al
                << "\nIf the change is intended, rerun with LLMBENCH_UPDATE_GOLDEN=1 and review "
                   "`git diff tests/golden`.";
}

v1::RequestRecord Record(uint64_t id, const std::string& worker, const std::string& engine,
                         int64_t scheduled, int64_t sent, std::vector<int64_t> offsets,
                         int64_t end, uint32_t output_tokens) {
  v1::RequestRecord r;
  r.set_request_id(id);
  r.set_shard_index(worker == "w1" ? 0 : 1);
  r.set_worker_id(worker);
  r.set_engine(engine);
  r.set_prompt_index(static_cast<uint32_t>(id % 3));
  r.set_scheduled_ns(scheduled);
  r.set_sent_ns(sent);
  if (!offsets.empty()) r.set_first_token_ns(sent + offsets[0]);
  r.set_end_ns(end);
  for (int64_t o : offsets) r.add_chunk_offsets_ns(o);
  r.set_content_chunks(static_cast<uint32_t>(offsets.size()));
  r.set_output_tokens(output_tokens);
  r.set_output_tokens_reported(output_tokens);
  r.set_output_token_source(v1::TOKEN_SOURCE_ENGINE);
  r.set_input_tokens(128);
  r.set_prompt_tokens_sent(128);
  r.set_finish_reason("length");
  r.set_http_status(200);
  r.set_bytes_received(1000 + id);
  return r;
}

// A fixed two-engine, two-worker, open-loop run with SLOs and every kind of CSV field.
std::vector<v1::RequestRecord> GoldenRecords() {
  std::vector<v1::RequestRecord> records;
  v1::RequestRecord warm = Record(0, "w1", "vllm", 0, 0, {20 * kMs, 30 * kMs}, 40 * kMs, 2);
  warm.set_warmup(true);
  records.push_back(warm);
  records.push_back(Record(1, "w1", "vllm", 100 * kMs, 100'200'000,
                           {12 * kMs, 20 * kMs, 29 * kMs, 37 * kMs}, 140 * kMs, 4));
  records.push_back(Record(2, "w2", "vllm", 150 * kMs, 150'100'000,
                           {15 * kMs, 24 * kMs, 31 * kMs}, 185 * kMs, 3));
  v1::RequestRecord ollama = Record(3, "w1", "ollama", 200 * kMs, 200'300'000,
                                    {30 * kMs, 45 * kMs, 61 * kMs}, 265 * kMs, 3);
  ollama.clear_output_tokens_reported();
  ollama.set_output_token_source(v1::TOKEN_SOURCE_CHUNKS);
  ollama.mutable_engine_timings()->set_load_duration_ns(1'500'000);
  ollama.mutable_engine_timings()->set_prompt_eval_duration_ns(25'000'000);
  ollama.mutable_engine_timings()->set_eval_duration_ns(30'000'000);
  ollama.mutable_engine_timings()->set_eval_count(3);
  ollama.set_finish_reason("stop");
  records.push_back(ollama);
  records.push_back(Record(4, "w2", "ollama", 250 * kMs, 250'400'000,
                           {60 * kMs, 80 * kMs, 95 * kMs, 121 * kMs, 140 * kMs}, 391 * kMs, 5));
  v1::RequestRecord failed = Record(5, "w2", "ollama", 300 * kMs, 300'200'000, {}, 305 * kMs, 0);
  failed.clear_first_token_ns();
  failed.clear_input_tokens();
  failed.clear_output_tokens_reported();
  failed.set_finish_reason("");
  failed.set_http_status(500);
  failed.set_error_class(v1::ERROR_CLASS_HTTP_5XX);
  failed.set_error_message("upstream said \"no\", then\nclosed");
  records.push_back(failed);
  v1::RequestRecord broken =
      Record(6, "w1", "vllm", 320 * kMs, 320'100'000, {14 * kMs}, 340 * kMs, 1);
  broken.set_error_class(v1::ERROR_CLASS_STREAM_BROKEN);
  broken.set_error_message("EOF before [DONE], after 1 chunk");
  records.push_back(broken);
  return records;
}

v1::RunResult GoldenResult() {
  v1::Scenario scenario;
  scenario.set_name("golden");
  scenario.add_engines()->set_name("vllm");
  scenario.add_engines()->set_name("ollama");
  scenario.mutable_slo()->set_ttft_ms(50);
  scenario.mutable_slo()->set_e2e_ms(100);
  scenario.mutable_load()->mutable_rate()->set_rps(20);

  Aggregator agg(scenario.slo());
  for (const v1::RequestRecord& r : GoldenRecords()) agg.Add(r);
  FinishOptions options;
  options.engine_names = {"vllm", "ollama"};
  WorkerReport w1;
  w1.worker_id = "w1";
  w1.address = "127.0.0.1:7101";
  w1.cpu_utilization = 0.125;
  WorkerReport w2;
  w2.worker_id = "w2";
  w2.address = "127.0.0.1:7102";
  w2.cpu_utilization = 0.25;
  options.workers = {w1, w2};
  v1::RunResult result = agg.Finish(options);
  result.set_run_id("20240101-000000-golden");
  result.set_llmbench_version("0.0.0-test");
  *result.mutable_scenario() = scenario;
  result.set_started_unix_ns(1'704'067'200'000'000'000);
  result.set_finished_unix_ns(1'704'067'201'000'000'000);
  return result;
}

TEST(ExportersTest, SummaryJsonMatchesGolden) {
  absl::StatusOr<std::string> json = SummaryJson(GoldenResult());
  ASSERT_TRUE(json.ok()) << json.status();
  ExpectGolden("summary.json", *json);
}

TEST(ExportersTest, RequestsCsvMatchesGolden) {
  ExpectGolden("requests.csv", RequestsCsv(GoldenRecords()));
}

TEST(ExportersTest, ConsoleSummaryMatchesGolden) {
  ExpectGolden("console.txt", ConsoleSummary(GoldenResult()));
}

TEST(ExportersTest, ConsoleSummaryOfOneEngineHasNoAllRowAndShowsReasons) {
  Aggregator agg;
  v1::RequestRecord r;
  r.set_worker_id("w1");
  r.set_engine("sim");
  r.set_sent_ns(0);
  r.set_end_ns(2 * kMs);
  agg.Add(r);
  FinishOptions options;
  WorkerReport w;
  w.worker_id = "w1";
  w.failed = true;
  w.failure = "connection reset";
  options.workers = {w};
  const std::string text = ConsoleSummary(agg.Finish(options));
  EXPECT_EQ(text,
            std::string("engine  requests   ok %   req/s  out tok/s  TTFT p50  TTFT p99  ITL p50  "
                        "ITL p99  TPOT p50  E2E p50  E2E p99  goodput\n") +
            std::string(117, '-') + "\n" +
            "sim            1  100.0  500.00        0.0         -         -        -        -  "
            "       -     2.00     2.00        -\n"
            "(latencies in ms; req/s and goodput in requests/s)\n"
            "verdict: DEGRADED\n"
            "  - worker w1 failed: connection reset\n");
}

TEST(ExportersTest, ConsoleSummaryEscapesControlCharactersOfEngineText) {
  Aggregator agg;
  v1::RequestRecord r;
  r.set_worker_id("w1");
  r.set_engine("sim");
  r.set_sent_ns(0);
  r.set_end_ns(2 * kMs);
  r.set_http_status(500);
  r.set_error_class(v1::ERROR_CLASS_HTTP_5XX);
  r.set_error_message("boom\x1b[2J\x1b]0;owned\x07\xc2\x9b" "31mred");
  agg.Add(r);
  FinishOptions options;
  WorkerReport w;
  w.worker_id = "w1";
  w.failed = true;
  w.failure = "lost\x1b[1A";
  options.workers = {w};
  const std::string text = ConsoleSummary(agg.Finish(options));
  EXPECT_NE(text.find("(e.g. \"boom\\x1b[2J\\x1b]0;owned\\x07\\u009b31mred\")\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  - worker w1 failed: lost\\x1b[1A\n"), std::string::npos) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
}

TEST(ExportersTest, CsvRowLeavesAbsentOptionalsEmpty) {
  v1::RequestRecord r;
  r.set_request_id(7);
  r.set_worker_id("w,1");
  r.set_engine("vllm");
  r.set_sent_ns(5);
  r.set_end_ns(9);
  r.set_error_class(v1::ERROR_CLASS_CONNECT);
  r.set_error_message("refused");
  std::string row;
  AppendRequestCsvRow(r, &row);
  EXPECT_EQ(row,
            "7,0,\"w,1\",vllm,0,false,,5,,9,,0,,,0,unspecified,,,,,,,,,,,,,,,,,0,connect,refused,0,"
            "0,false,,,,,,\n");
  // Same column count as the header.
  const std::string header = RequestsCsvHeader();
  EXPECT_EQ(std::count(header.begin(), header.end(), ','), 43);
  EXPECT_EQ(std::count(row.begin(), row.end(), ','), 43 + 1);  // + the comma inside "w,1"
  // Dispatch delay and connection set-up when the request was sent.
  r.set_handed_ns(3);
  r.set_dispatch_delay_ns(2);
  r.set_connect_ns(1);
  row.clear();
  AppendRequestCsvRow(r, &row);
  EXPECT_TRUE(row.ends_with(",refused,0,0,false,3,2,1,,,\n")) << row;
  // The request's own max_tokens (issue 17).
  r.set_max_tokens_sent(64);
  row.clear();
  AppendRequestCsvRow(r, &row);
  EXPECT_TRUE(row.ends_with(",refused,0,0,false,3,2,1,64,,\n")) << row;
  // Multi-turn: the session and the turn index (issue 17).
  r.set_session_id(3);
  r.set_turn_index(2);
  row.clear();
  AppendRequestCsvRow(r, &row);
  EXPECT_TRUE(row.ends_with(",refused,0,0,false,3,2,1,64,3,2\n")) << row;
}

TEST(ExportersTest, RequestsCsvWriterStreamsTheSameBytes) {
  const std::string path = testing::TempDir() + "/exporters_test_requests.csv";
  absl::StatusOr<std::unique_ptr<RequestsCsvWriter>> writer = RequestsCsvWriter::Open(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  const std::vector<v1::RequestRecord> records = GoldenRecords();
  for (const auto& r : records) (*writer)->Append(r);
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_TRUE((*writer)->Close().ok());  // idempotent
  EXPECT_EQ(ReadFile(path), RequestsCsv(records));
  std::filesystem::remove(path);
}

TEST(ExportersTest, RequestsCsvWriterNamesTheFileItCannotOpen) {
  absl::StatusOr<std::unique_ptr<RequestsCsvWriter>> writer =
      RequestsCsvWriter::Open("/nonexistent-dir/requests.csv");
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(writer.status().message(),
            "cannot write /nonexistent-dir/requests.csv: No such file or directory");
}

TEST(ExportersTest, WriteAndLoadRunResultRoundTrip) {
  const std::string dir = testing::TempDir() + "/exporters_test_run";
  std::filesystem::remove_all(dir);
  const v1::RunResult result = GoldenResult();
  ASSERT_TRUE(WriteRunResults(dir, result, "name: golden\n").ok());
  EXPECT_EQ(ReadFile(dir + "/scenario.yaml"), "name: golden\n");
  absl::StatusOr<v1::RunResult> loaded = LoadRunResult(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(result, *loaded)) << diff;
  std::filesystem::remove_all(dir);
}

TEST(ExportersTest, LoadRunResultErrorsNameThePath) {
  const std::string dir = testing::TempDir() + "/exporters_test_missing";
  std::filesystem::remove_all(dir);
  absl::StatusOr<v1::RunResult> missing = LoadRunResult(dir);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "cannot read " + dir + "/summary.json: No such file or directory");

  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/summary.json") << "{\"run_id\": 12, ";
  absl::StatusOr<v1::RunResult> bad = LoadRunResult(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), dir +
                                        "/summary.json: not a llmbench summary: Unexpected end "
                                        "of string. Expected an object key or }.");
  std::filesystem::remove_all(dir);
}

v1::RunResult ResultWith(uint64_t requests, uint64_t failures, v1::Verdict::State state,
                         uint64_t not_run = 0) {
  v1::RunResult r;
  v1::Aggregates* a = r.add_engines()->mutable_aggregates();
  r.mutable_engines(0)->set_engine("e");
  a->set_requests(requests);
  a->set_failures(failures);
  a->set_successes(requests - failures);
  a->set_requests_not_run(not_run);
  *r.mutable_overall() = *a;
  r.mutable_verdict()->set_state(state);
  if (state == v1::Verdict::STATE_INVALID) r.mutable_verdict()->add_reasons("worker w1 is slow");
  return r;
}

// A stored result without an exit status (an older llmbench) is judged again from its state and
// the thresholds; the default max_error_rate (5%) applies when the scenario has none.
TEST(ExportersTest, ExitStatusesJudgedFromAStoredResult) {
  v1::Thresholds thresholds;
  std::string reason = "stale";
  EXPECT_EQ(ExitStatusFor(ResultWith(100, 5, v1::Verdict::STATE_VALID), thresholds, &reason),
            kExitOk);
  EXPECT_EQ(reason, "");  // 5% is at the default threshold, not over it
  EXPECT_EQ(ExitStatusFor(ResultWith(100, 6, v1::Verdict::STATE_VALID), thresholds, &reason),
            kExitThresholds);
  EXPECT_EQ(reason,
            "threshold crossed: engine e: error rate 6.00% (6 failed, of 100) > max_error_rate "
            "5.00%");

  thresholds.set_max_error_rate(0.25);
  EXPECT_EQ(ExitStatusFor(ResultWith(4, 1, v1::Verdict::STATE_DEGRADED), thresholds, &reason),
            kExitOk);  // at the threshold is not over it; DEGRADED is not a failure
  EXPECT_EQ(reason, "");
  // Requests that never ran count like failures.
  EXPECT_EQ(ExitStatusFor(ResultWith(3, 0, v1::Verdict::STATE_DEGRADED, 1), thresholds, &reason),
            kExitOk);
  EXPECT_EQ(ExitStatusFor(ResultWith(2, 0, v1::Verdict::STATE_DEGRADED, 2), thresholds, &reason),
            kExitThresholds);
  EXPECT_EQ(reason,
            "threshold crossed: engine e: error rate 50.00% (0 failed, 2 never ran, of 4) > "
            "max_error_rate 25.00%");

  thresholds.set_max_error_rate(0.1);
  EXPECT_EQ(ExitStatusFor(ResultWith(4, 0, v1::Verdict::STATE_INVALID), thresholds, &reason),
            kExitInvalid);
  EXPECT_EQ(reason, "the run is INVALID: worker w1 is slow");
  // INVALID wins over a crossed threshold.
  EXPECT_EQ(ExitStatusFor(ResultWith(4, 2, v1::Verdict::STATE_INVALID), thresholds, nullptr),
            kExitInvalid);
  // Nothing measured never passes.
  EXPECT_EQ(ExitStatusFor(ResultWith(0, 0, v1::Verdict::STATE_VALID), thresholds, &reason),
            kExitThresholds);
  EXPECT_EQ(reason, "threshold crossed: engine e: no request was measured");
}

// A result that carries its exit status (every result since) is not judged again.
TEST(ExportersTest, StoredExitStatusWins) {
  v1::RunResult r = ResultWith(10, 0, v1::Verdict::STATE_ENGINE_DOWN);
  r.mutable_verdict()->set_exit_status(kExitEngineDown);
  r.mutable_verdict()->set_exit_reason("ENGINE_DOWN: engine e unreachable");
  std::string reason;
  EXPECT_EQ(ExitStatusFor(r, v1::Thresholds(), &reason), kExitEngineDown);
  EXPECT_EQ(reason, "ENGINE_DOWN: engine e unreachable");
}

// docs/cli.md's "Exit status" table lists exactly the statuses the code returns.
TEST(ExportersTest, DocumentedExitStatusesMatchTheCode) {
  std::ifstream in(std::string(LLMBENCH_SOURCE_DIR) + "/docs/cli.md");
  ASSERT_TRUE(in) << "docs/cli.md";
  std::string line;
  bool in_table = false;
  std::vector<std::string> documented;
  while (std::getline(in, line)) {
    if (line == "## Exit status") {
      in_table = true;
      continue;
    }
    if (in_table && line.starts_with("## ")) break;
    if (!in_table || !line.starts_with("| ") || line.starts_with("| status") ||
        line.starts_with("|---")) {
      continue;
    }
    documented.push_back(line.substr(2, line.find(" |", 2) - 2));
  }
  const std::vector<std::string> expected = {
      absl::StrCat(kExitOk), "1", "2", absl::StrCat(kExitThresholds), absl::StrCat(kExitInvalid),
      absl::StrCat(kExitRegression), absl::StrCat(kExitEngineDown), "7", "128+N"};
  EXPECT_EQ(documented, expected);
}

}  // namespace
}  // namespace llmbench::coordinator
