#include "sim/sim_server.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <map>
#include <unordered_map>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "sim/str_cat.h"
#include "common/clock.h"
#include "sim/batch_scheduler.h"
#include "sim/chat_history.h"
#include "sim/gen_request.h"
#include "common/json_writer.h"
#include "common/stats.h"
#include "sim/prom.h"
#include "sim/protocol_writers.h"
#include "sim/sim_vocab.h"
#include "sim/time_format.h"

namespace llmbench::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using ::llmbench::LogHistogram;

namespace {

constexpr std::string_view kOllamaVersion = "0.12.6";
constexpr std::string_view kVllmVersion = "0.11.0";
constexpr std::string_view kTgiVersion = "3.3.6-dev0";
constexpr std::string_view kTgiFingerprint = "3.3.6-dev0-native";
constexpr int64_t kStallLimitNs = 600'000'000'000;
constexpr size_t kHugeTokenBytes = 10u * 1024 * 1024;

int64_t NowNs() { return SteadyClock::Get().NowNs(); }

std::string_view Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 422: return "Unprocessable Entity";
    case 424: return "Failed Dependency";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

enum class Outcome { kSuccess, kError, kFault, kCancelled };
constexpr std::string_view kOutcomeNames[] = {"success", "error", "fault", "cancelled"};

bool IsTgiNative(Api a) { return a == Api::kTgiGenerate || a == Api::kTgiCompat; }

struct ErrorInfo {
  int status;
  std::string message;
  std::string type;
};

}  // namespace

class Session;

// ------------------------------------------------------------------------------------ Engine
// One simulated engine: the batch scheduler, its single step timer, and the metrics.
// Thread-safety: mu_ guards scheduler, live map and metrics; the timer runs on home_.
class Engine {
 public:
  Engine(EngineKind kind, const SimConfig& cfg, asio::io_context& home)
      : kind_(kind),
        cfg_(cfg),
        home_(home),
        sched_(cfg.latency),
        timer_(home),
        fault_rng_(cfg.latency.seed ^ 0xfa017ULL),
        unix_offset_ns_(SteadyClock::Get().UnixNowNs() - NowNs()),
        start_unix_s_(SteadyClock::Get().UnixNowNs() / 1'000'000'000),
        vllm_ttft_({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
                    5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}),
        vllm_itl_({0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0,
                   7.5, 10.0, 20.0, 40.0, 80.0}),
        vllm_e2e_({0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
                   60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}),
        vllm_queue_(vllm_e2e_),
        tgi_duration_(TgiDurationBuckets()),
        tgi_queue_(TgiDurationBuckets()),
        tgi_inference_(TgiDurationBuckets()),
        tgi_mean_tpt_(TgiDurationBuckets()),
        tgi_generated_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192}),
        tgi_input_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192}),
        sim_ttft_({0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
                   2.5, 5.0, 10.0, 20.0, 40.0, 80.0}),
        sim_step_({0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2,
                   0.5, 1.0}) {}

  EngineKind kind() const { return kind_; }
  const SimConfig& cfg() const { return cfg_; }
  int64_t ToUnixNs(int64_t steady_ns) const { return steady_ns + unix_offset_ns_; }
  int64_t FromUnixNs(int64_t unix_ns) const { return unix_ns - unix_offset_ns_; }
  int64_t start_unix_s() const { return start_unix_s_; }
  EngineLimits Limits() const {
    return EngineLimits{cfg_.model, cfg_.max_model_len, cfg_.natural_tokens, cfg_.token_rule};
  }

  // Numbers requests and decides the random fault (deterministic from the seed).
  uint64_t NextRequestNo(FaultSpec* random_fault) {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t no = ++request_no_;
    if (cfg_.fault_rate > 0) {
      const double u = static_cast<double>(Mix64(fault_rng_ + no) >> 11) * 0x1.0p-53;
      if (u < cfg_.fault_rate) {
        const auto& kinds = cfg_.fault_kinds.empty() ? AllFaultKinds() : cfg_.fault_kinds;
        random_fault->kind = kinds[Mix64(fault_rng_ ^ (no * 0x9E37ULL)) % kinds.size()];
        random_fault->after = 2;
      }
    }
    return no;
  }

  uint64_t Submit(std::shared_ptr<Session> session, asio::io_context* ctx, const GenRequest& req,
                  int64_t arrival_ns) {
    uint64_t seq;
    {
      std::lock_guard<std::mutex> lock(mu_);
      seq = sched_.Submit(arrival_ns, req.prompt_tokens, req.output_tokens);
      Live& live = live_[seq];
      live.session = std::move(session);
      live.ctx = ctx;
      live.arrival_ns = arrival_ns;
      live.prompt_tokens = req.prompt_tokens;
      live.output_tokens = req.output_tokens;
      live.max_tokens = req.max_tokens;
      live.eos = req.eos;
      prompt_tokens_total_ += req.prompt_tokens;
      tgi_input_.Observe(req.prompt_tokens);
      ++tgi_request_count_;
    }
    RearmFromAnyThread(ctx);
    return seq;
  }

  // Removes a live sequence (client gone or a fault ended it).
  void Cancel(uint64_t seq, Outcome outcome, asio::io_context* ctx) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = live_.find(seq);
      if (it == live_.end()) return;
      live_.erase(it);
      sched_.Cancel(NowNs(), seq);
      ++outcomes_[static_cast<int>(outcome)];
      if (outcome == Outcome::kCancelled) {
        ++vllm_success_abort_;
      } else {
        ++tgi_failure_["generation"];
      }
    }
    RearmFromAnyThread(ctx);
  }

  // Backpressure: `stalled` pauses the sequence's decoding (see BatchScheduler::SetStalled).
  void SetStalled(uint64_t seq, bool stalled, asio::io_context* ctx) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (live_.find(seq) == live_.end()) return;
      sched_.SetStalled(NowNs(), seq, stalled);
      if (stalled) ++backpressure_stalls_;
    }
    if (!stalled) RearmFromAnyThread(ctx);
  }

  // A request answered with an error before generation.
  void CountError(std::string_view tgi_error_type) {
    std::lock_guard<std::mutex> lock(mu_);
    ++outcomes_[static_cast<int>(Outcome::kError)];
    ++tgi_request_count_;
    ++tgi_failure_[std::string(tgi_error_type.empty() ? "validation" : tgi_error_type)];
  }
  void CountFault(FaultKind kind) {
    std::lock_guard<std::mutex> lock(mu_);
    ++faults_[kind];
  }

  // What the simulator did, beside what it modelled: a write that carried the token events
  // modelled at `at_ns` completed at `now_ns`. `read_ns` >= 0 when the write carried the
  // stream's first token (request read at read_ns); `prev_write_ns` >= 0 is when the stream's
  // previous token write completed.
  void ObserveWrites(int64_t now_ns, const std::vector<int64_t>& at_ns, int64_t read_ns,
                     int64_t prev_write_ns) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < at_ns.size(); ++i) {
      const double late = static_cast<double>(now_ns - at_ns[i]) * 1e-9;
      write_lateness_.Add(std::max(late, 0.0));
      write_lateness_hist_.Observe(late);
      if (i > 0) {
        observed_itl_.Add(0);
      } else if (prev_write_ns >= 0) {
        observed_itl_.Add(static_cast<double>(now_ns - prev_write_ns) * 1e-9);
      }
    }
    if (read_ns >= 0) {
      const double ttft = static_cast<double>(now_ns - read_ns) * 1e-9;
      observed_ttft_.Add(ttft);
      observed_ttft_hist_.Observe(ttft);
    }
  }

  void ObserveReadLag(int64_t lag_ns) {
    std::lock_guard<std::mutex> lock(mu_);
    read_lag_.Add(static_cast<double>(lag_ns) * 1e-9);
  }

  std::string EngineMetrics();
  std::string SimMetrics();
  // Multi-turn histories seen on the chat routes (sim/chat_history.h); thread-safe.
  ChatHistoryLog& chat_history() { return chat_history_; }

 private:
  struct Live {
    std::shared_ptr<Session> session;
    asio::io_context* ctx = nullptr;
    int64_t arrival_ns = 0;
    int64_t first_ns = 0;
    int64_t last_ns = 0;
    int prompt_tokens = 0;
    int output_tokens = 0;
    int max_tokens = 0;
    bool eos = false;
  };
  struct Dispatch {
    std::shared_ptr<Session> session;
    asio::io_context* ctx;
    SchedulerEvent ev;
  };

  static uint64_t Mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  void RearmFromAnyThread(asio::io_context* ctx) {
    if (ctx == &home_) {
      Rearm();
    } else {
      asio::post(home_, [this] { Rearm(); });
    }
  }

  // On home_ only.
  void Rearm() {
    int64_t deadline;
    {
      std::lock_guard<std::mutex> lock(mu_);
      deadline = sched_.NextDeadlineNs();
    }
    if (deadline == BatchScheduler::kIdle) return;
    if (armed_ && deadline == armed_deadline_) return;
    armed_ = true;
    armed_deadline_ = deadline;
    const uint64_t gen = ++timer_gen_;
    timer_.expires_at(asio::steady_timer::time_point(std::chrono::nanoseconds(deadline)));
    timer_.async_wait([this, gen](const boost::system::error_code& ec) {
      if (ec || gen != timer_gen_) return;
      armed_ = false;
      OnTimer();
    });
  }

  void OnTimer();

  EngineKind kind_;
  const SimConfig& cfg_;
  asio::io_context& home_;
  std::mutex mu_;
  BatchScheduler sched_;
  std::unordered_map<uint64_t, Live> live_;
  std::vector<SchedulerEvent> events_;
  std::vector<Dispatch> dispatch_;
  asio::steady_timer timer_;
  bool armed_ = false;
  int64_t armed_deadline_ = 0;
  uint64_t timer_gen_ = 0;
  uint64_t request_no_ = 0;
  uint64_t fault_rng_;
  const int64_t unix_offset_ns_;
  const int64_t start_unix_s_;

  ChatHistoryLog chat_history_;
  // Metrics (guarded by mu_).
  uint64_t outcomes_[4] = {0, 0, 0, 0};
  std::unordered_map<FaultKind, uint64_t> faults_;
  uint64_t prompt_tokens_total_ = 0;
  uint64_t generation_tokens_total_ = 0;
  uint64_t vllm_success_stop_ = 0;
  uint64_t vllm_success_length_ = 0;
  uint64_t vllm_success_abort_ = 0;
  uint64_t tgi_request_count_ = 0;
  uint64_t tgi_request_success_ = 0;
  std::map<std::string, uint64_t> tgi_failure_;
  uint64_t steps_ = 0;
  uint64_t prefills_ = 0;
  uint64_t backpressure_stalls_ = 0;
  Histogram vllm_ttft_, vllm_itl_, vllm_e2e_, vllm_queue_;
  Histogram tgi_duration_, tgi_queue_, tgi_inference_, tgi_mean_tpt_, tgi_generated_, tgi_input_;
  Histogram sim_ttft_, sim_step_;
  // Observed (ObserveWrites): 0.1% relative error, values in seconds.
  LogHistogram observed_ttft_{0.001, 1e-7};
  LogHistogram observed_itl_{0.001, 1e-7};
  LogHistogram write_lateness_{0.001, 1e-7};
  LogHistogram read_lag_{0.001, 1e-7};
  Histogram observed_ttft_hist_{{0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25,
                                 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0}};
  Histogram write_lateness_hist_{{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                  0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0}};

  // Appends the observed families: a summary per LogHistogram (p50, p90, p99, max; sum,
  // count) and the write lateness / observed TTFT histograms. REQUIRES: mu_ held.
  void AppendObserved(std::string& out, bool float_style, bool with_help);
};

