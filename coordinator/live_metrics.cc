#include "coordinator/live_metrics.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <system_error>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/version.h"
#include "coordinator/request_metrics.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr double kNsPerSecond = 1e9;
constexpr size_t kUnknownOutcome = 9;

size_t OutcomeSlot(v1::ErrorClass error_class) {
  const int n = static_cast<int>(error_class);
  return n >= 0 && n < static_cast<int>(kUnknownOutcome) ? static_cast<size_t>(n)
                                                         : kUnknownOutcome;
}

absl::string_view OutcomeName(size_t slot) {
  static constexpr std::array<absl::string_view, 10> kNames = {
      "success",       "connect", "timeout",   "http_4xx", "http_5xx",
      "overloaded", "stream_broken", "parse", "cancelled", "unknown"};
  return kNames[slot];
}

// ---------------------------------------------------------------------------------------------
// Exposition text.

void Family(std::string& out, absl::string_view name, absl::string_view type,
            absl::string_view help) {
  absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

// `labels` is "" or `a="x",b="y"` (already escaped).
void Sample(std::string& out, absl::string_view name, absl::string_view labels,
            absl::string_view value) {
  absl::StrAppend(&out, name);
  if (!labels.empty()) absl::StrAppend(&out, "{", labels, "}");
  absl::StrAppend(&out, " ", value, "\n");
}

std::string Label(absl::string_view name, absl::string_view value) {
  return absl::StrCat(name, "=\"",
                      EscapeLabelValue(std::string_view(value.data(), value.size())), "\"");
}

std::string Seconds(int64_t ns) {
  return FormatPrometheusDouble(static_cast<double>(ns) / kNsPerSecond);
}

void AppendHistogram(std::string& out, absl::string_view name, const std::string& labels,
                     const LiveHistogram& h) {
  const std::string bucket = absl::StrCat(name, "_bucket");
  const std::string prefix = labels.empty() ? "" : absl::StrCat(labels, ",");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h.counts().size(); ++i) {
    cumulative += h.counts()[i];
    const std::string le = i < h.bounds_ns().size() ? Seconds(h.bounds_ns()[i]) : "+Inf";
    Sample(out, bucket, absl::StrCat(prefix, "le=\"", le, "\""), absl::StrCat(cumulative));
  }
  Sample(out, absl::StrCat(name, "_sum"), labels, Seconds(h.sum_ns()));
  Sample(out, absl::StrCat(name, "_count"), labels, absl::StrCat(h.count()));
}

// ---------------------------------------------------------------------------------------------
// HTTP.

constexpr auto kReadTimeout = std::chrono::seconds(30);
constexpr auto kDrainTimeout = std::chrono::seconds(2);
constexpr uint32_t kHeaderLimit = 8 * 1024;
constexpr uint64_t kBodyLimit = 8 * 1024;

// One connection: read a request, answer it, repeat while the client keeps it alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const std::function<std::string()>* render)
      : stream_(std::move(socket)), render_(render) {}

  void Read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    stream_.expires_after(kReadTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->OnRead(ec);
                     });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted) {
      Close();
      return;
    }
    if (ec) {
      // A malformed request (anything the HTTP parser rejects) gets a 400; a transport error
      // (reset) just ends the connection.
      if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
        Respond(http::status::bad_request, 11, absl::StrCat("bad request: ", ec.message(), "\n"),
                "text/plain; charset=utf-8", false);
      } else {
        Close();
      }
      return;
    }
    const http::request<http::string_body>& req = parser_->get();
    absl::string_view target(req.target().data(), req.target().size());
    target = target.substr(0, target.find('?'));
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    if (target != "/metrics") {
      Respond(http::status::not_found, version, "not found: the metrics are at /metrics\n",
              "text/plain; charset=utf-8", keep_alive);
    } else if (req.method() != http::verb::get) {
      Respond(http::status::method_not_allowed, version, "method not allowed: use GET\n",
              "text/plain; charset=utf-8", keep_alive);
    } else {
      std::string body;
      try {
        body = (*render_)();
      } catch (const std::exception& e) {  // bad_alloc: answer instead of dying
        Respond(http::status::internal_server_error, version,
                absl::StrCat("cannot render the metrics: ", e.what(), "\n"),
                "text/plain; charset=utf-8", false);
        return;
      }
      Respond(http::status::ok, version, std::move(body), kPrometheusTextContentType,
              keep_alive);
    }
  }

  void Respond(http::status status, unsigned version, std::string body,
               absl::string_view content_type, bool keep_alive) {
    auto res = std::make_shared<http::response<http::string_body>>(status, version);
    res->set(http::field::server, absl::StrCat("llmbench/", kVersion));
    res->set(http::field::content_type, std::string(content_type));
    if (status == http::status::method_not_allowed) res->set(http::field::allow, "GET");
    res->keep_alive(keep_alive);
    res->body() = std::move(body);
    res->prepare_payload();
    stream_.expires_after(kReadTimeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec) {
                          self->Close();
                        } else if (!res->keep_alive()) {
                          self->DrainThenClose();
                        } else {
                          self->Read();
                        }
                      });
  }

  // Closing a socket with unread input sends a reset, which can destroy the response before
  // the client reads it (a rejected request's rest): half-close, read what is left until the
  // client closes (or kDrainTimeout), then close.
  void DrainThenClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kDrainTimeout);
    stream_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) {
                                self->Close();
                              } else {
                                self->DrainThenClose();
                              }
                            });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::array<char, 4096> discard_;
  const std::function<std::string()>* render_;
};

