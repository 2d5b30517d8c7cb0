// worker_bench: measures the worker's load engine (ShardRunner, no gRPC) against an engine
// (normally llmbench-sim on loopback): streamed token events/s, non-streaming requests/s, CPU
// time per token and per request, memory per concurrent stream and open-loop lateness.
// A plain executable, not a test: bench/worker/run.sh drives it; see bench/README.md, "Worker".
//
// Modes (--mode):
//   stream-events       closed loop, streaming: events/s = content chunks of all records / wall.
//   nonstream           closed loop, non-streaming: requests/s.
//   concurrent-streams  closed loop with --concurrency streams held open (the engine must be
//                       slow, e.g. llmbench-sim --itl-ms 1000): once every stream is in flight
//                       (and, with --sim-metrics, the sim's llmbench_sim_running gauge agrees),
//                       samples RSS, reports (RSS - idle RSS) / streams, then cancels.
//   lateness            open loop at --rate: lateness (sent - scheduled) p50/p99/max, and
//                       its split (ShardRunnerOptions::dispatch_trace): kernel wake-up
//                       (the loop woke after the arrival was due), loop busy (the loop was
//                       still running earlier work when it fell due) and processing (from the
//                       wake-up until curl handed the request to the socket), the latter
//                       split into the loop thread's CPU time and time it was not running.
//   timer-baseline      no requests: one EventLoop on this thread with a timer per arrival of
//                       the same --rate Poisson schedule, reporting wake-up - scheduled. The
//                       lateness this machine gives any epoll + timerfd loop, for comparison.
// --print-request prints the HTTP method, path and body the worker sends and exits (run.sh
// feeds the same body to wrk).
//
// Output: one "key value" line per measurement (machine-readable; run.sh greps them).
#include <curl/curl.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <unordered_map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/stats.h"
#include "engines/curl_handles.h"
#include "engines/engine_protocol.h"
#include "llmbench/v1/record.pb.h"
#include "llmbench/v1/scenario.pb.h"
#include "llmbench/v1/worker.pb.h"
#include "proto/wire/load_profile.h"
#include "worker/curl_transport.h"
#include "worker/event_loop.h"
#include "worker/shard_runner.h"

namespace llmbench::worker {
namespace {

using engines::CurlEasyPtr;
using engines::EngineProtocol;
using engines::MakeEngineProtocol;
using wire::ArrivalSchedule;
using wire::MakeArrivalSchedule;

struct BenchOptions {
  std::string mode = "stream-events";
  std::string url;
  std::string kind = "vllm";
  std::string api = "completions";
  std::string model = "sim-model";
  uint32_t concurrency = 64;
  double rate = 2000;
  uint64_t requests = 0;
  double duration_s = 10;
  double warmup_s = 1;
  uint32_t max_tokens = 0;  // 0 = mode default
  std::optional<bool> stream;
  uint32_t loop_threads = 1;
  std::string sim_metrics_url;
  double hold_timeout_s = 120;
  double hold_s = 5;
  bool print_request = false;
  size_t drain_batch = 256;  // records the consumer waits for (the gRPC service's default)
  int64_t timer_slack_ns = -1;  // timer-baseline: prctl(PR_SET_TIMERSLACK) first (-1 = leave)
};

// A "VmRSS:" / "VmHWM:" field of /proc/self/status in KiB; -1 when unreadable.
int64_t ProcStatusKib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      std::istringstream fields(line.substr(field.size() + 1));
      int64_t kib = -1;
      fields >> kib;
      return kib;
    }
  }
  return -1;
}

// Run-queue wait of this process: the sum over its threads of the time they were runnable but
// not running (/proc/self/task/*/schedstat, field 2, ns). Sampled repeatedly so that threads
// which have exited still count with their last value.
class RunQueueWait {
 public:
  void Sample() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task", ec)) {
      std::ifstream in(entry.path() / "schedstat");
      uint64_t run_ns = 0, wait_ns = 0;
      if (in >> run_ns >> wait_ns) last_[entry.path().filename().string()] = wait_ns;
    }
  }
  double Seconds() const {
    uint64_t sum = 0;
    for (const auto& [tid, wait_ns] : last_) sum += wait_ns;
    return static_cast<double>(sum) / 1e9;
  }

 private:
  std::map<std::string, uint64_t> last_;
};

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