// ----------------------------------------------------------------------------------- Session
// One HTTP/1.1 connection. Lives in its io_context; keeps one write in flight and coalesces
// events produced meanwhile into the next write. Thread-safety: all methods on its own thread.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Engine& engine, asio::io_context& ctx)
      : socket_(std::move(socket)), engine_(engine), ctx_(ctx) {}

  void Start() { DoRead(); }
  void OnToken(const SchedulerEvent& ev) {
    RenderEvent(ev);
    UpdateBackpressure();
  }

 private:
  struct Generation {
    GenRequest req;
    uint64_t seq = 0;
    uint64_t request_no = 0;
    uint64_t key = 0;
    int64_t arrival_ns = 0;
    int64_t admitted_ns = 0;
    int64_t first_ns = 0;
    std::string id;
    int64_t created = 0;
    FaultSpec fault;
    int fault_at = -1;  // token index at which a mid-stream fault fires
    bool tgi_stream_details = false;
    std::string text;  // accumulated output
    bool role_sent = false;
  };

  // ---- output buffer helpers
  std::string& Buf() { return (split_barrier_ || paused_) ? held_ : pending_; }
  size_t BeginEvent() {
    std::string& b = Buf();
    const size_t pos = b.size();
    if (chunked_) b.append("00000000\r\n");
    return pos;
  }
  void EndEvent(size_t pos) {
    if (!chunked_) return;
    std::string& b = Buf();
    const size_t len = b.size() - pos - 10;
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 7; i >= 0; --i) b[pos + static_cast<size_t>(7 - i)] = kHex[(len >> (4 * i)) & 0xF];
    b.append("\r\n");
  }

  // Output not yet handed to the kernel.
  size_t Unwritten() const { return pending_.size() + writing_buf_.size() + held_.size(); }

  // Stalls the sequence while its unwritten output exceeds kMaxUnwrittenBytes; resumes it once
  // the output drained to the cap or below.
  void UpdateBackpressure() {
    const bool over = gen_ && !closed_ && Unwritten() > kMaxUnwrittenBytes;
    if (over == stalled_) return;
    if (stalled_ && stalled_seq_ != 0) engine_.SetStalled(stalled_seq_, false, &ctx_);
    stalled_ = over;
    stalled_seq_ = over ? gen_->seq : 0;
    if (over) engine_.SetStalled(stalled_seq_, true, &ctx_);
  }

  // While a generation runs nothing else reads the socket, so a pending read notices a client
  // that closed or reset the connection (EOF/error) at once, instead of at the next write.
  // Bytes that arrive meanwhile (a pipelined request) are kept in buffer_ for the next
  // http::async_read, up to kMaxPipelinedBytes; then watching stops until the response ends.
  void StartWatch() {
    if (watching_ || closed_ || buffer_.size() >= kMaxPipelinedBytes) return;
    watching_ = true;
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
      if (ec) {
        self->OnWatch(ec, 0);
        return;
      }
      const ssize_t n = self->RecvStamped(4096);
      if (n < 0) {  // spurious wake-up: wait again
        self->watching_ = false;
        if (self->read_after_watch_) {
          self->read_after_watch_ = false;
          self->DoRead();
          return;
        }
        self->StartWatch();
        return;
      }
      self->OnWatch(n == 0 ? beast::error_code(asio::error::eof) : beast::error_code(),
                    static_cast<size_t>(n));
    });
  }
  void OnWatch(beast::error_code ec, size_t /*n*/) {
    watching_ = false;
    if (closed_) return;
    if (read_after_watch_) {  // the response ended: read the next request
      read_after_watch_ = false;
      DoRead();
      return;
    }
    if (ec == asio::error::operation_aborted) return;
    if (ec) {  // the client went away: cancel the sequence and free everything now
      Abort();
      return;
    }
    StartWatch();
  }

  // One non-blocking recvmsg of up to `max` bytes into buffer_, keeping the kernel receive
  // timestamp of the first bytes of the next request (buffered_arrival_ns_, when buffer_ was
  // empty). Returns the bytes read, 0 at EOF or on an error, -1 when nothing was ready.
  ssize_t RecvStamped(size_t max) {
    const bool was_empty = buffer_.size() == 0;
    auto space = buffer_.prepare(max);
    iovec iov{space.data(), space.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec)) + 64];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ::recvmsg(socket_.native_handle(), &msg, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return -1;
    if (n <= 0) return 0;
    buffer_.commit(static_cast<size_t>(n));
    if (was_empty) {
      buffered_arrival_ns_ = NowNs();
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts;
          std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
          buffered_arrival_ns_ =
              engine_.FromUnixNs(static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec);
        }
      }
    }
    return n;
  }

  void DoRead() {
    if (watching_) {  // the watch read must end first (it may hold bytes of this request)
      read_after_watch_ = true;
      beast::error_code ignored;
      socket_.cancel(ignored);
      return;
    }
    parser_.emplace();
    parser_->body_limit(256u * 1024 * 1024);
    parser_->header_limit(64 * 1024);
    if (buffer_.size() > 0) {  // bytes of this request already read (pipelined / watch)
      arrival_ns_ = buffered_arrival_ns_;
      ParseRequest();
      return;
    }
    // Wait for the request's first bytes, read them with their kernel receive timestamp, then
    // let Beast parse (and read the rest, if any).
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](beast::error_code ec) {
                         if (ec || self->closed_) {
                           self->Close();
                           return;
                         }
                         const ssize_t n = self->RecvStamped(64 * 1024);
                         if (n < 0) {
                           self->DoRead();
                           return;
                         }
                         if (n == 0) {  // closed or reset between requests
                           self->Close();
                           return;
                         }
                         self->arrival_ns_ = self->buffered_arrival_ns_;
                         self->ParseRequest();
                       });
  }

  void ParseRequest() {
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec) {
      if (ec != http::error::end_of_stream && ec != asio::error::eof &&
          ec != asio::error::connection_reset && ec != asio::error::operation_aborted) {
        // Malformed HTTP: answer 400 and close.
        if (!closed_) {
          keep_alive_ = false;
          WriteSimple(400, "text/plain; charset=utf-8", "Bad Request", {});
          return;
        }
      }
      Close();
      return;
    }
    // Bytes left after this request belong to a later one, whose arrival is not known.
    if (buffer_.size() > 0) buffered_arrival_ns_ = -1;
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    Handle(req);
  }

  void Handle(const http::request<http::string_body>& req);
  void HandleOllama(const http::request<http::string_body>& req, std::string_view path);
  void HandleVllm(const http::request<http::string_body>& req, std::string_view path);
  void HandleTgi(const http::request<http::string_body>& req, std::string_view path);
  void StartGeneration(Api api, const http::request<http::string_body>& req, bool stream_route);
  void SendError(Api api, const ErrorInfo& e, bool allow_inband);
  ErrorInfo FaultError(Api api, int status) const;

  // Writes a complete non-chunked response.
  void WriteSimple(int status, std::string_view content_type, std::string_view body,
                   const std::vector<std::pair<std::string, std::string>>& extra) {
    std::string& b = Buf();
    AppendHead(b, status, content_type, extra);
    b.append("content-length: ");
    AppendInt(b, static_cast<int64_t>(body.size()));
    b.append("\r\n\r\n");
    b.append(body);
    response_done_ = true;
    Flush();
  }

  void AppendHead(std::string& b, int status, std::string_view content_type,
                  const std::vector<std::pair<std::string, std::string>>& extra) {
    b.append("HTTP/1.1 ");
    AppendInt(b, status);
    b.push_back(' ');
    b.append(Reason(status));
    b.append("\r\n");
    if (!content_type.empty()) {
      b.append("content-type: ");
      b.append(content_type);
      b.append("\r\n");
    }
    for (const auto& [k, v] : extra) {
      b.append(k);
      b.append(": ");
      b.append(v);
      b.append("\r\n");
    }
    if (!keep_alive_) b.append("connection: close\r\n");
  }

  void StartChunked(int status, std::string_view content_type,
                    const std::vector<std::pair<std::string, std::string>>& extra) {
    std::string& b = Buf();
    AppendHead(b, status, content_type, extra);
    b.append("transfer-encoding: chunked\r\n\r\n");
    chunked_ = true;
  }

  void EndChunked() {
    Buf().append("0\r\n\r\n");
    chunked_ = false;
    response_done_ = true;
    Flush();
  }

  void Flush() {
    if (writing_ || paused_ || closed_ || pending_.empty()) return;
    writing_ = true;
    writing_buf_.swap(pending_);
    pending_.clear();
    writing_at_.swap(pending_at_);
    pending_at_.clear();
    writing_first_ = pending_first_;
    pending_first_ = false;
    asio::async_write(socket_, asio::buffer(writing_buf_),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->OnWrite(ec);
                      });
  }

  void OnWrite(beast::error_code ec) {
    writing_ = false;
    writing_buf_.clear();
    if (!ec && !writing_at_.empty()) {
      const int64_t now = NowNs();
      engine_.ObserveWrites(now, writing_at_, writing_first_ ? read_ns_ : -1,
                            writing_first_ ? -1 : last_token_write_ns_);
      last_token_write_ns_ = now;
    }
    writing_at_.clear();
    writing_first_ = false;
    if (writing_buf_.capacity() > 2 * kMaxUnwrittenBytes) writing_buf_.shrink_to_fit();
    if (ec) {
      Abort();
      return;
    }
    if (!pending_.empty()) {
      Flush();
      if (stalled_) UpdateBackpressure();
      return;
    }
    if (stalled_) UpdateBackpressure();
    if (split_barrier_) {
      split_barrier_ = false;
      paused_ = true;
      EnsureTimer();
      timer_->expires_after(std::chrono::milliseconds(2));
      timer_->async_wait([self = shared_from_this()](beast::error_code tec) {
        if (tec || self->closed_) return;
        self->paused_ = false;
        self->pending_.append(self->held_);
        self->held_.clear();
        self->Flush();
        self->AfterDrain();
      });
      return;
    }
    AfterDrain();
  }

  // Called when nothing is left to write.
  void AfterDrain() {
    if (writing_ || paused_ || !pending_.empty()) return;
    if (reset_pending_) {
      reset_pending_ = false;
      ResetNow();
      return;
    }
    if (stall_pending_) {
      stall_pending_ = false;
      StartStall();
      return;
    }
    if (response_done_) {
      response_done_ = false;
      if (close_after_response_ || !keep_alive_) {
        beast::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);
        Close();
      } else {
        DoRead();
      }
    }
  }

  void EnsureTimer() {
    if (!timer_) timer_ = std::make_unique<asio::steady_timer>(ctx_);
  }

  void ResetNow() {
    beast::error_code ignored;
    socket_.set_option(asio::socket_base::linger(true, 0), ignored);
    socket_.close(ignored);
    closed_ = true;
    if (timer_) timer_->cancel();
  }

  void StartStall() {
    EnsureTimer();
    timer_->expires_after(std::chrono::nanoseconds(kStallLimitNs));
    timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->Close();
    });
    if (watching_) return;  // the watch read already notices the client closing
    stall_buf_.resize(4096);
    DoStallRead();
  }
  void DoStallRead() {
    socket_.async_read_some(asio::buffer(stall_buf_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) {
                                self->Close();
                              } else {
                                self->DoStallRead();
                              }
                            });
  }

  // The client went away or a write failed.
  void Abort() {
    if (gen_) {
      engine_.Cancel(gen_->seq, Outcome::kCancelled, &ctx_);
      gen_.reset();
    }
    Close();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    stalled_ = false;
    beast::error_code ignored;
    socket_.close(ignored);
    if (timer_) timer_->cancel();
    // Free the output now; the session object lives on until its handlers return.
    std::string().swap(pending_);
    std::string().swap(held_);
    std::string().swap(stall_buf_);
    if (!writing_) std::string().swap(writing_buf_);
  }

  // Ends the generation with a mid-stream fault; returns true if the stream stopped.
  bool FireFault(int index);
  void RenderEvent(const SchedulerEvent& ev);
  void RenderToken(int index, std::string_view text, bool last, int64_t at_ns);
  void FinishNonStream(int64_t at_ns, bool last_was_eos);
  std::string_view FinishReason() const;
  void AppendMalformed();

  tcp::socket socket_;
  Engine& engine_;
  asio::io_context& ctx_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string pending_;
  std::string writing_buf_;
  std::string held_;
  std::string stall_buf_;
  std::unique_ptr<asio::steady_timer> timer_;
  std::optional<Generation> gen_;
  bool keep_alive_ = true;
  bool chunked_ = false;
  bool writing_ = false;
  bool paused_ = false;
  bool split_barrier_ = false;
  bool response_done_ = false;
  bool close_after_response_ = false;
  bool reset_pending_ = false;
  bool stall_pending_ = false;
  bool closed_ = false;
  bool watching_ = false;          // the close-detecting read is pending
  bool read_after_watch_ = false;  // DoRead once the watch read returns
  bool stalled_ = false;           // our sequence is stalled by backpressure
  uint64_t stalled_seq_ = 0;
  // Observed timing (Engine::ObserveWrites): modelled times of the token events in pending_ and
  // in the write in flight, whether they hold the stream's first token, the request's read
  // time and when the stream's previous token write completed.
  std::vector<int64_t> pending_at_;
  std::vector<int64_t> writing_at_;
  bool pending_first_ = false;
  bool writing_first_ = false;
  int64_t read_ns_ = -1;
  int64_t last_token_write_ns_ = -1;
  int64_t arrival_ns_ = -1;  // kernel receive time of the request's first bytes (-1: unknown)
  int64_t buffered_arrival_ns_ = -1;  // of the first bytes now in buffer_
};