absl::Status BadListen(const std::string& listen, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("--metrics-listen \"", listen, "\": ", why,
                                                 " (expected HOST:PORT, e.g. 127.0.0.1:9464)"));
}

absl::StatusOr<tcp::endpoint> ParseListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return BadListen(listen, "no port");
  std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return BadListen(listen, "no host");
  int port = -1;
  if (!absl::SimpleAtoi(port_text, &port) || port < 0 || port > 65535) {
    return BadListen(listen,
                     absl::StrCat("port \"", port_text, "\" is not a number from 0 to 65535"));
  }
  if (host == "localhost") host = "127.0.0.1";
  beast::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) {
    return BadListen(listen, absl::StrCat("host \"", host,
                                          "\" is not an IP address or localhost"));
  }
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Registry.

void LiveHistogram::Observe(int64_t ns) {
  ns = std::max<int64_t>(ns, 0);
  const size_t i = static_cast<size_t>(
      std::lower_bound(bounds_ns_.begin(), bounds_ns_.end(), ns) - bounds_ns_.begin());
  ++counts_[i];
  ++count_;
  sum_ns_ += ns;
}

LiveMetrics::EngineHistograms::EngineHistograms()
    : ttft(kLiveTtftBucketsNs),
      itl(kLiveItlBucketsNs),
      e2e(kLiveE2eBucketsNs),
      lateness(kLiveLatenessBucketsNs) {}

LiveMetrics::LiveMetrics(const Clock& clock) : clock_(clock) {}
LiveMetrics::~LiveMetrics() = default;

void LiveMetrics::BeginRun(std::string run_id, const v1::Scenario& scenario) {
  State fresh;
  fresh.running = true;
  fresh.run_id = std::move(run_id);
  fresh.scenario = scenario.name();
  fresh.started_ns = clock_.NowNs();
  for (const v1::Engine& engine : scenario.engines()) fresh.engines.try_emplace(engine.name());
  std::lock_guard<std::mutex> lock(mu_);
  state_ = std::move(fresh);
  last_cell_ = nullptr;
  last_engine_ = nullptr;
}

