#include "worker/curl_transport.h"

#include <sys/epoll.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace llmbench::worker {

using engines::CurlEasyPtr;
using engines::CurlMultiPtr;
using engines::CurlSlistPtr;
using llmbench::v1::ErrorClass;
using llmbench::v1::RequestRecord;

namespace {

// std::string_view helpers (Debian's Abseil has its own string_view type).
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The 3-digit status code of "HTTP/1.1 200 OK" / "HTTP/2 200"; 0 when malformed.
int ParseStatusCode(std::string_view line) {
  const size_t space = line.find(' ');
  if (space == std::string_view::npos || line.size() < space + 4) return 0;
  int code = 0;
  for (size_t i = space + 1; i < space + 4; ++i) {
    const char c = line[i];
    if (c < '0' || c > '9') return 0;
    code = code * 10 + (c - '0');
  }
  return code;
}

}  // namespace

struct CurlMultiTransport::Transfer {
  CurlMultiTransport* owner = nullptr;
  CurlEasyPtr easy;
  CurlSlistPtr headers;
  std::string url;
  std::string body;
  std::unique_ptr<RequestRecord> record;
  std::unique_ptr<ResponseParser> parser;
  std::vector<std::pair<std::string, std::string>> response_headers;
  int status = 0;
  bool headers_delivered = false;
  bool sent = false;
  EventLoop::TimerId first_byte_timer = 0;  // first-byte timer, then the idle timer
  int64_t last_rx_mono_ns = 0;              // when body bytes last arrived (idle timeout)
  char error_buffer[CURL_ERROR_SIZE] = {};
};

void EnsureCurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_ALL); });
}

ErrorClass ClassifyCurlError(CURLcode code) {
  switch (code) {
    case CURLE_OK:
      return llmbench::v1::ERROR_CLASS_NONE;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_FAILED_INIT:
      return llmbench::v1::ERROR_CLASS_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
      return llmbench::v1::ERROR_CLASS_TIMEOUT;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
      return llmbench::v1::ERROR_CLASS_PARSE;
    default:
      // CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING,
      // CURLE_HTTP2, CURLE_HTTP2_STREAM, ...: the connection was there and broke.
      return llmbench::v1::ERROR_CLASS_STREAM_BROKEN;
  }
}

absl::StatusOr<std::unique_ptr<CurlMultiTransport>> CurlMultiTransport::Create(
    EventLoop* loop, TransportConfig config, int64_t epoch_ns, CompletionCallback on_complete) {
  EnsureCurlGlobalInit();
  if (!absl::StartsWith(config.base_url, "http://") &&
      !absl::StartsWith(config.base_url, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "engine base_url must start with http:// or https://, got '", config.base_url, "'"));
  }
  while (absl::EndsWith(config.base_url, "/")) config.base_url.pop_back();
  CurlMultiPtr multi(curl_multi_init());
  if (multi == nullptr) return absl::InternalError("curl_multi_init failed");
  return std::unique_ptr<CurlMultiTransport>(new CurlMultiTransport(
      loop, std::move(config), epoch_ns, std::move(on_complete), std::move(multi)));
}

CurlMultiTransport::CurlMultiTransport(EventLoop* loop, TransportConfig config, int64_t epoch_ns,
                                       CompletionCallback on_complete, CurlMultiPtr multi)
    : loop_(loop),
      config_(std::move(config)),
      epoch_ns_(epoch_ns),
      on_complete_(std::move(on_complete)),
      multi_(std::move(multi)) {
  CURLM* m = multi_.get();
  curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &CurlMultiTransport::SocketCallback);
  curl_multi_setopt(m, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, &CurlMultiTransport::TimerCallback);
  curl_multi_setopt(m, CURLMOPT_TIMERDATA, this);
  // No hidden cap: as many connections as the shard keeps in flight, all kept for reuse.
  curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
  curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
  curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, std::max(config_.max_cached_connections, 1L));
  curl_multi_setopt(m, CURLMOPT_PIPELINING,
                    config_.http2 ? static_cast<long>(CURLPIPE_MULTIPLEX) : 0L);
  if (!config_.api_key.empty()) auth_header_ = absl::StrCat("Authorization: Bearer ", config_.api_key);
}