// ----------------------------------------------------------------------- Engine::OnTimer
void Engine::OnTimer() {
  dispatch_.clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.clear();
    // At most kMaxCatchUpSteps steps per timer callback: their tokens reach the sessions
    // (which may stall their sequence) before later steps run, and a late engine still sends a
    // stream several tokens per write instead of one (the kernel's send is the dominant cost).
    sched_.AdvanceTo(NowNs(), events_, kMaxCatchUpSteps);
    for (const SchedulerEvent& ev : events_) {
      if (ev.kind == SchedulerEvent::Kind::kStep) {
        ++steps_;
        sim_step_.Observe(static_cast<double>(ev.duration_ns) * 1e-9);
        continue;
      }
      auto it = live_.find(ev.seq);
      if (it == live_.end()) continue;
      Live& live = it->second;
      ++generation_tokens_total_;
      if (ev.token_index == 0) {
        ++prefills_;
        live.first_ns = ev.at_ns;
        const double ttft = static_cast<double>(ev.at_ns - live.arrival_ns) * 1e-9;
        vllm_ttft_.Observe(ttft);
        sim_ttft_.Observe(ttft);
        vllm_queue_.Observe(static_cast<double>(ev.admitted_ns - live.arrival_ns) * 1e-9);
        tgi_queue_.Observe(static_cast<double>(ev.admitted_ns - live.arrival_ns) * 1e-9);
      } else {
        vllm_itl_.Observe(static_cast<double>(ev.at_ns - live.last_ns) * 1e-9);
      }
      live.last_ns = ev.at_ns;
      dispatch_.push_back(Dispatch{ev.last ? std::move(live.session) : live.session, live.ctx, ev});
      if (ev.last) {
        const double e2e = static_cast<double>(ev.at_ns - live.arrival_ns) * 1e-9;
        vllm_e2e_.Observe(e2e);
        tgi_duration_.Observe(e2e);
        tgi_inference_.Observe(static_cast<double>(ev.at_ns - ev.admitted_ns) * 1e-9);
        if (ev.token_index > 0) {  // TGI: the request's mean time per token after the first
          tgi_mean_tpt_.Observe(static_cast<double>(ev.at_ns - live.first_ns) * 1e-9 /
                                static_cast<double>(ev.token_index));
        }
        tgi_generated_.Observe(live.output_tokens);
        ++tgi_request_success_;
        ++outcomes_[static_cast<int>(Outcome::kSuccess)];
        if (live.eos) {
          ++vllm_success_stop_;
        } else {
          ++vllm_success_length_;
        }
        live_.erase(it);
      }
    }
  }
  for (Dispatch& d : dispatch_) {
    if (d.ctx == &home_) {
      d.session->OnToken(d.ev);
    } else {
      asio::post(*d.ctx, [s = d.session, ev = d.ev] { s->OnToken(ev); });
    }
  }
  dispatch_.clear();
  Rearm();
}