void LiveMetrics::Add(const v1::RequestRecord& record) {
  if (record.warmup()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (last_cell_ == nullptr || record.engine() != last_engine_name_ ||
      record.worker_id() != last_worker_name_) {
    last_engine_name_ = record.engine();
    last_worker_name_ = record.worker_id();
    last_cell_ = &state_.cells[{last_engine_name_, last_worker_name_}];
    last_engine_ = &state_.engines[last_engine_name_];
  }
  Cell& cell = *last_cell_;
  EngineHistograms& histograms = *last_engine_;
  const size_t slot = OutcomeSlot(record.error_class());
  ++cell.requests[slot];
  if (record.has_scheduled_ns()) {
    histograms.lateness.Observe(record.sent_ns() - record.scheduled_ns());
  }
  if (slot != 0) return;
  cell.output_tokens += record.output_tokens();
  if (record.has_input_tokens()) {
    cell.input_tokens += record.input_tokens();
  } else if (record.has_prompt_tokens_sent()) {
    cell.input_tokens += record.prompt_tokens_sent();
  }
  const RequestMetrics m = MetricsOf(record);
  histograms.e2e.Observe(m.e2e_ns);
  if (m.ttft_ns) histograms.ttft.Observe(*m.ttft_ns);
  ForEachGap(record, [&](int64_t gap) { histograms.itl.Observe(gap); });
}

void LiveMetrics::OnWorkerMessage(std::string_view worker_id, uint32_t loop_threads,
                                  const v1::WorkerMessage& message) {
  if (message.kind_case() != v1::WorkerMessage::kProgress &&
      message.kind_case() != v1::WorkerMessage::kSummary) {
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  WorkerGauges& gauges = state_.workers[std::string(worker_id)];
  if (message.has_summary()) {
    gauges.in_flight = 0;
    return;
  }
  gauges.in_flight = message.progress().in_flight();
  if (message.progress().cpu_utilization() > 0) {
    gauges.cpu_utilization =
        message.progress().cpu_utilization() / std::max<uint32_t>(1, loop_threads);
  }
}

std::string LiveMetrics::Render() const {
  State copy;
  int64_t now_ns = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    copy = state_;
    now_ns = clock_.NowNs();
  }
  return Format(copy, now_ns);
}

std::string LiveMetrics::Format(const State& s, int64_t now_ns) {
  std::string out;
  out.reserve(8192);
  Family(out, "llmbench_run_info", "gauge", "The run being measured; the value is always 1.");
  if (s.running) {
    Sample(out, "llmbench_run_info",
           absl::StrCat(Label("run_id", s.run_id), ",", Label("scenario", s.scenario), ",",
                        Label("version", kVersion)),
           "1");
  }
  Family(out, "llmbench_run_elapsed_seconds", "gauge", "Seconds since the run began.");
  Sample(out, "llmbench_run_elapsed_seconds", "",
         Seconds(s.running ? std::max<int64_t>(0, now_ns - s.started_ns) : 0));

  auto cell_labels = [](const std::pair<std::string, std::string>& key) {
    return absl::StrCat(Label("engine", key.first), ",", Label("worker", key.second));
  };
  Family(out, "llmbench_requests_total", "counter",
         "Measured requests finished, by outcome (success or the error class); warm-up "
         "excluded.");
  for (const auto& [key, cell] : s.cells) {
    const std::string labels = cell_labels(key);
    for (size_t slot = 0; slot < cell.requests.size(); ++slot) {
      if (slot != 0 && cell.requests[slot] == 0) continue;  // success always, errors once seen
      Sample(out, "llmbench_requests_total",
             absl::StrCat(labels, ",", Label("outcome", OutcomeName(slot))),
             absl::StrCat(cell.requests[slot]));
    }
  }
  Family(out, "llmbench_output_tokens_total", "counter",
         "Output tokens of successful measured requests.");
  for (const auto& [key, cell] : s.cells) {
    Sample(out, "llmbench_output_tokens_total", cell_labels(key), absl::StrCat(cell.output_tokens));
  }
  Family(out, "llmbench_input_tokens_total", "counter",
         "Input tokens of successful measured requests (engine-reported, else as sent).");
  for (const auto& [key, cell] : s.cells) {
    Sample(out, "llmbench_input_tokens_total", cell_labels(key), absl::StrCat(cell.input_tokens));
  }
  Family(out, "llmbench_requests_in_flight", "gauge",
         "Requests in flight on the worker, from its latest progress report.");
  for (const auto& [worker, gauges] : s.workers) {
    Sample(out, "llmbench_requests_in_flight", Label("worker", worker),
           absl::StrCat(gauges.in_flight));
  }
  Family(out, "llmbench_worker_cpu_utilization", "gauge",
         "Worker process CPU seconds per wall second per event-loop thread since its shard "
         "started (1 = one core busy).");
  for (const auto& [worker, gauges] : s.workers) {
    if (!gauges.cpu_utilization.has_value()) continue;
    Sample(out, "llmbench_worker_cpu_utilization", Label("worker", worker),
           FormatPrometheusDouble(*gauges.cpu_utilization));
  }

  struct HistogramFamily {
    absl::string_view name;
    absl::string_view help;
    const LiveHistogram LiveMetrics::EngineHistograms::*member;
  };
  const HistogramFamily families[] = {
      {"llmbench_ttft_seconds", "Time to first token of successful measured requests.",
       &EngineHistograms::ttft},
      {"llmbench_itl_seconds",
       "Inter-token latency: every gap between consecutive content chunks of successful "
       "measured requests.",
       &EngineHistograms::itl},
      {"llmbench_e2e_seconds", "End-to-end latency of successful measured requests.",
       &EngineHistograms::e2e},
      {"llmbench_schedule_lateness_seconds",
       "Open loop: sent minus scheduled time of every measured request (the generator's own "
       "delay).",
       &EngineHistograms::lateness},
  };
  for (const HistogramFamily& family : families) {
    Family(out, family.name, "histogram", family.help);
    for (const auto& [engine, histograms] : s.engines) {
      AppendHistogram(out, family.name, Label("engine", engine), histograms.*family.member);
    }
  }
  return out;
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string FormatPrometheusDouble(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // As Go's strconv.FormatFloat(v, 'g', -1, 64), which Prometheus' own clients use: the
  // shortest digits that read back, in fixed notation for decimal exponents -4 to 20.
  char buf[400];  // fixed notation of a double below 1e21 needs fewer than 350 characters
  std::to_chars_result r =
      std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  const std::string scientific(buf, r.ptr);
  int exponent = 0;
  const size_t e = scientific.find('e');
  if (e == std::string::npos || !absl::SimpleAtoi(scientific.substr(e + 1), &exponent) ||
      exponent < -4 || exponent >= 21) {
    return scientific;
  }
  r = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

// ---------------------------------------------------------------------------------------------
// Server.

struct LiveMetricsServer::Loop {
  explicit Loop(std::function<std::string()> render_fn) : render(std::move(render_fn)) {}

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        std::make_shared<Session>(std::move(socket), &render)->Read();
        Accept();
        return;
      }
      // Out of descriptors or the like: try again shortly rather than spin.
      retry.expires_after(std::chrono::milliseconds(100));
      retry.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) Accept();
      });
    });
  }

  void Run() {
    while (true) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "llmbench: live metrics: %s\n", e.what());
      }
    }
  }

  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  asio::steady_timer retry{ioc};
  std::function<std::string()> render;
  std::thread thread;
};