CurlMultiTransport::~CurlMultiTransport() {
  if (curl_timer_ != 0) loop_->CancelTimer(curl_timer_);
  for (auto& [ptr, transfer] : transfers_) {
    if (transfer->first_byte_timer != 0) loop_->CancelTimer(transfer->first_byte_timer);
    curl_multi_remove_handle(multi_.get(), transfer->easy.get());
  }
  transfers_.clear();
  // Closing the multi handle closes the cached connections; the socket callback unwatches them.
  idle_easies_.clear();
  multi_.reset();
}

CurlEasyPtr CurlMultiTransport::TakeEasy() {
  if (!idle_easies_.empty()) {
    CurlEasyPtr easy = std::move(idle_easies_.back());
    idle_easies_.pop_back();
    curl_easy_reset(easy.get());
    return easy;
  }
  return CurlEasyPtr(curl_easy_init());
}

absl::Status CurlMultiTransport::Start(const HttpRequestSpec& spec,
                                       std::unique_ptr<RequestRecord> record,
                                       std::unique_ptr<ResponseParser> parser) {
  auto transfer = std::make_unique<Transfer>();
  transfer->owner = this;
  transfer->easy = TakeEasy();
  if (transfer->easy == nullptr) return absl::InternalError("curl_easy_init failed");
  transfer->url = config_.base_url + spec.path;
  transfer->body = spec.body;
  transfer->record = std::move(record);
  transfer->parser = std::move(parser);
  const int64_t handed = NowNs();
  transfer->record->set_handed_ns(handed);
  transfer->record->set_sent_ns(handed);  // until the request is written

  curl_slist* list = nullptr;
  auto append = [&list](const std::string& line) {
    curl_slist* next = curl_slist_append(list, line.c_str());
    if (next != nullptr) list = next;
  };
  append("Content-Type: application/json");
  append("Expect:");  // no 100-continue round trip
  for (const auto& [name, value] : config_.headers) append(absl::StrCat(name, ": ", value));
  for (const auto& [name, value] : spec.headers) append(absl::StrCat(name, ": ", value));
  if (!auth_header_.empty()) append(auth_header_);
  transfer->headers.reset(list);

  CURL* e = transfer->easy.get();
  Transfer* raw = transfer.get();
  curl_easy_setopt(e, CURLOPT_URL, transfer->url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, raw);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, raw->error_buffer);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
  if (spec.method == "POST") {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, transfer->body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(transfer->body.size()));
  } else if (spec.method != "GET") {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, spec.method.c_str());
  }
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &CurlMultiTransport::HeaderCallback);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, raw);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &CurlMultiTransport::WriteCallback);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, raw);
  curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, &CurlMultiTransport::PrereqCallback);
  curl_easy_setopt(e, CURLOPT_PREREQDATA, raw);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout_ms));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.total_timeout_ms));
  curl_easy_setopt(e, CURLOPT_MAXCONNECTS, std::max(config_.max_cached_connections, 1L));
  if (!config_.tls_ca_file.empty()) {
    curl_easy_setopt(e, CURLOPT_CAINFO, config_.tls_ca_file.c_str());
  }
  if (config_.http2) {
    const bool tls = absl::StartsWith(config_.base_url, "https://");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     tls ? static_cast<long>(CURL_HTTP_VERSION_2TLS)
                         : static_cast<long>(CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE));
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  } else {
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  }

  transfers_.emplace(raw, std::move(transfer));
  const CURLMcode rc = curl_multi_add_handle(multi_.get(), e);
  if (rc != CURLM_OK) {
    auto node = transfers_.extract(raw);
    idle_easies_.push_back(std::move(node.mapped()->easy));
    return absl::InternalError(
        absl::StrCat("curl_multi_add_handle failed: ", curl_multi_strerror(rc)));
  }
  return absl::OkStatus();
}

int CurlMultiTransport::SocketCallback(CURL* /*easy*/, curl_socket_t fd, int what, void* user,
                                       void* /*socket_ptr*/) {
  auto* self = static_cast<CurlMultiTransport*>(user);
  if (what == CURL_POLL_REMOVE) {
    self->loop_->UnwatchFd(fd);
    return 0;
  }
  uint32_t events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= EPOLLOUT;
  absl::Status status =
      self->loop_->WatchFd(fd, events, [self, fd](uint32_t ev) { self->OnSocketEvent(fd, ev); });
  return status.ok() ? 0 : -1;
}