std::string Engine::EngineMetrics() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  if (kind_ == EngineKind::kVllm) {
    const std::string labels = [&] {
      std::string l = "engine=\"0\",model_name=";
      AppendJsonString(l, cfg_.model);
      return l;
    }();
    auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
      out.append("# HELP ").append(name).append(" ").append(help).append("\n");
      out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    };
    family("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.");
    AppendSample(out, "vllm:num_requests_running", labels, sched_.running(), true);
    family("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.");
    AppendSample(out, "vllm:num_requests_waiting", labels, sched_.waiting(), true);
    family("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.");
    AppendSample(out, "vllm:kv_cache_usage_perc", labels,
                 static_cast<double>(sched_.running()) / std::max(cfg_.latency.max_batch, 1), true);
    family("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.");
    AppendSample(out, "vllm:prompt_tokens_total", labels, static_cast<double>(prompt_tokens_total_), true);
    family("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.");
    AppendSample(out, "vllm:generation_tokens_total", labels,
                 static_cast<double>(generation_tokens_total_), true);
    family("vllm:request_success_total", "counter", "Count of successfully processed requests.");
    std::string model_label;
    AppendJsonString(model_label, cfg_.model);
    for (auto [reason, v] : {std::pair<std::string_view, uint64_t>{"abort", vllm_success_abort_},
                             {"length", vllm_success_length_},
                             {"stop", vllm_success_stop_}}) {
      AppendSample(out, "vllm:request_success_total",
                   Cat("engine=\"0\",finished_reason=\"", reason, "\",model_name=", model_label),
                   static_cast<double>(v), true);
    }
    family("vllm:time_to_first_token_seconds", "histogram", "Histogram of time to first token in seconds.");
    vllm_ttft_.Append(out, "vllm:time_to_first_token_seconds", labels, true, false);
    family("vllm:inter_token_latency_seconds", "histogram", "Histogram of inter-token latency in seconds.");
    vllm_itl_.Append(out, "vllm:inter_token_latency_seconds", labels, true, false);
    family("vllm:e2e_request_latency_seconds", "histogram",
           "Histogram of e2e request latency in seconds.");
    vllm_e2e_.Append(out, "vllm:e2e_request_latency_seconds", labels, true, false);
    family("vllm:request_queue_time_seconds", "histogram",
           "Histogram of time spent in WAITING phase for request.");
    vllm_queue_.Append(out, "vllm:request_queue_time_seconds", labels, true, false);
  } else if (kind_ == EngineKind::kTgi) {
    auto type = [&](std::string_view name, std::string_view t) {
      out.append("# TYPE ").append(name).append(" ").append(t).append("\n");
    };
    type("tgi_request_count", "counter");
    AppendSample(out, "tgi_request_count", "", static_cast<double>(tgi_request_count_), false);
    out.append("\n");
    type("tgi_request_success", "counter");
    AppendSample(out, "tgi_request_success", "", static_cast<double>(tgi_request_success_), false);
    out.append("\n");
    if (!tgi_failure_.empty()) {
      type("tgi_request_failure", "counter");
      for (const auto& [err, v] : tgi_failure_) {
        AppendSample(out, "tgi_request_failure", Cat("err=\"", err, "\""),
                     static_cast<double>(v), false);
      }
      out.append("\n");
    }
    type("tgi_queue_size", "gauge");
    AppendSample(out, "tgi_queue_size", "", sched_.waiting(), false);
    out.append("\n");
    type("tgi_batch_current_size", "gauge");
    AppendSample(out, "tgi_batch_current_size", "", sched_.running(), false);
    out.append("\n");
    type("tgi_batch_inference_count", "counter");
    AppendSample(out, "tgi_batch_inference_count", "method=\"decode\"", static_cast<double>(steps_), false);
    AppendSample(out, "tgi_batch_inference_count", "method=\"prefill\"", static_cast<double>(prefills_), false);
    out.append("\n");
    const std::pair<std::string_view, const Histogram*> hists[] = {
        {"tgi_request_duration", &tgi_duration_},
        {"tgi_request_queue_duration", &tgi_queue_},
        {"tgi_request_inference_duration", &tgi_inference_},
        {"tgi_request_mean_time_per_token_duration", &tgi_mean_tpt_},
        {"tgi_request_generated_tokens", &tgi_generated_},
        {"tgi_request_input_length", &tgi_input_},
    };
    for (const auto& [name, h] : hists) {
      type(name, "histogram");
      h->Append(out, name, "", false, true);
      out.append("\n");
    }
  }
  // vLLM style (HELP + TYPE, float counts); TGI style (TYPE only, as metrics-rs writes).
  if (kind_ != EngineKind::kOllama) {
    AppendObserved(out, kind_ == EngineKind::kVllm, kind_ == EngineKind::kVllm);
  }
  return out;
}

void Engine::AppendObserved(std::string& out, bool float_style, bool with_help) {
  auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    if (with_help) out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  };
  auto summary = [&](std::string_view name, const LogHistogram& h, std::string_view help) {
    family(name, "summary", help);
    for (const char* q : {"0.5", "0.9", "0.99", "1"}) {
      const double v = std::string_view(q) == "1" ? h.max() : h.Quantile(std::stod(q));
      AppendSample(out, name, Cat("quantile=\"", q, "\""), h.count() == 0 ? 0.0 : v, true);
    }
    AppendSample(out, Cat(name, "_sum"), "", h.sum(), true);
    AppendSample(out, Cat(name, "_count"), "", static_cast<double>(h.count()), float_style);
  };
  summary("llmbench_sim_observed_ttft_seconds", observed_ttft_,
          "Observed time to first token: request arrival (kernel receive timestamp) until the "
          "write carrying the first token completed (what the simulator did; "
          "llmbench_sim_ttft_seconds is what it modelled).");
  summary("llmbench_sim_observed_itl_seconds", observed_itl_,
          "Observed inter-token latency: between completed writes of a stream's consecutive "
          "tokens (0 for tokens sharing a write).");
  summary("llmbench_sim_chunk_write_lateness_seconds", write_lateness_,
          "Per token event: write completed minus the modelled emit time (how late the "
          "simulator was against its own model).");
  summary("llmbench_sim_request_read_lag_seconds", read_lag_,
          "Per generation request: parsed minus arrived (kernel receive timestamp of its first "
          "bytes): how late the simulator read requests. Observed and modelled TTFT count from "
          "the arrival.");
  family("llmbench_sim_observed_ttft_histogram_seconds", "histogram",
         "Observed time to first token (buckets).");
  observed_ttft_hist_.Append(out, "llmbench_sim_observed_ttft_histogram_seconds", "", float_style,
                             true);
  family("llmbench_sim_chunk_write_lateness_histogram_seconds", "histogram",
         "Per token event write lateness against the model (buckets).");
  write_lateness_hist_.Append(out, "llmbench_sim_chunk_write_lateness_histogram_seconds", "",
                              float_style, true);
}

std::string Engine::SimMetrics() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  };
  family("llmbench_sim_requests_total", "counter",
         "Requests by outcome (success, error: answered with an error status, fault: ended by a "
         "mid-stream fault, cancelled: client went away).");
  for (int i = 0; i < 4; ++i) {
    AppendSample(out, "llmbench_sim_requests_total",
                 Cat("outcome=\"", kOutcomeNames[i], "\""),
                 static_cast<double>(outcomes_[i]), false);
  }
  family("llmbench_sim_tokens_generated_total", "counter", "Output tokens emitted by the model.");
  AppendSample(out, "llmbench_sim_tokens_generated_total", "",
               static_cast<double>(generation_tokens_total_), false);
  family("llmbench_sim_prompt_tokens_total", "counter", "Prompt tokens of admitted requests.");
  AppendSample(out, "llmbench_sim_prompt_tokens_total", "", static_cast<double>(prompt_tokens_total_), false);
  family("llmbench_sim_running", "gauge", "Sequences prefilling or decoding.");
  AppendSample(out, "llmbench_sim_running", "", sched_.running(), false);
  family("llmbench_sim_waiting", "gauge", "Sequences waiting for a batch slot.");
  AppendSample(out, "llmbench_sim_waiting", "", sched_.waiting(), false);
  family("llmbench_sim_stalled", "gauge",
         "Running sequences paused by backpressure: their client is not draining the socket.");
  AppendSample(out, "llmbench_sim_stalled", "", sched_.stalled(), false);
  family("llmbench_sim_backpressure_stalls_total", "counter",
         "Times a sequence was paused because its unwritten output exceeded the cap.");
  AppendSample(out, "llmbench_sim_backpressure_stalls_total", "",
               static_cast<double>(backpressure_stalls_), false);
  family("llmbench_sim_ttft_seconds", "histogram",
         "Intended time to first token from request arrival.");
  sim_ttft_.Append(out, "llmbench_sim_ttft_seconds", "", false, true);
  family("llmbench_sim_step_seconds", "histogram", "Planned decode step durations.");
  sim_step_.Append(out, "llmbench_sim_step_seconds", "", false, true);
  AppendObserved(out, false, true);
  chat_history_.AppendMetrics(&out);
  family("llmbench_sim_faults_total", "counter", "Injected faults by kind.");
  for (FaultKind k : AllFaultKinds()) {
    auto it = faults_.find(k);
    AppendSample(out, "llmbench_sim_faults_total",
                 Cat("kind=\"", FaultKindName(k), "\""),
                 static_cast<double>(it == faults_.end() ? 0 : it->second), false);
  }
  return out;
}

// ---------------------------------------------------------------------- Session: routing
void Session::Handle(const http::request<http::string_body>& req) {
  std::string_view target(req.target().data(), req.target().size());
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  if (req.method() == http::verb::get && path == "/sim/metrics") {
    WriteSimple(200, "text/plain; version=0.0.4; charset=utf-8", engine_.SimMetrics(), {});
    return;
  }
  switch (engine_.kind()) {
    case EngineKind::kOllama: HandleOllama(req, path); break;
    case EngineKind::kVllm: HandleVllm(req, path); break;
    case EngineKind::kTgi: HandleTgi(req, path); break;
  }
}