size_t AppendToString(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// Sum of the samples of one Prometheus family at `url` (blocking GET); nullopt on failure.
std::optional<double> FetchMetric(const std::string& url, const std::string& name) {
  CurlEasyPtr easy(curl_easy_init());
  if (easy == nullptr) return std::nullopt;
  std::string body;
  curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy.get(), CURLOPT_NOPROXY, "*");
  curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION, &AppendToString);
  curl_easy_setopt(easy.get(), CURLOPT_WRITEDATA, &body);
  if (curl_easy_perform(easy.get()) != CURLE_OK) return std::nullopt;
  std::istringstream lines(body);
  std::string line;
  double sum = 0;
  bool found = false;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    const std::string key = line.substr(0, space);
    if (key != name && key.rfind(name + "{", 0) != 0) continue;
    try {
      sum += std::stod(line.substr(space + 1));
      found = true;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (!found) return std::nullopt;
  return sum;
}

absl::StatusOr<llmbench::v1::Shard> MakeShard(const BenchOptions& o) {
  llmbench::v1::Shard shard;
  shard.set_run_id("worker-bench");
  shard.set_shard_count(1);
  llmbench::v1::Engine* engine = shard.mutable_engine();
  engine->set_name(o.kind);
  engine->set_base_url(o.url);
  engine->set_model(o.model);
  if (o.kind == "vllm") {
    engine->set_kind(llmbench::v1::ENGINE_KIND_VLLM);
  } else if (o.kind == "ollama") {
    engine->set_kind(llmbench::v1::ENGINE_KIND_OLLAMA);
  } else if (o.kind == "tgi") {
    engine->set_kind(llmbench::v1::ENGINE_KIND_TGI);
  } else if (o.kind == "openai") {
    engine->set_kind(llmbench::v1::ENGINE_KIND_OPENAI);
  } else {
    return absl::InvalidArgumentError("--kind must be vllm, ollama, tgi or openai, got '" +
                                      o.kind + "'");
  }
  if (o.api == "default") {
    engine->set_api(llmbench::v1::API_UNSPECIFIED);
  } else if (o.api == "completions") {
    engine->set_api(llmbench::v1::API_COMPLETIONS);
  } else if (o.api == "chat") {
    engine->set_api(llmbench::v1::API_CHAT_COMPLETIONS);
  } else if (o.api == "ollama-generate") {
    engine->set_api(llmbench::v1::API_OLLAMA_GENERATE);
  } else if (o.api == "tgi-generate") {
    engine->set_api(llmbench::v1::API_TGI_GENERATE);
  } else {
    return absl::InvalidArgumentError(
        "--api must be default, completions, chat, ollama-generate or tgi-generate, got '" +
        o.api + "'");
  }
  engine->mutable_timeouts()->set_connect_ms(60000);
  engine->mutable_timeouts()->set_first_byte_ms(600000);
  engine->mutable_timeouts()->set_total_ms(3600000);

  const bool concurrent = o.mode == "concurrent-streams";
  const bool stream = o.stream.value_or(o.mode != "nonstream");
  uint32_t max_tokens = o.max_tokens;
  if (max_tokens == 0) max_tokens = concurrent ? 100000 : (o.mode == "stream-events" ? 256 : 16);
  llmbench::v1::Generation* gen = shard.mutable_generation();
  gen->set_max_tokens(max_tokens);
  gen->set_ignore_eos(true);
  gen->set_stream(stream);
  gen->set_temperature(0);

  llmbench::v1::Prompt* prompt = shard.add_prompts();
  prompt->set_text("benchmark prompt with eight words in it");
  prompt->set_approx_tokens(8);

  llmbench::v1::ShardLoad* load = shard.mutable_load();
  load->set_seed(1);
  if (o.mode == "lateness") {
    if (!(o.rate > 0)) return absl::InvalidArgumentError("--rate must be > 0");
    load->mutable_rate()->set_rps(o.rate);
    load->mutable_rate()->set_arrival(llmbench::v1::ARRIVAL_POISSON);
  } else {
    load->mutable_concurrency()->set_concurrency(o.concurrency);
  }
  if (concurrent) {
    // Held until measured, then cancelled; the duration only bounds dispatch.
    shard.set_duration_seconds(3600);
  } else if (o.requests > 0) {
    for (uint64_t i = 0; i < o.requests; ++i) shard.add_request_ids(i);
  } else {
    if (!(o.duration_s > 0)) return absl::InvalidArgumentError("--duration must be > 0");
    shard.set_duration_seconds(o.duration_s);
    shard.set_warmup_seconds(o.warmup_s);
  }
  return shard;
}