int CurlMultiTransport::TimerCallback(CURLM* /*multi*/, long timeout_ms, void* user) {
  auto* self = static_cast<CurlMultiTransport*>(user);
  if (self->curl_timer_ != 0) {
    self->loop_->CancelTimer(self->curl_timer_);
    self->curl_timer_ = 0;
  }
  if (timeout_ms < 0) return 0;
  if (timeout_ms == 0) {
    // As in ephiperfifo.c: never call socket_action from inside this callback.
    if (!self->curl_timeout_deferred_) {
      self->curl_timeout_deferred_ = true;
      self->loop_->Defer([self] {
        if (!self->curl_timeout_deferred_) return;  // Flush() ran it already
        self->curl_timeout_deferred_ = false;
        self->OnCurlTimeout();
      });
    }
    return 0;
  }
  self->curl_timer_ = self->loop_->AddTimerAfter(timeout_ms * 1'000'000, [self] {
    self->curl_timer_ = 0;
    self->OnCurlTimeout();
  });
  return 0;
}

void CurlMultiTransport::Flush() {
  if (!curl_timeout_deferred_) return;
  curl_timeout_deferred_ = false;
  OnCurlTimeout();
}

void CurlMultiTransport::OnCurlTimeout() {
  int running = 0;
  curl_multi_socket_action(multi_.get(), CURL_SOCKET_TIMEOUT, 0, &running);
  CheckMultiInfo();
}

void CurlMultiTransport::OnSocketEvent(curl_socket_t fd, uint32_t events) {
  int flags = 0;
  if (events & EPOLLIN) flags |= CURL_CSELECT_IN;
  if (events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
  if (events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
  int running = 0;
  curl_multi_socket_action(multi_.get(), fd, flags, &running);
  CheckMultiInfo();
}

int CurlMultiTransport::PrereqCallback(void* user, char* /*primary_ip*/, char* /*local_ip*/,
                                       int /*primary_port*/, int /*local_port*/) {
  auto* transfer = static_cast<Transfer*>(user);
  CurlMultiTransport* self = transfer->owner;
  StampSent(transfer->record.get(), self->NowNs());
  transfer->sent = true;
  if (transfer->first_byte_timer != 0) self->loop_->CancelTimer(transfer->first_byte_timer);
  transfer->first_byte_timer =
      self->loop_->AddTimerAfter(self->config_.first_byte_timeout_ms * 1'000'000, [transfer] {
        transfer->first_byte_timer = 0;
        transfer->owner->OnFirstByteTimeout(transfer);
      });
  return CURL_PREREQFUNC_OK;
}

size_t CurlMultiTransport::HeaderCallback(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  line = Trim(line);
  if (line.substr(0, 5) == "HTTP/") {
    // A new response head (also after 1xx): restart the header list.
    transfer->response_headers.clear();
    transfer->status = ParseStatusCode(line);
    return n;
  }
  if (line.empty()) {
    // End of a header block; 1xx heads are followed by the real one.
    if (transfer->status >= 200 && !transfer->headers_delivered) {
      transfer->owner->DeliverStatus(transfer);
    }
    return n;
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos && transfer->response_headers.size() < 256) {
    std::string name = ToLower(Trim(line.substr(0, colon)));
    std::string_view value = Trim(line.substr(colon + 1));
    transfer->response_headers.emplace_back(std::move(name), std::string(value));
  }
  return n;
}

void CurlMultiTransport::DeliverStatus(Transfer* transfer) {
  transfer->headers_delivered = true;
  if (transfer->first_byte_timer != 0) {
    loop_->CancelTimer(transfer->first_byte_timer);
    transfer->first_byte_timer = 0;
  }
  if (transfer->status == 0) {
    long code = 0;
    curl_easy_getinfo(transfer->easy.get(), CURLINFO_RESPONSE_CODE, &code);
    transfer->status = static_cast<int>(code);
  }
  transfer->parser->OnStatus(transfer->status, transfer->response_headers);
  if (config_.idle_timeout_ms > 0) {
    transfer->last_rx_mono_ns = EventLoop::MonotonicNowNs();
    ArmIdleTimer(transfer, transfer->last_rx_mono_ns + config_.idle_timeout_ms * 1'000'000);
  }
}

void CurlMultiTransport::ArmIdleTimer(Transfer* transfer, int64_t deadline_mono_ns) {
  transfer->first_byte_timer = loop_->AddTimerAt(deadline_mono_ns, [this, transfer] {
    transfer->first_byte_timer = 0;
    OnIdleTimer(transfer);
  });
}

void CurlMultiTransport::OnIdleTimer(Transfer* transfer) {
  const int64_t deadline = transfer->last_rx_mono_ns + config_.idle_timeout_ms * 1'000'000;
  if (EventLoop::MonotonicNowNs() < deadline) {
    ArmIdleTimer(transfer, deadline);  // bytes came meanwhile: wait from the last ones
    return;
  }
  ResponseParser::TransportError error;
  error.error_class = llmbench::v1::ERROR_CLASS_TIMEOUT;
  error.message = absl::StrCat("no data from the engine for ", config_.idle_timeout_ms,
                               " ms in the middle of the response (idle timeout)");
  Complete(transfer, error);
}

size_t CurlMultiTransport::WriteCallback(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  CurlMultiTransport* self = transfer->owner;
  const int64_t mono = EventLoop::MonotonicNowNs();  // one clock read per slice
  const int64_t now = mono - self->epoch_ns_;
  const size_t n = size * count;
  if (!transfer->headers_delivered) self->DeliverStatus(transfer);
  transfer->last_rx_mono_ns = mono;
  transfer->parser->OnBody(std::string_view(data, n), now);
  return n;
}

void CurlMultiTransport::CheckMultiInfo() {
  int pending = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &pending)) {
    if (msg->msg != CURLMSG_DONE) continue;
    void* priv = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    auto* transfer = static_cast<Transfer*>(priv);
    const CURLcode code = msg->data.result;
    ResponseParser::TransportError error;
    if (code != CURLE_OK) {
      error.error_class = ClassifyCurlError(code);
      error.message = transfer->error_buffer[0] != '\0'
                          ? std::string(transfer->error_buffer)
                          : std::string(curl_easy_strerror(code));
      error.message = absl::StrCat("curl: ", error.message);
    }
    Complete(transfer, error);
  }
}