void Session::HandleOllama(const http::request<http::string_body>& req, std::string_view path) {
  const auto& cfg = engine_.cfg();
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  const bool post = req.method() == http::verb::post;
  if (get && path == "/") {
    WriteSimple(200, "text/plain; charset=utf-8", "Ollama is running", {});
  } else if (get && path == "/api/version") {
    WriteSimple(200, "application/json; charset=utf-8",
                Cat("{\"version\":\"", kOllamaVersion, "\"}"), {});
  } else if (get && (path == "/api/tags" || path == "/api/ps")) {
    std::string b = "{\"models\":[{\"name\":";
    AppendJsonString(b, cfg.model, JsonEscape::kGoHtml);
    b.append(",\"model\":");
    AppendJsonString(b, cfg.model, JsonEscape::kGoHtml);
    if (path == "/api/tags") {
      b.append(",\"modified_at\":\"");
      AppendRfc3339Nano(b, engine_.start_unix_s() * 1'000'000'000);
      b.append("\"");
    }
    b.append(
        ",\"size\":2019393189,\"digest\":\"a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72\","
        "\"details\":{\"parent_model\":\"\",\"format\":\"gguf\",\"family\":\"llama\",\"families\":[\"llama\"],"
        "\"parameter_size\":\"3.2B\",\"quantization_level\":\"Q4_K_M\"}");
    if (path == "/api/ps") {
      b.append(",\"expires_at\":\"");
      AppendRfc3339Nano(b, (engine_.start_unix_s() + 86400 * 365) * 1'000'000'000);
      b.append("\",\"size_vram\":2019393189,\"context_length\":");
      AppendInt(b, cfg.max_model_len);
    }
    b.append("}]}");
    WriteSimple(200, "application/json; charset=utf-8", b, {});
  } else if (get && path == "/v1/models") {
    std::string b = "{\"object\":\"list\",\"data\":[{\"id\":";
    AppendJsonString(b, cfg.model, JsonEscape::kGoHtml);
    b.append(",\"object\":\"model\",\"created\":");
    AppendInt(b, engine_.start_unix_s());
    b.append(",\"owned_by\":\"library\"}]}\n");
    WriteSimple(200, "application/json", b, {});
  } else if (post && path == "/api/generate") {
    StartGeneration(Api::kOllamaGenerate, req, true);
  } else if (post && path == "/api/chat") {
    StartGeneration(Api::kOllamaChat, req, true);
  } else if (post && path == "/v1/chat/completions") {
    StartGeneration(Api::kOllamaOaiChat, req, true);
  } else if (post && path == "/v1/completions") {
    StartGeneration(Api::kOllamaOaiCompletion, req, true);
  } else {
    WriteSimple(404, "text/plain", "404 page not found", {});
  }
}

void Session::HandleVllm(const http::request<http::string_body>& req, std::string_view path) {
  const auto& cfg = engine_.cfg();
  const bool get = req.method() == http::verb::get;
  const bool post = req.method() == http::verb::post;
  if (get && path == "/health") {
    WriteSimple(200, "", "", {});
  } else if (get && path == "/version") {
    WriteSimple(200, "application/json", Cat("{\"version\":\"", kVllmVersion, "\"}"), {});
  } else if (get && path == "/v1/models") {
    std::string b = "{\"object\":\"list\",\"data\":[{\"id\":";
    AppendJsonString(b, cfg.model);
    b.append(",\"object\":\"model\",\"created\":");
    AppendInt(b, engine_.start_unix_s());
    b.append(",\"owned_by\":\"vllm\",\"root\":");
    AppendJsonString(b, cfg.model);
    b.append(",\"parent\":null,\"max_model_len\":");
    AppendInt(b, cfg.max_model_len);
    b.append(",\"permission\":[{\"id\":\"modelperm-0000000000000000\",\"object\":\"model_permission\",\"created\":");
    AppendInt(b, engine_.start_unix_s());
    b.append(
        ",\"allow_create_engine\":false,\"allow_sampling\":true,\"allow_logprobs\":true,"
        "\"allow_search_indices\":false,\"allow_view\":true,\"allow_fine_tuning\":false,"
        "\"organization\":\"*\",\"group\":null,\"is_blocking\":false}]}]}");
    WriteSimple(200, "application/json", b, {});
  } else if (get && path == "/metrics") {
    WriteSimple(200, "text/plain; version=0.0.4; charset=utf-8", engine_.EngineMetrics(), {});
  } else if (post && (path == "/tokenize" || path == "/detokenize")) {
    const bool tokenize = path == "/tokenize";
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    simdjson::dom::object root;
    std::string b;
    if (parser.parse(req.body()).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(root) != simdjson::SUCCESS) {
      vllm::AppendError(b, "JSON decode error", "BadRequestError", 400);
      engine_.CountError("");
      WriteSimple(400, "application/json", b, {});
      return;
    }
    if (tokenize) {
      std::string text;
      std::string_view prompt;
      simdjson::dom::element messages;
      if (root.at_key("prompt").get_string().get(prompt) == simdjson::SUCCESS) {
        text = std::string(prompt);
      } else if (root.at_key("messages").get(messages) == simdjson::SUCCESS) {
        simdjson::dom::array arr;
        if (messages.get_array().get(arr) == simdjson::SUCCESS) {
          for (auto m : arr) {
            std::string_view c;
            if (m.at_key("content").get_string().get(c) == simdjson::SUCCESS) {
              text.append(c);
              text.push_back(' ');
            }
          }
        }
      } else {
        vllm::AppendError(b, "[{'type': 'missing', 'loc': ('body', 'prompt'), 'msg': 'Field required'}]",
                          "BadRequestError", 400);
        WriteSimple(400, "application/json", b, {});
        return;
      }
      std::vector<int64_t> ids;
      for (const SimToken& t : Tokenize(text, cfg.token_rule)) ids.push_back(t.id);
      b = "{\"count\":";
      AppendInt(b, static_cast<int64_t>(ids.size()));
      b.append(",\"max_model_len\":");
      AppendInt(b, cfg.max_model_len);
      b.append(",\"tokens\":[");
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i) b.push_back(',');
        AppendInt(b, ids[i]);
      }
      b.append("],\"token_strs\":null}");
    } else {
      simdjson::dom::array arr;
      if (root.at_key("tokens").get_array().get(arr) != simdjson::SUCCESS) {
        vllm::AppendError(b, "[{'type': 'missing', 'loc': ('body', 'tokens'), 'msg': 'Field required'}]",
                          "BadRequestError", 400);
        WriteSimple(400, "application/json", b, {});
        return;
      }
      std::string text;
      for (auto t : arr) {
        int64_t id;
        if (t.get_int64().get(id) == simdjson::SUCCESS) text.append(TokenIdText(id));
      }
      b = "{\"prompt\":";
      AppendJsonString(b, text);
      b.append("}");
    }
    WriteSimple(200, "application/json", b, {});
  } else if (post && path == "/v1/chat/completions") {
    StartGeneration(Api::kVllmChat, req, true);
  } else if (post && path == "/v1/completions") {
    StartGeneration(Api::kVllmCompletion, req, true);
  } else {
    WriteSimple(404, "application/json", "{\"detail\":\"Not Found\"}", {});
  }
}

namespace {
// TGI's /tokenize answer for `inputs`: [{"id","text","start","stop"},...].
std::string TgiTokens(std::string_view inputs, TokenRule rule) {
  std::string b = "[";
  bool first = true;
  for (const SimToken& t : Tokenize(inputs, rule)) {
    if (!first) b.push_back(',');
    first = false;
    b.append("{\"id\":");
    AppendInt(b, t.id);
    b.append(",\"text\":");
    AppendJsonString(b, inputs.substr(t.start, t.length));
    b.append(",\"start\":");
    AppendInt(b, static_cast<int64_t>(t.start));
    b.append(",\"stop\":");
    AppendInt(b, static_cast<int64_t>(t.start + t.length));
    b.push_back('}');
  }
  b.push_back(']');
  return b;
}
}  // namespace

void Session::HandleTgi(const http::request<http::string_body>& req, std::string_view path) {
  const auto& cfg = engine_.cfg();
  const bool get = req.method() == http::verb::get;
  const bool post = req.method() == http::verb::post;
  if (get && path == "/health") {
    WriteSimple(200, "", "", {});
  } else if (get && path == "/info") {
    std::string b = "{\"model_id\":";
    AppendJsonString(b, cfg.model);
    b.append(
        ",\"model_sha\":null,\"model_pipeline_tag\":\"text-generation\",\"max_concurrent_requests\":");
    AppendInt(b, std::max(128, cfg.latency.max_batch));
    b.append(",\"max_best_of\":2,\"max_stop_sequences\":4,\"max_input_tokens\":");
    AppendInt(b, std::max(cfg.max_model_len - 1, 1));
    b.append(",\"max_total_tokens\":");
    AppendInt(b, cfg.max_model_len);
    b.append(
        ",\"validation_workers\":2,\"max_client_batch_size\":4,\"router\":\"text-generation-router\","
        "\"version\":\"");
    b.append(kTgiVersion);
    b.append("\",\"sha\":null,\"docker_label\":null}");
    WriteSimple(200, "application/json", b, {});
  } else if (get && path == "/v1/models") {
    std::string b = "{\"object\":\"list\",\"data\":[{\"id\":";
    AppendJsonString(b, cfg.model);
    b.append(",\"object\":\"model\",\"created\":0,\"owned_by\":");
    AppendJsonString(b, cfg.model);
    b.append("}]}");
    WriteSimple(200, "application/json", b, {});
  } else if (get && path == "/metrics") {
    WriteSimple(200, "text/plain", engine_.EngineMetrics(), {});
  } else if (post && path == "/tokenize") {
    simdjson::dom::parser parser;
    std::string_view inputs;
    if (parser.parse(req.body()).at_key("inputs").get_string().get(inputs) != simdjson::SUCCESS) {
      WriteSimple(422, "text/plain; charset=utf-8",
                  "Failed to deserialize the JSON body into the target type: missing field `inputs`",
                  {});
      return;
    }
    WriteSimple(200, "application/json", TgiTokens(inputs, cfg.token_rule), {});
  } else if (post && path == "/chat_tokenize") {
    // The messages' contents, each its own text (the simulator has no chat template).
    simdjson::dom::parser parser;
    simdjson::dom::array messages;
    if (parser.parse(req.body()).at_key("messages").get_array().get(messages) != simdjson::SUCCESS) {
      WriteSimple(422, "text/plain; charset=utf-8",
                  "Failed to deserialize the JSON body into the target type: missing field `messages`",
                  {});
      return;
    }
    std::string text;
    for (auto m : messages) {
      std::string_view c;
      if (m.at_key("content").get_string().get(c) == simdjson::SUCCESS) {
        text.append(c);
        text.push_back(' ');
      }
    }
    std::string b = "{\"tokenize_response\":";
    b.append(TgiTokens(text, cfg.token_rule));
    b.append(",\"templated_text\":");
    AppendJsonString(b, text);
    b.push_back('}');
    WriteSimple(200, "application/json", b, {});
  } else if (post && path == "/generate") {
    StartGeneration(Api::kTgiGenerate, req, false);
  } else if (post && path == "/generate_stream") {
    StartGeneration(Api::kTgiGenerate, req, true);
  } else if (post && path == "/") {
    StartGeneration(Api::kTgiCompat, req, false);
  } else if (post && path == "/v1/chat/completions") {
    StartGeneration(Api::kTgiChat, req, true);
  } else if (post && path == "/v1/completions") {
    StartGeneration(Api::kTgiCompletion, req, true);
  } else {
    WriteSimple(404, "", "", {});
  }
}