// Everything the bench learns from the records.
struct RecordTotals {
  uint64_t records = 0;
  uint64_t measured = 0;  // not warm-up
  uint64_t ok = 0;
  uint64_t content_chunks = 0;
  uint64_t output_tokens = 0;
  std::map<int, uint64_t> errors;  // error class → count
  std::string first_error;
  std::vector<double> lateness_ms;  // measured open-loop records
  std::vector<double> lateness_all_ms;
  std::vector<std::pair<int64_t, int64_t>> late_ns;  // (scheduled, lateness) over 1 ms
  std::unordered_map<uint64_t, int64_t> sent_by_id;  // measured open-loop records: sent_ns

  void Add(const llmbench::v1::RequestRecord& r) {
    ++records;
    if (!r.warmup()) ++measured;
    content_chunks += r.content_chunks();
    output_tokens += r.output_tokens();
    if (r.error_class() == llmbench::v1::ERROR_CLASS_NONE) {
      ++ok;
    } else {
      ++errors[r.error_class()];
      if (first_error.empty()) {
        first_error = llmbench::v1::ErrorClass_Name(r.error_class()) + ": " + r.error_message();
      }
    }
    if (r.has_scheduled_ns()) {
      const double late_ms = static_cast<double>(r.sent_ns() - r.scheduled_ns()) / 1e6;
      lateness_all_ms.push_back(late_ms);
      if (!r.warmup()) {
        lateness_ms.push_back(late_ms);
        sent_by_id.emplace(r.request_id(), r.sent_ns());
      }
      if (late_ms > 1.0) late_ns.emplace_back(r.scheduled_ns(), r.sent_ns() - r.scheduled_ns());
    }
  }
};

// Dispatch traces of the open loop, appended on the loop thread.
class TraceLog {
 public:
  void Reserve(size_t n) { traces_.reserve(n); }
  void Add(const DispatchTrace& t) {
    std::lock_guard<std::mutex> lock(mu_);
    traces_.push_back(t);
  }
  std::vector<DispatchTrace> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(traces_);
  }

 private:
  std::mutex mu_;
  std::vector<DispatchTrace> traces_;
};

void Print(const std::string& key, double value, int precision = 0) {
  std::printf("%s %.*f\n", key.c_str(), precision, value);
}

void PrintLateness(const std::string& prefix, std::vector<double>& values) {
  const std::optional<SummaryStats> s = Summarize(values);
  if (!s.has_value()) return;
  Print(prefix + "_count", static_cast<double>(s->count));
  Print(prefix + "_p50_ms", s->p50, 3);
  Print(prefix + "_p99_ms", s->p99, 3);
  Print(prefix + "_p999_ms", s->p999, 3);
  Print(prefix + "_max_ms", s->max, 3);
}