void CurlMultiTransport::OnFirstByteTimeout(Transfer* transfer) {
  ResponseParser::TransportError error;
  error.error_class = llmbench::v1::ERROR_CLASS_TIMEOUT;
  error.message = absl::StrCat("no response headers within ", config_.first_byte_timeout_ms,
                               " ms (first-byte timeout)");
  Complete(transfer, error);
}

void CurlMultiTransport::Complete(Transfer* transfer,
                                  const ResponseParser::TransportError& error) {
  auto node = transfers_.extract(transfer);
  if (node.empty()) return;
  std::unique_ptr<Transfer> owned = std::move(node.mapped());
  if (owned->first_byte_timer != 0) {
    loop_->CancelTimer(owned->first_byte_timer);
    owned->first_byte_timer = 0;
  }
  const int64_t end = NowNs();
  long connects = 0;
  curl_easy_getinfo(owned->easy.get(), CURLINFO_NUM_CONNECTS, &connects);
  connections_opened_ += static_cast<uint64_t>(std::max(connects, 0L));
  if (connects > 0 && owned->sent) {
    curl_off_t connect_us = 0;
    if (curl_easy_getinfo(owned->easy.get(), CURLINFO_CONNECT_TIME_T, &connect_us) == CURLE_OK) {
      owned->record->set_connect_ns(static_cast<int64_t>(connect_us) * 1000);
    }
  }
  curl_multi_remove_handle(multi_.get(), owned->easy.get());
  if (!owned->headers_delivered && owned->status >= 200) {
    // A complete head without a body and no blank line seen (should not happen) or a head
    // cut short: the parser still learns the status.
    DeliverStatus(owned.get());
  }
  owned->record->set_end_ns(end);
  owned->parser->Finish(error);
  owned->parser.reset();
  idle_easies_.push_back(std::move(owned->easy));
  on_complete_(std::move(owned->record));
}

void CurlMultiTransport::AbortAll(ErrorClass error_class, const std::string& message) {
  std::vector<Transfer*> all;
  all.reserve(transfers_.size());
  for (auto& [ptr, transfer] : transfers_) all.push_back(ptr);
  ResponseParser::TransportError error;
  error.error_class = error_class;
  error.message = message;
  for (Transfer* transfer : all) Complete(transfer, error);
}

}  // namespace llmbench::worker