// --------------------------------------------------------------------- Session: errors
ErrorInfo Session::FaultError(Api api, int status) const {
  const std::string& model = engine_.cfg().model;
  switch (engine_.kind()) {
    case EngineKind::kOllama: {
      std::string type = status == 400 ? "invalid_request_error"
                                       : (status == 404 ? "not_found_error" : "api_error");
      std::string msg;
      switch (status) {
        case 400: msg = "invalid options"; break;
        case 404: msg = Cat("model '", model, "' not found"); break;
        case 429: msg = "too many requests"; break;
        case 503: msg = "server busy, please try again.  maximum pending requests exceeded"; break;
        case 500: msg = "an error was encountered while running the model"; break;
        default: msg = "unprocessable request"; break;
      }
      return {status, msg, type};
    }
    case EngineKind::kVllm:
      switch (status) {
        case 400: return {400, "Simulated bad request.", "BadRequestError"};
        case 404: return {404, Cat("The model `", model, "` does not exist."), "NotFoundError"};
        case 422: return {422, "Simulated unprocessable entity.", "UnprocessableEntityError"};
        case 429: return {429, "Too many requests.", "TooManyRequestsError"};
        case 503: return {503, "The engine is overloaded.", "ServiceUnavailableError"};
        default:
          return {status, "EngineCore encountered an issue. See stack trace (above) for the root cause.",
                  "InternalServerError"};
      }
    case EngineKind::kTgi:
      switch (status) {
        case 400:
        case 422: return {status, "Input validation error: simulated fault", "validation"};
        case 404: return {404, "Model not found", "not_found"};
        case 429: return {429, "Model is overloaded", "overloaded"};
        case 503: return {503, "unhealthy", "healthcheck"};
        default: return {status, "Request failed during generation: simulated fault", "generation"};
      }
  }
  (void)api;
  return {status, "error", ""};
}

void Session::SendError(Api api, const ErrorInfo& e, bool allow_inband) {
  std::string b;
  switch (engine_.kind()) {
    case EngineKind::kOllama:
      if (api == Api::kOllamaOaiChat || api == Api::kOllamaOaiCompletion) {
        ollama::AppendOaiError(b, e.message, e.type);
        WriteSimple(e.status, "application/json", b, {});
      } else {
        ollama::AppendError(b, e.message, false);
        WriteSimple(e.status, "application/json; charset=utf-8", b, {});
      }
      break;
    case EngineKind::kVllm:
      vllm::AppendError(b, e.message, e.type, e.status);
      WriteSimple(e.status, "application/json", b, {});
      break;
    case EngineKind::kTgi:
      if (allow_inband && (e.type == "validation" || e.type == "overloaded")) {
        // /generate_stream reports validation and overload in-band with HTTP 200.
        StartChunked(200, "text/event-stream",
                     {{"cache-control", "no-cache"}, {"x-accel-buffering", "no"}});
        const size_t pos = BeginEvent();
        tgi::AppendStreamError(Buf(), e.message, e.type);
        EndEvent(pos);
        EndChunked();
      } else {
        tgi::AppendError(b, e.message, e.type);
        WriteSimple(e.status, "application/json", b, {});
      }
      break;
  }
}

// ----------------------------------------------------------------- Session: generation
void Session::StartGeneration(Api api, const http::request<http::string_body>& req,
                              bool stream_route) {
  // The request arrived when its first bytes reached the socket (kernel timestamp), which is
  // earlier than now when this thread was busy: the model and the observed TTFT count from
  // there, and the difference is reported as read lag.
  const int64_t now = NowNs();
  const int64_t arrival = arrival_ns_ >= 0 && arrival_ns_ <= now ? arrival_ns_ : now;
  engine_.ObserveReadLag(now - arrival);
  FaultSpec fault;
  const uint64_t request_no = engine_.NextRequestNo(&fault);
  auto fh = req.find("x-llmbench-fault");
  if (fh != req.end()) {
    auto parsed = ParseFaultHeader(std::string_view(fh->value().data(), fh->value().size()));
    if (!parsed.ok()) {
      engine_.CountError("validation");
      WriteSimple(400, "text/plain; charset=utf-8",
                  Cat("x-llmbench-fault: ", parsed.status().message()), {});
      return;
    }
    fault = *parsed;
  }
  ParseResult parsed = ParseGenRequest(api, req.body(), engine_.Limits(), stream_route);
  if (auto* err = std::get_if<RequestError>(&parsed)) {
    engine_.CountError(err->type);
    if (err->plain_text) {
      WriteSimple(err->status, "text/plain; charset=utf-8", err->message, {});
      return;
    }
    const bool inband = api == Api::kTgiGenerate && stream_route;
    SendError(api, ErrorInfo{err->status, err->message, err->type}, inband);
    return;
  }
  GenRequest& g = std::get<GenRequest>(parsed);
  if (const int status = FaultStatus(fault.kind); status != 0) {
    engine_.CountFault(fault.kind);
    engine_.CountError(FaultError(api, status).type);
    const bool inband = IsTgiNative(api) && g.stream;
    SendError(api, FaultError(api, status), inband);
    return;
  }
  if (g.load_only) {
    // Ollama: an empty prompt only loads the model.
    std::string b;
    const int64_t now_unix = engine_.ToUnixNs(NowNs());
    ollama::FinalMetrics none;
    if (api == Api::kOllamaGenerate) {
      ollama::AppendGenerateFinal(b, g.model, now_unix, "", "load", none, g.stream);
    } else {
      ollama::AppendChatFinal(b, g.model, now_unix, "", "load", none, g.stream);
    }
    WriteSimple(200, g.stream ? "application/x-ndjson" : "application/json; charset=utf-8", b, {});
    return;
  }
  Generation& gen = gen_.emplace();
  gen.req = std::move(g);
  gen.request_no = request_no;
  gen.key = RequestKey(engine_.cfg().latency.seed, request_no);
  gen.arrival_ns = arrival;
  gen.fault = fault;
  read_ns_ = arrival;
  last_token_write_ns_ = -1;
  if (fault.kind != FaultKind::kNone) {
    gen.fault_at = std::min(fault.after, gen.req.output_tokens - 1);
    if (fault.kind == FaultKind::kSplitUtf8 && gen.req.stream) {
      // The split token must not be the last one (that event also ends the response).
      gen.fault_at = std::min(fault.after, gen.req.output_tokens - 2);
    }
    engine_.CountFault(fault.kind);
  }
  if (api == Api::kOllamaChat || api == Api::kOllamaOaiChat || api == Api::kVllmChat ||
      api == Api::kTgiChat) {
    // What a multi-turn client sends back must be this reply (sim/chat_history.h).
    engine_.chat_history().ObserveRequest(req.body());
    if (fault.kind == FaultKind::kNone) {
      std::string reply;
      const int tokens = gen.req.eos ? gen.req.output_tokens - 1 : gen.req.output_tokens;
      for (int i = 0; i < tokens; ++i) reply.append(VocabToken(gen.key, i));
      engine_.chat_history().AddReply(reply);
    }
  }
  const uint64_t key = gen.key;
  switch (engine_.kind()) {
    case EngineKind::kOllama:
      gen.id = Cat(api == Api::kOllamaOaiChat ? "chatcmpl-" : "cmpl-", MixKey(key) % 999);
      break;
    case EngineKind::kVllm: {
      gen.id = api == Api::kVllmChat ? "chatcmpl-" : "cmpl-";
      static constexpr char kHex[] = "0123456789abcdef";
      uint64_t h = MixKey(key);
      for (int i = 0; i < 16; ++i) gen.id.push_back(kHex[(h >> (60 - 4 * i)) & 0xF]);
      gen.created = engine_.ToUnixNs(arrival) / 1'000'000'000;
      break;
    }
    case EngineKind::kTgi: gen.created = engine_.ToUnixNs(arrival) / 1'000'000'000; break;
  }
  if (gen.req.stream) {
    switch (api) {
      case Api::kOllamaGenerate:
      case Api::kOllamaChat: StartChunked(200, "application/x-ndjson", {}); break;
      case Api::kVllmChat:
      case Api::kVllmCompletion: StartChunked(200, "text/event-stream; charset=utf-8", {}); break;
      case Api::kTgiGenerate:
      case Api::kTgiCompat:
      case Api::kTgiChat:
      case Api::kTgiCompletion:
        StartChunked(200, "text/event-stream",
                     {{"cache-control", "no-cache"},
                      {"x-accel-buffering", "no"},
                      {"x-compute-type", "gpu+optimized"},
                      {"x-compute-characters", std::to_string(gen.req.prompt_chars)}});
        break;
      default: StartChunked(200, "text/event-stream", {}); break;
    }
    Flush();
  }
  gen.seq = engine_.Submit(shared_from_this(), &ctx_, gen.req, arrival);
  StartWatch();
}

std::string_view Session::FinishReason() const {
  const bool eos = gen_->req.eos;
  if (IsTgiNative(gen_->req.api)) return eos ? "eos_token" : "length";
  return eos ? "stop" : "length";
}

void Session::AppendMalformed() {
  const size_t pos = BeginEvent();
  std::string& b = Buf();
  switch (gen_->req.api) {
    case Api::kOllamaGenerate:
    case Api::kOllamaChat:
      b.append("{\"model\":");
      AppendJsonString(b, gen_->req.model, JsonEscape::kGoHtml);
      b.append(",\"created_at\":\"20\n");
      break;
    case Api::kTgiGenerate:
    case Api::kTgiCompat:
    case Api::kTgiChat:
    case Api::kTgiCompletion: b.append("data:{\"index\":0,\"token\":{\"id\":\n\n"); break;
    default: b.append("data: {\"id\":\"").append(gen_->id).append("\",\"object\n\n"); break;
  }
  EndEvent(pos);
}