// Lateness split (see the file comment) over the measured arrivals: every component's
// p50/p99/max, and for the late ones (lateness > 1 ms) each component's share of their total
// lateness and how many of them each component dominated. Processing (sent - wake) is split
// further with the loop thread's CPU time: "worker_cpu" is at most the CPU the thread ran
// between the wake-up and the send (min(processing, CPU from wake-up to the batch's flush):
// an upper bound, so the worker is never under-charged), "not_running" the rest (preempted,
// interrupted or waiting for the CPU).
void PrintLatenessSplit(const std::vector<DispatchTrace>& traces,
                        const std::unordered_map<uint64_t, int64_t>& sent_by_id) {
  constexpr int kParts = 4;
  const char* const names[kParts] = {"kernel_wake", "loop_busy", "worker_cpu", "not_running"};
  std::vector<double> values[kParts];
  std::vector<double> processing_ms;
  double late_sum[kParts] = {};
  uint64_t late = 0;
  uint64_t late_mostly[kParts] = {};
  for (const DispatchTrace& t : traces) {
    auto it = sent_by_id.find(t.request_id);
    if (it == sent_by_id.end()) continue;  // warm-up, or not recorded
    const int64_t sent = it->second;
    const int64_t processing = std::max<int64_t>(0, sent - t.wake_ns);
    const int64_t cpu = std::min(processing, t.turn_cpu_ns);
    const int64_t part[kParts] = {
        std::max<int64_t>(0, t.wake_ns - std::max(t.scheduled_ns, t.wait_start_ns)),
        std::max<int64_t>(0, std::min(t.wait_start_ns, t.wake_ns) - t.scheduled_ns),
        cpu,
        processing - cpu,
    };
    processing_ms.push_back(static_cast<double>(processing) / 1e6);
    for (int i = 0; i < kParts; ++i) values[i].push_back(static_cast<double>(part[i]) / 1e6);
    if (sent - t.scheduled_ns > 1'000'000) {
      ++late;
      int most = 0;
      for (int i = 0; i < kParts; ++i) {
        late_sum[i] += static_cast<double>(part[i]) / 1e6;
        if (part[i] > part[most]) most = i;
      }
      ++late_mostly[most];
    }
  }
  Print("split_arrivals", static_cast<double>(processing_ms.size()));
  for (int i = 0; i <= kParts; ++i) {
    std::vector<double>& v = i < kParts ? values[i] : processing_ms;
    const std::optional<SummaryStats> s = Summarize(v);
    if (!s.has_value()) continue;
    const std::string prefix = std::string("split_") + (i < kParts ? names[i] : "processing");
    Print(prefix + "_p50_ms", s->p50, 3);
    Print(prefix + "_p99_ms", s->p99, 3);
    Print(prefix + "_max_ms", s->max, 3);
  }
  Print("late_arrivals", static_cast<double>(late));
  if (late > 0) {
    double total = 0;
    for (double v : late_sum) total += v;
    for (int i = 0; i < kParts; ++i) {
      Print(std::string("late_") + names[i] + "_share", total > 0 ? late_sum[i] / total : 0, 3);
    }
    for (int i = 0; i < kParts; ++i) {
      Print(std::string("late_mostly_") + names[i], static_cast<double>(late_mostly[i]));
    }
  }
}

// timer-baseline: the lateness of an idle EventLoop's timers on the same schedule.
int RunTimerBaseline(const BenchOptions& o) {
  if (o.timer_slack_ns >= 0 &&
      ::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(o.timer_slack_ns), 0, 0, 0) != 0) {
    std::perror("worker_bench: prctl(PR_SET_TIMERSLACK)");
    return 1;
  }
  llmbench::v1::RateLoad rate;
  rate.set_rps(o.rate);
  rate.set_arrival(llmbench::v1::ARRIVAL_POISSON);
  absl::StatusOr<std::unique_ptr<ArrivalSchedule>> schedule = MakeArrivalSchedule(rate, 1);
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  if (!schedule.ok() || !loop.ok()) {
    std::cerr << "worker_bench: " << (schedule.ok() ? loop.status() : schedule.status()) << "\n";
    return 2;
  }
  std::printf("mode timer-baseline\n");
  Print("rate_rps", o.rate, 1);
  Print("timer_slack_ns", static_cast<double>(::prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)));
  const int64_t epoch = EventLoop::MonotonicNowNs() + 10'000'000;
  const int64_t warmup_end = static_cast<int64_t>(o.warmup_s * 1e9);
  const int64_t end = static_cast<int64_t>((o.warmup_s + o.duration_s) * 1e9);
  std::vector<double> late_ms, kernel_ms;
  late_ms.reserve(static_cast<size_t>(o.rate * o.duration_s * 1.2) + 16);
  kernel_ms.reserve(late_ms.capacity());
  int64_t scheduled = (*schedule)->Next();
  bool done = false;
  std::function<void()> fire = [&] {
    const int64_t now = EventLoop::MonotonicNowNs() - epoch;
    const EventLoop& l = **loop;
    while (scheduled <= now && !done) {
      if (scheduled >= warmup_end) {
        late_ms.push_back(static_cast<double>(now - scheduled) / 1e6);
        kernel_ms.push_back(
            static_cast<double>(std::max<int64_t>(
                0, l.wake_ns() - epoch - std::max(scheduled, l.wait_start_ns() - epoch))) /
            1e6);
      }
      scheduled = (*schedule)->Next();
      done = scheduled >= end;
    }
    if (!done) (*loop)->AddTimerAt(epoch + scheduled, fire);
  };
  const double cpu0 = ProcessCpuSeconds();
  const double t0 = NowSeconds();
  (*loop)->AddTimerAt(epoch + scheduled, fire);
  while (!done) (*loop)->RunOnce(-1);
  const double wall = NowSeconds() - t0;
  Print("wall_s", wall, 3);
  Print("cpu_us_per_timer", (ProcessCpuSeconds() - cpu0) * 1e6 / static_cast<double>(late_ms.size()), 2);
  uint64_t over_1ms = 0;
  for (double v : late_ms) over_1ms += v > 1.0 ? 1 : 0;
  Print("lateness_over_1ms", static_cast<double>(over_1ms));
  PrintLateness("lateness", late_ms);
  PrintLateness("kernel_wake", kernel_ms);
  return 0;
}