LiveMetricsServer::LiveMetricsServer(std::unique_ptr<Loop> loop, std::string url, int port)
    : loop_(std::move(loop)), url_(std::move(url)), port_(port) {}

LiveMetricsServer::~LiveMetricsServer() { Stop(); }

absl::StatusOr<std::unique_ptr<LiveMetricsServer>> LiveMetricsServer::Start(
    const std::string& listen, std::function<std::string()> render) {
  absl::StatusOr<tcp::endpoint> endpoint = ParseListen(listen);
  if (!endpoint.ok()) return endpoint.status();
  auto loop = std::make_unique<Loop>(std::move(render));
  beast::error_code ec;
  auto fail = [&](absl::string_view what) {
    return absl::UnavailableError(
        absl::StrCat("--metrics-listen ", listen, ": cannot ", what, ": ", ec.message()));
  };
  loop->acceptor.open(endpoint->protocol(), ec);
  if (ec) return fail("open a socket");
  loop->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("set SO_REUSEADDR");
  loop->acceptor.bind(*endpoint, ec);
  if (ec) return fail("listen");
  loop->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  const tcp::endpoint bound = loop->acceptor.local_endpoint(ec);
  if (ec) return fail("read the bound port");
  const std::string host = bound.address().is_v6()
                               ? absl::StrCat("[", bound.address().to_string(), "]")
                               : bound.address().to_string();
  const int port = bound.port();
  loop->Accept();
  Loop* raw = loop.get();
  try {
    loop->thread = std::thread([raw] { raw->Run(); });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("--metrics-listen ", listen, ": cannot start a thread: ", e.what()));
  }
  return std::unique_ptr<LiveMetricsServer>(new LiveMetricsServer(
      std::move(loop), absl::StrCat("http://", host, ":", port, "/metrics"), port));
}

void LiveMetricsServer::Stop() {
  if (loop_ == nullptr) return;
  loop_->ioc.stop();
  if (loop_->thread.joinable()) loop_->thread.join();
  loop_.reset();  // closes the listener and every connection
}

absl::StatusOr<std::unique_ptr<LiveMetricsServer>> ServeLiveMetrics(const std::string& listen,
                                                                    const LiveMetrics* metrics) {
  absl::StatusOr<std::unique_ptr<LiveMetricsServer>> server =
      LiveMetricsServer::Start(listen, [metrics] { return metrics->Render(); });
  if (!server.ok()) return server.status();
  std::fprintf(stderr, "live metrics %s\n", (*server)->url().c_str());
  std::fflush(stderr);
  return server;
}

}  // namespace llmbench::coordinator