bool Session::FireFault(int index) {
  Generation& gen = *gen_;
  switch (gen.fault.kind) {
    case FaultKind::kStreamError: {
      engine_.Cancel(gen.seq, Outcome::kFault, &ctx_);
      if (!gen.req.stream) {
        SendError(gen.req.api, FaultError(gen.req.api, 500), false);
        gen_.reset();
        return true;
      }
      const size_t pos = BeginEvent();
      std::string& b = Buf();
      switch (gen.req.api) {
        case Api::kOllamaGenerate:
        case Api::kOllamaChat:
          ollama::AppendError(b, "an error was encountered while running the model", true);
          break;
        case Api::kOllamaOaiChat:
          ollama::AppendOaiChatFinishChunk(b, gen.id, gen.created, gen.req.model, std::nullopt);
          break;
        case Api::kOllamaOaiCompletion:
          ollama::AppendOaiCompletionChunk(b, gen.id, gen.created, gen.req.model, "", std::nullopt,
                                           gen.req.include_usage);
          break;
        case Api::kVllmChat:
        case Api::kVllmCompletion:
          vllm::AppendStreamError(
              b, "EngineCore encountered an issue. See stack trace (above) for the root cause.",
              "InternalServerError", 500);
          vllm::AppendDone(b);
          break;
        case Api::kTgiGenerate:
        case Api::kTgiCompat:
          tgi::AppendStreamError(b, "Request failed during generation: simulated fault", "generation");
          break;
        case Api::kTgiChat:
        case Api::kTgiCompletion:
          tgi::AppendOaiStreamError(b, "Request failed during generation: simulated fault");
          break;
      }
      EndEvent(pos);
      close_after_response_ = true;
      gen_.reset();
      EndChunked();
      return true;
    }
    case FaultKind::kReset:
      engine_.Cancel(gen.seq, Outcome::kFault, &ctx_);
      gen_.reset();
      reset_pending_ = true;
      Flush();
      AfterDrain();
      return true;
    case FaultKind::kStall:
      engine_.Cancel(gen.seq, Outcome::kFault, &ctx_);
      gen_.reset();
      stall_pending_ = true;
      Flush();
      AfterDrain();
      return true;
    case FaultKind::kMalformed:
      if (gen.req.stream) AppendMalformed();
      return false;
    default: (void)index; return false;
  }
}

void Session::RenderEvent(const SchedulerEvent& ev) {
  if (!gen_ || gen_->seq != ev.seq || closed_) return;
  Generation& gen = *gen_;
  const int index = ev.token_index;
  if (index == 0) {
    gen.admitted_ns = ev.admitted_ns;
    gen.first_ns = ev.at_ns;
    if (engine_.kind() == EngineKind::kOllama) {
      gen.created = engine_.ToUnixNs(ev.at_ns) / 1'000'000'000;
    }
  }
  if (index == gen.fault_at && FireFault(index)) return;
  // The token's text.
  const bool eos_token = ev.last && gen.req.eos;
  std::string_view text = eos_token ? std::string_view() : VocabToken(gen.key, index);
  std::string special;
  bool split = false;
  if (index == gen.fault_at && !eos_token) {
    if (gen.fault.kind == FaultKind::kSplitUtf8) {
      text = " naïve";
      split = gen.req.stream;
    } else if (gen.fault.kind == FaultKind::kHugeLine) {
      special.assign(kHugeTokenBytes, 'x');
      special[0] = ' ';
      text = special;
    }
  }
  // The whole text is only needed for a non-stream body or TGI's final generated_text.
  if (!gen.req.stream || IsTgiNative(gen.req.api)) gen.text.append(text);
  if (!gen.req.stream) {
    if (ev.last) FinishNonStream(ev.at_ns, eos_token);
    return;
  }
  pending_at_.push_back(ev.at_ns);
  if (index == 0) pending_first_ = true;
  if (split && !ev.last) {
    // Render the event unframed, then split it inside "ï" (0xC3 0xAF) across two writes.
    std::string& b = Buf();
    const size_t before = b.size();
    const bool was_chunked = chunked_;
    chunked_ = false;
    RenderToken(index, text, false, ev.at_ns);
    chunked_ = was_chunked;
    const std::string rendered = b.substr(before);
    b.resize(before);
    const size_t cut = rendered.find('\xC3');
    auto frame = [&](std::string& dst, std::string_view data) {
      if (was_chunked) {
        char hdr[20];
        const int n = std::snprintf(hdr, sizeof(hdr), "%zx\r\n", data.size());
        dst.append(hdr, static_cast<size_t>(n));
      }
      dst.append(data);
      if (was_chunked) dst.append("\r\n");
    };
    frame(Buf(), std::string_view(rendered).substr(0, cut + 1));
    split_barrier_ = true;  // later output goes to held_ until the pause is over
    frame(held_, std::string_view(rendered).substr(cut + 1));
    Flush();
    return;
  }
  RenderToken(index, text, ev.last, ev.at_ns);
  Flush();
}

void Session::RenderToken(int index, std::string_view text, bool last, int64_t at_ns) {
  Generation& gen = *gen_;
  const GenRequest& r = gen.req;
  const bool eos_token = last && r.eos;
  const std::string_view finish = FinishReason();
  Usage usage{r.prompt_tokens, index + 1};
  switch (r.api) {
    case Api::kOllamaGenerate:
    case Api::kOllamaChat: {
      const int64_t unix_ns = engine_.ToUnixNs(at_ns);
      if (!eos_token) {
        const size_t pos = BeginEvent();
        if (r.api == Api::kOllamaGenerate) {
          ollama::AppendGenerateChunk(Buf(), r.model, unix_ns, text);
        } else {
          ollama::AppendChatChunk(Buf(), r.model, unix_ns, text);
        }
        EndEvent(pos);
      }
      if (last) {
        ollama::FinalMetrics m;
        m.total_duration = at_ns - gen.arrival_ns;
        m.load_duration = gen.admitted_ns - gen.arrival_ns;
        m.prompt_eval_count = r.prompt_tokens;
        m.prompt_eval_duration = gen.first_ns - gen.admitted_ns;
        m.eval_count = index + 1;
        m.eval_duration = at_ns - gen.first_ns;
        const size_t pos = BeginEvent();
        if (r.api == Api::kOllamaGenerate) {
          ollama::AppendGenerateFinal(Buf(), r.model, unix_ns, "", finish, m, true);
        } else {
          ollama::AppendChatFinal(Buf(), r.model, unix_ns, "", finish, m, true);
        }
        EndEvent(pos);
      }
      break;
    }
    case Api::kOllamaOaiChat: {
      size_t pos = BeginEvent();
      if (!eos_token) {
        ollama::AppendOaiChatChunk(Buf(), gen.id, gen.created, r.model, text, !gen.role_sent);
        gen.role_sent = true;
      }
      if (last) {
        ollama::AppendOaiChatFinishChunk(Buf(), gen.id, gen.created, r.model, finish);
        if (r.include_usage) ollama::AppendOaiChatUsageChunk(Buf(), gen.id, gen.created, r.model, usage);
        ollama::AppendOaiDone(Buf());
      }
      EndEvent(pos);
      break;
    }
    case Api::kOllamaOaiCompletion: {
      size_t pos = BeginEvent();
      if (!eos_token) {
        ollama::AppendOaiCompletionChunk(Buf(), gen.id, gen.created, r.model, text, std::nullopt,
                                         r.include_usage);
      }
      if (last) {
        ollama::AppendOaiCompletionChunk(Buf(), gen.id, gen.created, r.model, "", finish,
                                         r.include_usage);
        if (r.include_usage) {
          ollama::AppendOaiCompletionUsageChunk(Buf(), gen.id, gen.created, r.model, usage);
        }
        ollama::AppendOaiDone(Buf());
      }
      EndEvent(pos);
      break;
    }
    case Api::kVllmChat:
    case Api::kVllmCompletion: {
      const Usage* cu = r.continuous_usage ? &usage : nullptr;
      size_t pos = BeginEvent();
      if (index == 0 && r.api == Api::kVllmChat) {
        Usage zero{r.prompt_tokens, 0};
        vllm::AppendChatRoleChunk(Buf(), gen.id, gen.created, r.model, cu ? &zero : nullptr);
      }
      std::optional<std::string_view> f;
      if (last) f = finish;
      if (r.api == Api::kVllmChat) {
        vllm::AppendChatTokenChunk(Buf(), gen.id, gen.created, r.model, text, f, cu);
      } else {
        vllm::AppendCompletionChunk(Buf(), gen.id, gen.created, r.model, text, f, cu);
      }
      if (last) {
        if (r.include_usage) {
          vllm::AppendUsageChunk(Buf(), gen.id,
                                 r.api == Api::kVllmChat ? "chat.completion.chunk" : "text_completion",
                                 gen.created, r.model, usage);
        }
        vllm::AppendDone(Buf());
      }
      EndEvent(pos);
      break;
    }
    case Api::kTgiGenerate:
    case Api::kTgiCompat: {
      tgi::Token tok;
      if (eos_token) {
        tok = tgi::Token{2, "</s>", "-0.1", true};
      } else {
        tok = tgi::Token{VocabTokenId(gen.key, index), text,
                         VocabLogprob(gen.key, index), false};
      }
      tgi::StreamDetails details{finish, index + 1, r.seed, r.prompt_tokens};
      const size_t pos = BeginEvent();
      tgi::AppendStreamToken(Buf(), index + 1, tok,
                             last ? std::optional<std::string_view>(gen.text) : std::nullopt,
                             last && r.details ? &details : nullptr);
      EndEvent(pos);
      break;
    }
    case Api::kTgiChat:
    case Api::kTgiCompletion: {
      const std::string_view oai_finish = r.eos ? "stop" : "length";
      std::optional<std::string_view> f;
      if (last) f = oai_finish;
      size_t pos = BeginEvent();
      if (r.api == Api::kTgiChat) {
        tgi::AppendChatChunk(Buf(), gen.created, r.model, kTgiFingerprint, text, f);
        if (last && r.include_usage) {
          tgi::AppendChatUsageChunk(Buf(), gen.created, r.model, kTgiFingerprint, usage);
        }
      } else {
        tgi::AppendCompletionChunk(Buf(), gen.created, r.model, kTgiFingerprint, text, f);
      }
      if (last) tgi::AppendDone(Buf());
      EndEvent(pos);
      break;
    }
  }
  if (last) {
    gen_.reset();
    EndChunked();
  }
}