int Run(const BenchOptions& o) {
  if (o.mode == "timer-baseline") return RunTimerBaseline(o);
  absl::StatusOr<llmbench::v1::Shard> shard = MakeShard(o);
  if (!shard.ok()) {
    std::cerr << "worker_bench: " << shard.status().message() << "\n";
    return 2;
  }
  if (o.print_request) {
    absl::StatusOr<std::unique_ptr<EngineProtocol>> protocol =
        MakeEngineProtocol(shard->engine(), shard->generation());
    if (!protocol.ok()) {
      std::cerr << "worker_bench: " << protocol.status().message() << "\n";
      return 2;
    }
    HttpRequestSpec spec = (*protocol)->BuildRequest(shard->prompts(0), 0);
    std::printf("%s\n%s\n%s\n", spec.method.c_str(), spec.path.c_str(), spec.body.c_str());
    return 0;
  }
  if (o.url.empty()) {
    std::cerr << "worker_bench: --url is required\n";
    return 2;
  }
  const bool concurrent = o.mode == "concurrent-streams";
  ShardRunnerOptions options;
  options.loop_threads = o.loop_threads;
  options.max_concurrency = std::max<uint32_t>(o.concurrency, 10000);
  options.worker_id = "worker-bench";
  // Concurrent streams: one cancelled record per stream arrives at once at the end.
  options.queue_capacity = std::max<size_t>(kDefaultRecordQueueCapacity, o.concurrency * 2);
  TraceLog traces;
  if (o.mode == "lateness") {
    traces.Reserve(static_cast<size_t>(o.rate * (o.duration_s + o.warmup_s) * 1.2) + 1024);
    options.dispatch_trace = [&traces](const DispatchTrace& t) { traces.Add(t); };
  }
  absl::StatusOr<std::unique_ptr<ShardRunner>> created =
      ShardRunner::Create(*shard, options);
  if (!created.ok()) {
    std::cerr << "worker_bench: " << created.status().message() << "\n";
    return 2;
  }
  ShardRunner& runner = **created;
  EnsureCurlGlobalInit();

  std::printf("mode %s\n", o.mode.c_str());
  std::printf("url %s\n", o.url.c_str());
  std::printf("stream %d\n", shard->generation().stream() ? 1 : 0);
  Print("max_tokens", shard->generation().max_tokens());
  Print("loop_threads", runner.loop_count());
  if (o.mode == "lateness") {
    Print("rate_rps", o.rate, 1);
  } else {
    Print("concurrency", o.concurrency);
  }
  std::fflush(stdout);

  const int64_t idle_rss_kib = ProcStatusKib("VmRSS");
  RunQueueWait run_queue;
  run_queue.Sample();
  const double run_queue0 = run_queue.Seconds();
  const double cpu0 = ProcessCpuSeconds();
  const double t0 = NowSeconds();
  if (absl::Status st = runner.Start(); !st.ok()) {
    std::cerr << "worker_bench: Start: " << st.message() << "\n";
    return 1;
  }

  RecordTotals totals;
  std::vector<llmbench::v1::RequestRecord> batch;
  double next_sample = 0;
  auto drain = [&](int64_t wait_ns) {
    batch.clear();
    runner.records().WaitPop(&batch, o.drain_batch, EventLoop::MonotonicNowNs() + wait_ns);
    if (NowSeconds() >= next_sample) {  // reading /proc costs CPU: at most 10 times a second
      run_queue.Sample();
      next_sample = NowSeconds() + 0.1;
    }
    for (const auto& r : batch) totals.Add(r);
  };

  int exit_code = 0;
  if (concurrent) {
    // Wait until every stream is in flight (and running in the sim), then hold and measure.
    const double deadline = NowSeconds() + o.hold_timeout_s;
    uint64_t in_flight = 0;
    double sim_running = -1;
    double all_in_flight_at = -1;
    while (NowSeconds() < deadline && !runner.done()) {
      drain(200'000'000);
      in_flight = runner.progress().in_flight();
      if (!o.sim_metrics_url.empty()) {
        sim_running = FetchMetric(o.sim_metrics_url, "llmbench_sim_running").value_or(-1);
      }
      const bool all = in_flight >= o.concurrency &&
                       (o.sim_metrics_url.empty() || sim_running >= o.concurrency);
      if (all && all_in_flight_at < 0) all_in_flight_at = NowSeconds();
      if (all && NowSeconds() - all_in_flight_at >= o.hold_s) break;
    }
    Print("ramp_s", all_in_flight_at > 0 ? all_in_flight_at - t0 : -1, 2);
    const double hold_t0 = NowSeconds();
    const double hold_cpu0 = ProcessCpuSeconds();
    // A fixed window at full load: CPU per second with every stream held.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    drain(0);
    const double hold_cpu = ProcessCpuSeconds() - hold_cpu0;
    const double hold_wall = NowSeconds() - hold_t0;
    in_flight = runner.progress().in_flight();
    if (!o.sim_metrics_url.empty()) {
      sim_running = FetchMetric(o.sim_metrics_url, "llmbench_sim_running").value_or(-1);
    }
    const int64_t load_rss_kib = ProcStatusKib("VmRSS");
    Print("in_flight", static_cast<double>(in_flight));
    Print("sim_running", sim_running);
    Print("records_before_cancel", static_cast<double>(totals.records));
    Print("idle_rss_kib", static_cast<double>(idle_rss_kib));
    Print("load_rss_kib", static_cast<double>(load_rss_kib));
    if (in_flight > 0) {
      Print("bytes_per_stream",
            static_cast<double>(load_rss_kib - idle_rss_kib) * 1024.0 /
                static_cast<double>(in_flight));
    }
    Print("held_cpu_utilization", hold_cpu / hold_wall, 3);
    if (in_flight < o.concurrency || (!o.sim_metrics_url.empty() && sim_running < o.concurrency)) {
      std::printf("note not every stream was held (in_flight %llu, sim_running %.0f of %u)\n",
                  static_cast<unsigned long long>(in_flight), sim_running, o.concurrency);
      exit_code = 1;
    }
    runner.Cancel();
  }
  while (!runner.records().drained()) drain(100'000'000);
  runner.Join();
  drain(0);
  run_queue.Sample();
  const double wall = NowSeconds() - t0;
  const double cpu = ProcessCpuSeconds() - cpu0;
  const llmbench::v1::ShardSummary summary = runner.summary();

  Print("wall_s", wall, 3);
  Print("cpu_s", cpu, 3);
  Print("cpu_utilization", cpu / wall, 3);
  // Time the bench's threads were runnable but waited for a CPU (other processes on its core).
  Print("run_queue_wait_s", run_queue.Seconds() - run_queue0, 3);
  Print("requests_sent", static_cast<double>(summary.requests_sent()));
  Print("records", static_cast<double>(totals.records));
  Print("records_dropped", static_cast<double>(summary.records_dropped()));
  Print("ok", static_cast<double>(totals.ok));
  uint64_t errors = 0;
  for (const auto& [cls, n] : totals.errors) {
    std::printf("errors_%s %llu\n", llmbench::v1::ErrorClass_Name(cls).c_str(),
                static_cast<unsigned long long>(n));
    errors += n;
  }
  if (!totals.first_error.empty()) std::printf("first_error %s\n", totals.first_error.c_str());
  Print("content_chunks", static_cast<double>(totals.content_chunks));
  Print("output_tokens", static_cast<double>(totals.output_tokens));
  if (!concurrent) {
    Print("events_per_s", static_cast<double>(totals.content_chunks) / wall);
    Print("requests_per_s", static_cast<double>(totals.records) / wall);
    if (totals.content_chunks > 0) {
      Print("cpu_us_per_event", cpu * 1e6 / static_cast<double>(totals.content_chunks), 3);
    }
    if (totals.records > 0) {
      Print("cpu_us_per_request", cpu * 1e6 / static_cast<double>(totals.records), 2);
    }
    if (errors > 0) exit_code = 1;
  }
  if (!totals.lateness_all_ms.empty()) {
    Print("achieved_rps", static_cast<double>(totals.records) / wall, 1);
    uint64_t over_1ms = 0;
    for (double v : totals.lateness_ms) over_1ms += v > 1.0 ? 1 : 0;
    Print("lateness_over_1ms", static_cast<double>(over_1ms));
    PrintLateness("lateness", totals.lateness_ms);
    // Episodes of lateness > 1 ms (arrivals within 10 ms of each other form one episode): a
    // stall of the loop (or of the whole process, e.g. preempted) shows as one long episode.
    std::sort(totals.late_ns.begin(), totals.late_ns.end());
    int episodes = 0;
    for (size_t i = 0; i < totals.late_ns.size();) {
      size_t j = i;
      int64_t worst = 0;
      while (j < totals.late_ns.size() &&
             (j == i || totals.late_ns[j].first - totals.late_ns[j - 1].first < 10'000'000)) {
        worst = std::max(worst, totals.late_ns[j].second);
        ++j;
      }
      if (++episodes <= 10) {
        std::printf("late_episode at_s %.3f arrivals %zu worst_ms %.3f\n",
                    static_cast<double>(totals.late_ns[i].first) / 1e9, j - i,
                    static_cast<double>(worst) / 1e6);
      }
      i = j;
    }
    Print("late_episodes", episodes);
    PrintLateness("lateness_incl_warmup", totals.lateness_all_ms);
    PrintLatenessSplit(traces.Take(), totals.sent_by_id);
  }
  Print("summary_max_lateness_ms", summary.max_lateness_ms(), 3);
  Print("connections_opened", static_cast<double>(runner.connections_opened()));
  Print("peak_rss_kib", static_cast<double>(ProcStatusKib("VmHWM")));
  std::fflush(stdout);
  return exit_code;
}

}  // namespace
}  // namespace llmbench::worker