void Session::FinishNonStream(int64_t at_ns, bool last_was_eos) {
  Generation& gen = *gen_;
  const GenRequest& r = gen.req;
  const std::string_view finish = FinishReason();
  const int completion = r.output_tokens;
  Usage usage{r.prompt_tokens, completion};
  std::string b;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type = "application/json";
  (void)last_was_eos;
  switch (r.api) {
    case Api::kOllamaGenerate:
    case Api::kOllamaChat: {
      ollama::FinalMetrics m;
      m.total_duration = at_ns - gen.arrival_ns;
      m.load_duration = gen.admitted_ns - gen.arrival_ns;
      m.prompt_eval_count = r.prompt_tokens;
      m.prompt_eval_duration = gen.first_ns - gen.admitted_ns;
      m.eval_count = completion;
      m.eval_duration = at_ns - gen.first_ns;
      const int64_t unix_ns = engine_.ToUnixNs(at_ns);
      if (r.api == Api::kOllamaGenerate) {
        ollama::AppendGenerateFinal(b, r.model, unix_ns, gen.text, finish, m, false);
      } else {
        ollama::AppendChatFinal(b, r.model, unix_ns, gen.text, finish, m, false);
      }
      content_type = "application/json; charset=utf-8";
      break;
    }
    case Api::kOllamaOaiChat:
      ollama::AppendOaiChatCompletion(b, gen.id, gen.created, r.model, gen.text, finish, usage);
      break;
    case Api::kOllamaOaiCompletion:
      ollama::AppendOaiCompletion(b, gen.id, gen.created, r.model, gen.text, finish, usage);
      break;
    case Api::kVllmChat:
      vllm::AppendChatCompletion(b, gen.id, gen.created, r.model, gen.text, finish, usage);
      break;
    case Api::kVllmCompletion:
      vllm::AppendCompletion(b, gen.id, gen.created, r.model, gen.text, finish, usage);
      break;
    case Api::kTgiGenerate:
    case Api::kTgiCompat: {
      if (r.api == Api::kTgiCompat) b.push_back('[');
      b.append("{\"generated_text\":");
      AppendJsonString(b, gen.text);
      if (r.details) {
        b.append(",\"details\":{\"finish_reason\":\"");
        b.append(finish);
        b.append("\",\"generated_tokens\":");
        AppendInt(b, completion);
        b.append(",\"seed\":");
        b.append(r.seed ? std::to_string(*r.seed) : std::string("null"));
        b.append(",\"prefill\":[],\"tokens\":[");
        for (int i = 0; i < completion; ++i) {
          if (i) b.push_back(',');
          if (i == completion - 1 && r.eos) {
            tgi::AppendTokenJson(b, tgi::Token{2, "</s>", "-0.1", true}, true);
          } else {
            tgi::AppendTokenJson(b, tgi::Token{VocabTokenId(gen.key, i), VocabToken(gen.key, i),
                                               VocabLogprob(gen.key, i), false},
                                 true);
          }
        }
        b.append("]}");
      }
      b.push_back('}');
      if (r.api == Api::kTgiCompat) b.push_back(']');
      const int64_t total_ms = (at_ns - gen.arrival_ns) / 1'000'000;
      const int64_t queue_ms = (gen.admitted_ns - gen.arrival_ns) / 1'000'000;
      const int64_t inference_ms = (at_ns - gen.admitted_ns) / 1'000'000;
      std::string compute_time;
      AppendShortestDouble(compute_time, static_cast<double>(at_ns - gen.arrival_ns) * 1e-9);
      headers = {{"x-compute-type", "gpu+optimized"},
                 {"x-compute-time", compute_time},
                 {"x-compute-characters", std::to_string(r.prompt_chars)},
                 {"x-total-time", std::to_string(total_ms)},
                 {"x-validation-time", "0"},
                 {"x-queue-time", std::to_string(queue_ms)},
                 {"x-inference-time", std::to_string(inference_ms)},
                 {"x-time-per-token", std::to_string(inference_ms / std::max(completion, 1))},
                 {"x-prompt-tokens", std::to_string(r.prompt_tokens)},
                 {"x-generated-tokens", std::to_string(completion)}};
      break;
    }
    case Api::kTgiChat:
      tgi::AppendChatCompletion(b, gen.created, r.model, kTgiFingerprint, gen.text,
                                r.eos ? "stop" : "length", usage);
      break;
    case Api::kTgiCompletion:
      tgi::AppendCompletion(b, gen.created, r.model, kTgiFingerprint, gen.text,
                            r.eos ? "stop" : "length", usage);
      break;
  }
  const bool split = gen.fault.kind == FaultKind::kSplitUtf8 && gen.fault_at >= 0;
  gen_.reset();
  if (split) {
    // Non-stream split_utf8: the body's bytes are split inside "ï" across two writes.
    std::string& buf = Buf();
    AppendHead(buf, 200, content_type, headers);
    buf.append("content-length: ");
    AppendInt(buf, static_cast<int64_t>(b.size()));
    buf.append("\r\n\r\n");
    const size_t cut = b.find('\xC3');
    buf.append(b, 0, cut + 1);
    split_barrier_ = true;
    held_.append(b, cut + 1, std::string::npos);
    response_done_ = true;
    Flush();
    return;
  }
  WriteSimple(200, content_type, b, headers);
}

// ---------------------------------------------------------------------------- SimServer
struct SimServer::State {
  SimConfig config;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<Engine>> engines;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<BoundEndpoint> endpoints;
  std::atomic<size_t> next_ctx{0};
  std::unique_ptr<asio::signal_set> signals;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;

  void Accept(size_t i) {
    tcp::acceptor& acc = *acceptors[i];
    const size_t target = next_ctx.fetch_add(1) % contexts.size();
    asio::io_context& ctx = *contexts[target];
    acc.async_accept(ctx, [this, i, &ctx](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        // Kernel receive timestamps: a request's arrival is when its bytes reached the
        // socket, not when this (possibly busy) thread got to read them (Session::DoRead).
        const int on = 1;
        ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
        auto s = std::make_shared<Session>(std::move(socket), *engines[i], ctx);
        asio::dispatch(ctx, [s] { s->Start(); });
      }
      Accept(i);
    });
  }
};

SimServer::SimServer(SimConfig config) : state_(std::make_unique<State>()) {
  state_->config = std::move(config);
  if (state_->config.listens.empty()) state_->config.listens.push_back(ListenSpec{});
  const int threads = std::max(state_->config.threads, 1);
  for (int i = 0; i < threads; ++i) {
    state_->contexts.push_back(std::make_unique<asio::io_context>(1));
  }
}

SimServer::~SimServer() { Stop(); }

absl::Status SimServer::Start() {
  State& s = *state_;
  for (size_t i = 0; i < s.config.listens.size(); ++i) {
    const ListenSpec& spec = s.config.listens[i];
    asio::io_context& home = *s.contexts[i % s.contexts.size()];
    s.engines.push_back(std::make_unique<Engine>(spec.kind, s.config, home));
    beast::error_code ec;
    const auto addr = asio::ip::make_address(spec.host, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          Cat("--listen ", EngineKindName(spec.kind), "=", spec.host, ":", spec.port,
                       ": bad address: ", ec.message()));
    }
    auto acc = std::make_unique<tcp::acceptor>(*s.contexts[0]);
    const tcp::endpoint ep(addr, spec.port);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && s.config.reuse_port) {
      // Several simulator processes on one port (the kernel spreads connections over them):
      // how a benchmark gets past one process's file-descriptor limit.
      acc->set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
    }
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(Cat("cannot listen on ", spec.host, ":", spec.port,
                                                 " for ", EngineKindName(spec.kind), ": ",
                                                 ec.message()));
    }
    const auto local = acc->local_endpoint();
    s.endpoints.push_back(BoundEndpoint{spec.kind, spec.host, local.port()});
    s.acceptors.push_back(std::move(acc));
  }
  for (size_t i = 0; i < s.acceptors.size(); ++i) s.Accept(i);
  return absl::OkStatus();
}

const std::vector<BoundEndpoint>& SimServer::Endpoints() const { return state_->endpoints; }

void SimServer::HandleSignals() {
  State& s = *state_;
  if (s.signals) return;
  // asio installs the handlers now and queues a signal that arrives before Run() serves it.
  s.signals = std::make_unique<asio::signal_set>(*s.contexts[0], SIGINT, SIGTERM);
  s.signals->async_wait([this](beast::error_code ec, int) {
    if (!ec) Stop();
  });
}

void SimServer::Run(bool handle_signals) {
  State& s = *state_;
  if (handle_signals) HandleSignals();
  for (auto& ctx : s.contexts) s.guards.push_back(asio::make_work_guard(*ctx));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < s.contexts.size(); ++i) {
    threads.emplace_back([ctx = s.contexts[i].get()] { ctx->run(); });
  }
  s.contexts[0]->run();
  for (auto& t : threads) t.join();
}

void SimServer::Stop() {
  if (!state_) return;
  for (auto& ctx : state_->contexts) ctx->stop();
}

std::string ListeningLine(const BoundEndpoint& ep) {
  const bool v6 = ep.host.find(':') != std::string::npos;
  return Cat("listening ", EngineKindName(ep.kind), " http://", v6 ? "[" : "", ep.host,
                      v6 ? "]" : "", ":", ep.port);
}

}  // namespace llmbench::sim