int main(int argc, char** argv) {
  llmbench::worker::BenchOptions o;
  std::string stream = "default";
  CLI::App app{"worker_bench: ShardRunner throughput, CPU, memory and lateness"};
  app.add_option("--mode", o.mode,
                 "stream-events | nonstream | concurrent-streams | lateness | timer-baseline")
      ->check(CLI::IsMember(
          {"stream-events", "nonstream", "concurrent-streams", "lateness", "timer-baseline"}));
  app.add_option("--url", o.url, "engine base URL, e.g. http://127.0.0.1:8000");
  app.add_option("--kind", o.kind, "engine kind: vllm | ollama | tgi | openai");
  app.add_option("--api", o.api, "default | completions | chat | ollama-generate | tgi-generate");
  app.add_option("--model", o.model, "model name sent");
  app.add_option("--concurrency", o.concurrency, "closed-loop requests in flight")
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--rate", o.rate, "open-loop requests/s (lateness mode)");
  app.add_option("--requests", o.requests, "count-bounded: this many requests (0 = duration)");
  app.add_option("--duration", o.duration_s, "seconds of measured dispatch");
  app.add_option("--warmup", o.warmup_s, "seconds of warm-up before --duration");
  app.add_option("--max-tokens", o.max_tokens, "tokens per request (0 = mode default)");
  app.add_option("--stream", stream, "true | false | default (mode default)")
      ->check(CLI::IsMember({"true", "false", "default"}));
  app.add_option("--loop-threads", o.loop_threads, "event-loop threads")
      ->check(CLI::Range(1u, 256u));
  app.add_option("--sim-metrics", o.sim_metrics_url,
                 "llmbench-sim /sim/metrics URL (concurrent-streams: confirm the streams run)");
  app.add_option("--hold-timeout", o.hold_timeout_s, "concurrent-streams: max seconds to ramp");
  app.add_option("--hold", o.hold_s, "concurrent-streams: seconds all streams stay held first");
  app.add_option("--drain-batch", o.drain_batch, "records the reader waits for per pop")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  app.add_option("--timer-slack-ns", o.timer_slack_ns,
                 "timer-baseline: set this thread's timer slack first (-1 = leave it)");
  app.add_flag("--print-request", o.print_request, "print method, path and body, then exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return e.get_exit_code() == 0 ? rc : 2;
  }
  if (stream != "default") o.stream = stream == "true";
  return llmbench::worker::Run(o);
}
