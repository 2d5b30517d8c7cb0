#include "worker/http1_transport.h"

#include <netdb.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "worker/curl_transport.h"

namespace llmbench::worker {

using llmbench::v1::ErrorClass;
using llmbench::v1::RequestRecord;

namespace {

constexpr int64_t kNsPerMs = 1'000'000;
constexpr size_t kReadSize = 64 * 1024;
constexpr size_t kMaxChunkLine = 4096;
constexpr size_t kMaxHeaders = 256;

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && (IsSpace(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool HasCrLf(std::string_view s) {
  return s.find('\r') != std::string_view::npos || s.find('\n') != std::string_view::npos;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool ConsumePrefix(std::string_view* s, std::string_view prefix) {
  if (!s->starts_with(prefix)) return false;
  s->remove_prefix(prefix.size());
  return true;
}

// Whether the comma-separated header value contains `token` (case-insensitive).
bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    std::string_view part = Trim(value.substr(0, comma));
    if (EqualsIgnoreCase(part, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// Whether the last transfer coding of the value is "chunked".
bool LastCodingIsChunked(std::string_view value) {
  const size_t comma = value.rfind(',');
  std::string_view last = Trim(comma == std::string_view::npos ? value : value.substr(comma + 1));
  return EqualsIgnoreCase(last, "chunked");
}

std::string Errno(int err) { return std::strerror(err); }


}  // namespace

// One TCP connection to the engine.
struct Http1Transport::Conn {
  int fd = -1;
  size_t slot = 0;           // index in conns_
  bool connected = false;
  bool idle = false;         // in idle_
  bool watching_out = false;
  uint64_t responses = 0;    // responses completed on it (0: new connection)
  size_t address_index = 0;
  int64_t connect_start_ns = 0;
  std::unique_ptr<Request> req;  // the request on it, when not idle
  std::string in;            // unparsed response bytes carried over between reads
};

struct Http1Transport::Request {
  std::unique_ptr<RequestRecord> record;
  std::unique_ptr<ResponseParser> parser;
  Conn* conn = nullptr;      // the connection carrying it
  std::string wire;          // the request's bytes
  size_t written = 0;
  bool sent = false;
  bool retried = false;
  int64_t handed_mono_ns = 0;
  int64_t sent_mono_ns = 0;
  int64_t last_rx_mono_ns = 0;
  EventLoop::TimerId timer = 0;
  int64_t timer_deadline = 0;
  // Response state.
  enum class Phase { kHead, kBody, kDone } phase = Phase::kHead;
  enum class Framing { kLength, kChunked, kUntilClose, kNone } framing = Framing::kNone;
  enum class ChunkState { kSize, kData, kDataEnd, kTrailer } chunk_state = ChunkState::kSize;
  uint64_t remaining = 0;    // Content-Length or current chunk's bytes left
  bool keep_alive = true;
  bool got_bytes = false;    // any response byte arrived
  int status = 0;
  uint64_t bytes_received = 0;
};

absl::StatusOr<std::unique_ptr<Http1Transport>> Http1Transport::Create(
    EventLoop* loop, TransportConfig config, int64_t epoch_ns, CompletionCallback on_complete) {
  while (absl::EndsWith(config.base_url, "/")) config.base_url.pop_back();
  std::string_view url = config.base_url;
  if (!ConsumePrefix(&url, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the HTTP/1.1 transport serves http:// engines only, got '", config.base_url, "'"));
  }
  if (config.http2) {
    return absl::InvalidArgumentError("the HTTP/1.1 transport does not speak HTTP/2");
  }
  const size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  std::string prefix(slash == std::string_view::npos ? "" : url.substr(slash));
  if (authority.empty() || authority.find('@') != std::string_view::npos ||
      prefix.find_first_of("?# ") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("engine base_url '", config.base_url, "' is not http://host[:port][/path]"));
  }
  std::string host;
  std::string port = "80";
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("engine base_url '", config.base_url,
                                                     "' has an unterminated IPv6 address"));
    }
    host = std::string(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (ConsumePrefix(&rest, ":")) port = std::string(rest);
  } else {
    const size_t colon = authority.rfind(':');
    host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = std::string(authority.substr(colon + 1));
  }
  uint32_t port_number = 0;
  if (host.empty() || !absl::SimpleAtoi(port, &port_number) || port_number == 0 ||
      port_number > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("engine base_url '", config.base_url, "' has no valid host and port"));
  }
  for (const auto& [name, value] : config.headers) {
    if (HasCrLf(name) || HasCrLf(value) || name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("engine header '", name, "' has an empty name or a line break"));
    }
  }
  if (HasCrLf(config.api_key)) {
    return absl::InvalidArgumentError("the engine's API key contains a line break");
  }
  auto transport = std::unique_ptr<Http1Transport>(
      new Http1Transport(loop, std::move(config), epoch_ns, std::move(on_complete)));
  Http1Transport& t = *transport;
  t.host_ = host;
  t.port_ = port;
  t.prefix_ = std::move(prefix);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    t.resolve_error_ = absl::StrCat("could not resolve host ", host, ": ", gai_strerror(rc));
  } else {
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      Address a;
      std::memcpy(&a.addr, ai->ai_addr, ai->ai_addrlen);
      a.len = ai->ai_addrlen;
      t.addresses_.push_back(a);
    }
    ::freeaddrinfo(res);
    if (t.addresses_.empty()) t.resolve_error_ = absl::StrCat("no address for host ", host);
  }
  const bool ipv6_literal = host.find(':') != std::string::npos;
  std::string host_header = ipv6_literal ? absl::StrCat("[", host, "]") : host;
  if (port_number != 80) absl::StrAppend(&host_header, ":", port);
  t.fixed_head_ = absl::StrCat(" HTTP/1.1\r\nHost: ", host_header,
                               "\r\nAccept: */*\r\nContent-Type: application/json\r\n");
  for (const auto& [name, value] : t.config_.headers) {
    absl::StrAppend(&t.fixed_head_, name, ": ", value, "\r\n");
  }
  if (!t.config_.api_key.empty()) {
    absl::StrAppend(&t.fixed_head_, "Authorization: Bearer ", t.config_.api_key, "\r\n");
  }
  return transport;
}

Http1Transport::Http1Transport(EventLoop* loop, TransportConfig config, int64_t epoch_ns,
                               CompletionCallback on_complete)
    : loop_(loop),
      config_(std::move(config)),
      epoch_ns_(epoch_ns),
      on_complete_(std::move(on_complete)) {
  read_buf_.resize(kReadSize);
}

Http1Transport::~Http1Transport() {
  for (auto& conn : conns_) {
    if (conn->req != nullptr && conn->req->timer != 0) loop_->CancelTimer(conn->req->timer);
    loop_->UnwatchFd(conn->fd);
    ::close(conn->fd);
  }
}

std::string Http1Transport::HostPort() const { return absl::StrCat(host_, ":", port_); }

absl::Status Http1Transport::Start(const HttpRequestSpec& spec,
                                   std::unique_ptr<RequestRecord> record,
                                   std::unique_ptr<ResponseParser> parser) {
  if (!resolve_error_.empty()) return absl::UnavailableError(resolve_error_);
  for (const auto& [name, value] : spec.headers) {
    if (HasCrLf(name) || HasCrLf(value)) {
      return absl::InvalidArgumentError(absl::StrCat("request header '", name,
                                                     "' has a line break"));
    }
  }
  auto req = std::make_unique<Request>();
  req->record = std::move(record);
  req->parser = std::move(parser);
  std::string& w = req->wire;
  w.reserve(spec.method.size() + prefix_.size() + spec.path.size() + fixed_head_.size() + 64 +
            spec.body.size());
  absl::StrAppend(&w, spec.method, " ", prefix_, spec.path, fixed_head_);
  for (const auto& [name, value] : spec.headers) absl::StrAppend(&w, name, ": ", value, "\r\n");
  if (!spec.body.empty() || spec.method == "POST" || spec.method == "PUT") {
    absl::StrAppend(&w, "Content-Length: ", spec.body.size(), "\r\n");
  }
  w.append("\r\n");
  w.append(spec.body);
  req->handed_mono_ns = EventLoop::MonotonicNowNs();
  const int64_t handed = req->handed_mono_ns - epoch_ns_;
  req->record->set_handed_ns(handed);
  req->record->set_sent_ns(handed);  // until the bytes are written
  ++in_flight_;
  Request* raw = req.release();
  // The total timeout covers the whole request; the connect or first-byte deadline comes
  // sooner and is checked by the same timer (OnTimer).
  ArmTimer(raw, raw->handed_mono_ns + std::min(config_.total_timeout_ms,
                                               config_.connect_timeout_ms) * kNsPerMs);
  Assign(raw);
  return absl::OkStatus();
}

void Http1Transport::Assign(Request* req) {
  if (idle_.empty()) {
    Connect(req, good_address_);
    return;
  }
  Conn* conn = idle_.back();
  idle_.pop_back();
  conn->idle = false;
  conn->req.reset(req);
  req->conn = conn;
  WriteRequest(conn);  // a failure is handled there (retry on a new connection, or fail)
}

bool Http1Transport::Connect(Request* req, size_t address_index) {
  const Address& a = addresses_[address_index];
  const int fd = ::socket(a.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    Fail(req, llmbench::v1::ERROR_CLASS_CONNECT,
         absl::StrCat("socket() for ", HostPort(), " failed: ", Errno(errno)));
    return false;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  auto owned = std::make_unique<Conn>();
  Conn* conn = owned.get();
  conn->fd = fd;
  conn->slot = conns_.size();
  conn->address_index = address_index;
  conn->connect_start_ns = EventLoop::MonotonicNowNs();
  conn->req.reset(req);
  req->conn = conn;
  conns_.push_back(std::move(owned));
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len);
  if (rc != 0 && errno != EINPROGRESS) {
    const int err = errno;
    ConnFailed(conn, llmbench::v1::ERROR_CLASS_CONNECT,
               absl::StrCat("connect to ", HostPort(), " failed: ", Errno(err)), false);
    return false;
  }
  conn->watching_out = true;
  absl::Status watched =
      loop_->WatchFd(fd, EPOLLIN | EPOLLOUT, [this, conn](uint32_t ev) { OnConnEvent(conn, ev); });
  if (!watched.ok()) {
    ConnFailed(conn, llmbench::v1::ERROR_CLASS_CONNECT, std::string(watched.message()), false);
    return false;
  }
  if (rc == 0) {
    OnConnected(conn);
  } else {
    // On loopback (and any fast network) the handshake is often done by the time connect()
    // returns: send at once rather than a loop turn later (behind every other connection this
    // turn opens); a socket still connecting answers EAGAIN and waits for EPOLLOUT.
    WriteRequest(conn);
  }
  return true;
}

void Http1Transport::OnConnEvent(Conn* conn, uint32_t events) {
  if (conn->idle) {
    OnIdleConnEvent(conn);
    return;
  }
  if (!conn->connected) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      OnConnectError(conn, err);
      return;
    }
    OnConnected(conn);
    return;
  }
  if ((events & EPOLLOUT) != 0 && conn->req != nullptr && !conn->req->sent) {
    if (!WriteRequest(conn)) return;
  }
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) OnReadable(conn);
}

void Http1Transport::OnConnectError(Conn* conn, int err) {
  if (conn->address_index + 1 < addresses_.size()) {
    // Another address of the host (e.g. ::1 refused, 127.0.0.1 next).
    Request* req = conn->req.release();
    req->conn = nullptr;
    const size_t next = conn->address_index + 1;
    CloseConn(conn);
    Connect(req, next);
    return;
  }
  ConnFailed(conn, llmbench::v1::ERROR_CLASS_CONNECT,
             absl::StrCat("connect to ", HostPort(), " failed: ", Errno(err)), false);
}

void Http1Transport::MarkConnected(Conn* conn) {
  conn->connected = true;
  good_address_ = conn->address_index;
  ++connections_opened_;
  conn->req->record->set_connect_ns(EventLoop::MonotonicNowNs() - conn->connect_start_ns);
}

void Http1Transport::OnConnected(Conn* conn) {
  MarkConnected(conn);
  WriteRequest(conn);
}

bool Http1Transport::WriteRequest(Conn* conn) {
  Request* req = conn->req.get();
  while (req->written < req->wire.size()) {
    const ssize_t n = ::send(conn->fd, req->wire.data() + req->written,
                             req->wire.size() - req->written, MSG_NOSIGNAL);
    if (n > 0) {
      if (!conn->connected) MarkConnected(conn);
      req->written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && !conn->connected && errno != EAGAIN && errno != EWOULDBLOCK) {
      OnConnectError(conn, errno);
      return false;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!conn->watching_out) {
        conn->watching_out = true;
        absl::Status s = loop_->WatchFd(conn->fd, EPOLLIN | EPOLLOUT,
                                        [this, conn](uint32_t ev) { OnConnEvent(conn, ev); });
        if (!s.ok()) {
          ConnFailed(conn, llmbench::v1::ERROR_CLASS_STREAM_BROKEN, std::string(s.message()),
                     false);
          return false;
        }
      }
      return true;
    }
    const int err = n < 0 ? errno : EPIPE;
    // A pooled connection the engine closed meanwhile: once more on a new connection.
    ConnFailed(conn, llmbench::v1::ERROR_CLASS_STREAM_BROKEN,
               absl::StrCat("sending the request to ", HostPort(), " failed: ", Errno(err)),
               /*retryable=*/conn->responses > 0 && req->written == 0);
    return false;
  }
  const int64_t now = EventLoop::MonotonicNowNs();
  req->sent = true;
  req->sent_mono_ns = now;
  StampSent(req->record.get(), now - epoch_ns_);
  if (conn->watching_out) {
    conn->watching_out = false;
    absl::Status s =
        loop_->WatchFd(conn->fd, EPOLLIN, [this, conn](uint32_t ev) { OnConnEvent(conn, ev); });
    if (!s.ok()) {
      ConnFailed(conn, llmbench::v1::ERROR_CLASS_STREAM_BROKEN, std::string(s.message()), false);
      return false;
    }
  }
  // From now on the first-byte deadline applies (the timer re-arms itself when it is later).
  const int64_t first_byte = now + config_.first_byte_timeout_ms * kNsPerMs;
  if (first_byte < req->timer_deadline) ArmTimer(req, first_byte);
  return true;
}

void Http1Transport::OnIdleConnEvent(Conn* conn) {
  // An idle connection has nothing to say: EOF, an error or stray bytes all retire it.
  CloseConn(conn);
}

void Http1Transport::OnReadable(Conn* conn) {
  const ssize_t n = ::read(conn->fd, read_buf_.data(), read_buf_.size());
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    const int err = errno;
    Request* req = conn->req.get();
    ConnFailed(conn, llmbench::v1::ERROR_CLASS_STREAM_BROKEN,
               absl::StrCat("connection to ", HostPort(),
                            req->got_bytes ? " broke in the middle of the response: "
                                           : " broke before any response: ",
                            Errno(err)),
               /*retryable=*/conn->responses > 0 && !req->got_bytes && err == ECONNRESET);
    return;
  }
  const int64_t mono = EventLoop::MonotonicNowNs();
  Request* req = conn->req.get();
  if (n == 0) {
    if (req->phase == Request::Phase::kBody &&
        req->framing == Request::Framing::kUntilClose) {
      FinishResponse(conn, /*reusable=*/false);
      return;
    }
    std::string message;
    if (!req->got_bytes) {
      message = absl::StrCat("the engine closed the connection before any response (",
                             HostPort(), ")");
    } else if (req->phase == Request::Phase::kHead) {
      message = "the engine closed the connection in the middle of the response head";
    } else if (req->framing == Request::Framing::kLength) {
      message = absl::StrCat("the engine closed the connection with ", req->remaining,
                             " bytes of the response body outstanding");
    } else {
      message = "the engine closed the connection before the chunked response body ended";
    }
    ConnFailed(conn, llmbench::v1::ERROR_CLASS_STREAM_BROKEN, message,
               /*retryable=*/conn->responses > 0 && !req->got_bytes);
    return;
  }
  if (!req->got_bytes) {
    req->got_bytes = true;
    // The response started: no retry from here on, the request's bytes are not needed.
    std::string().swap(req->wire);
  }
  req->last_rx_mono_ns = mono;
  req->bytes_received += static_cast<uint64_t>(n);
  std::string_view data(read_buf_.data(), static_cast<size_t>(n));
  if (!conn->in.empty()) {
    conn->in.append(data);
    std::string carried;
    carried.swap(conn->in);
    Consume(conn, carried, mono - epoch_ns_);
  } else {
    Consume(conn, data, mono - epoch_ns_);
  }
}

bool Http1Transport::Consume(Conn* conn, std::string_view data, int64_t now_ns) {
  Request* req = conn->req.get();
  while (!data.empty()) {
    if (req->phase == Request::Phase::kHead) {
      conn->in.append(data);
      data = {};
      if (!ParseHead(conn, req, now_ns)) return false;
      if (req->phase == Request::Phase::kHead) return true;  // need more bytes
      // ParseHead left the bytes after the head in conn->in.
      std::string rest;
      rest.swap(conn->in);
      if (req->phase == Request::Phase::kDone) {
        FinishResponse(conn, req->keep_alive && rest.empty());
        return false;
      }
      if (rest.empty()) return true;
      return Consume(conn, rest, now_ns);
    }
    // Body.
    switch (req->framing) {
      case Request::Framing::kUntilClose:
        req->parser->OnBody(data, now_ns);
        return true;
      case Request::Framing::kNone:
      case Request::Framing::kLength: {
        const size_t take =
            static_cast<size_t>(std::min<uint64_t>(req->remaining, data.size()));
        if (take > 0) req->parser->OnBody(data.substr(0, take), now_ns);
        req->remaining -= take;
        data.remove_prefix(take);
        if (req->remaining == 0) {
          FinishResponse(conn, req->keep_alive && data.empty());
          return false;
        }
        return true;
      }
      case Request::Framing::kChunked: {
        if (req->chunk_state == Request::ChunkState::kData) {
          const size_t take =
              static_cast<size_t>(std::min<uint64_t>(req->remaining, data.size()));
          req->parser->OnBody(data.substr(0, take), now_ns);
          req->remaining -= take;
          data.remove_prefix(take);
          if (req->remaining == 0) req->chunk_state = Request::ChunkState::kDataEnd;
          continue;
        }
        // A line: chunk size, the CRLF after chunk data, or a trailer line.
        const size_t eol = data.find('\n');
        if (eol == std::string_view::npos) {
          if (data.size() > kMaxChunkLine) {
            ConnFailed(conn, llmbench::v1::ERROR_CLASS_PARSE,
                 "malformed HTTP response: chunk line over 4096 bytes", false);
            return false;
          }
          conn->in.assign(data);  // wait for the rest of the line
          return true;
        }
        std::string_view line = data.substr(0, eol);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        data.remove_prefix(eol + 1);
        if (req->chunk_state == Request::ChunkState::kDataEnd) {
          if (!line.empty()) {
            ConnFailed(conn, llmbench::v1::ERROR_CLASS_PARSE,
                 "malformed HTTP response: chunk data longer than its size", false);
            return false;
          }
          req->chunk_state = Request::ChunkState::kSize;
          continue;
        }
        if (req->chunk_state == Request::ChunkState::kTrailer) {
          if (line.empty()) {
            FinishResponse(conn, req->keep_alive && data.empty());
            return false;
          }
          continue;  // trailer fields are ignored
        }
        // Chunk size (hex), optional ";extension".
        std::string_view hex = Trim(line.substr(0, line.find(';')));
        uint64_t size = 0;
        bool ok = !hex.empty() && hex.size() <= 15;
        for (char c : hex) {
          int d;
          if (c >= '0' && c <= '9') {
            d = c - '0';
          } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
          } else if (c >= 'A' && c <= 'F') {
            d = c - 'A' + 10;
          } else {
            ok = false;
            break;
          }
          size = size * 16 + static_cast<uint64_t>(d);
        }
        if (!ok) {
          ConnFailed(conn, llmbench::v1::ERROR_CLASS_PARSE,
               absl::StrCat("malformed HTTP response: bad chunk size line '",
                            std::string(line.substr(0, 64)), "'"), false);
          return false;
        }
        if (size == 0) {
          req->chunk_state = Request::ChunkState::kTrailer;
        } else {
          req->remaining = size;
          req->chunk_state = Request::ChunkState::kData;
        }
        continue;
      }
    }
  }
  return true;
}

bool Http1Transport::ParseHead(Conn* conn, Request* req, int64_t /*now_ns*/) {
  for (;;) {
    std::string& in = conn->in;
    size_t end = in.find("\r\n\r\n");
    size_t skip = 4;
    if (end == std::string::npos) {
      const size_t lf = in.find("\n\n");
      if (lf != std::string::npos) {
        end = lf;
        skip = 2;
      }
    }
    if (end == std::string::npos) {
      if (in.size() > kMaxHeadBytes) {
        ConnFailed(conn, llmbench::v1::ERROR_CLASS_PARSE,
             absl::StrCat("malformed HTTP response: head over ", kMaxHeadBytes, " bytes"), false);
        return false;
      }
      return true;
    }
    std::string_view head(in.data(), end);
    size_t eol = head.find('\n');
    std::string_view status_line = Trim(head.substr(0, eol));
    // "HTTP/1.1 200 OK"
    int status = 0;
    bool http10 = false;
    bool ok = status_line.starts_with("HTTP/1.") && status_line.size() >= 12 &&
              status_line[8] == ' ';
    if (ok) {
      http10 = status_line[7] == '0';
      for (size_t i = 9; i < 12; ++i) {
        const char c = status_line[i];
        if (c < '0' || c > '9') {
          ok = false;
          break;
        }
        status = status * 10 + (c - '0');
      }
    }
    if (!ok || status < 100) {
      ConnFailed(conn, llmbench::v1::ERROR_CLASS_PARSE,
           absl::StrCat("malformed HTTP response: bad status line '",
                        std::string(status_line.substr(0, 64)), "'"), false);
      return false;
    }
    std::vector<std::pair<std::string, std::string>> headers;
    bool chunked = false;
    bool has_length = false;
    uint64_t length = 0;
    bool keep_alive = !http10;
    std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 1);
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      std::string_view line = Trim(rest.substr(0, nl));
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      if (line.empty()) continue;
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        ConnFailed(conn, llmbench::v1::ERROR_CLASS_PARSE,
             absl::StrCat("malformed HTTP response: bad header line '", std::string(line.substr(0, 64)), "'"), false);
        return false;
      }
      std::string name = ToLower(Trim(line.substr(0, colon)));
      std::string_view value = Trim(line.substr(colon + 1));
      if (name == "content-length") {
        uint64_t v = 0;
        if (!absl::SimpleAtoi(std::string(value), &v) || (has_length && v != length)) {
          ConnFailed(conn, llmbench::v1::ERROR_CLASS_PARSE,
               absl::StrCat("malformed HTTP response: bad Content-Length '",
                            std::string(value.substr(0, 64)), "'"), false);
          return false;
        }
        has_length = true;
        length = v;
      } else if (name == "transfer-encoding") {
        chunked = LastCodingIsChunked(value);
      } else if (name == "connection") {
        if (HasToken(value, "close")) keep_alive = false;
        if (http10 && HasToken(value, "keep-alive")) keep_alive = true;
      }
      if (headers.size() < kMaxHeaders) headers.emplace_back(std::move(name), std::string(value));
    }
    in.erase(0, end + skip);
    if (status < 200) continue;  // 100 Continue, 103 Early Hints: the real head follows
    req->status = status;
    req->keep_alive = keep_alive;
    req->phase = Request::Phase::kBody;
    if (status == 204 || status == 304) {
      req->framing = Request::Framing::kNone;
      req->remaining = 0;
    } else if (chunked) {
      req->framing = Request::Framing::kChunked;
      req->chunk_state = Request::ChunkState::kSize;
    } else if (has_length) {
      req->framing = Request::Framing::kLength;
      req->remaining = length;
    } else {
      req->framing = Request::Framing::kUntilClose;
      req->keep_alive = false;
    }
    req->parser->OnStatus(status, headers);
    if ((req->framing == Request::Framing::kLength || req->framing == Request::Framing::kNone) &&
        req->remaining == 0) {
      req->phase = Request::Phase::kDone;
    }
    // The idle timeout applies from now on: make the timer fire no later than it.
    if (config_.idle_timeout_ms > 0) {
      const int64_t idle = req->last_rx_mono_ns + config_.idle_timeout_ms * kNsPerMs;
      if (idle < req->timer_deadline) ArmTimer(req, idle);
    }
    return true;
  }
}

void Http1Transport::FinishResponse(Conn* conn, bool reusable) {
  std::unique_ptr<Request> owned = std::move(conn->req);
  owned->conn = nullptr;
  ++conn->responses;
  conn->in.clear();
  if (reusable) {
    ToIdle(conn);
  } else {
    CloseConn(conn);
  }
  Request* req = owned.release();
  Complete(req, ResponseParser::TransportError());
}

void Http1Transport::ToIdle(Conn* conn) {
  if (idle_.size() >= static_cast<size_t>(std::max(config_.max_cached_connections, 1L))) {
    CloseConn(conn);
    return;
  }
  conn->idle = true;
  idle_.push_back(conn);
}

void Http1Transport::ConnFailed(Conn* conn, ErrorClass error_class, const std::string& message,
                                bool retryable) {
  Request* req = conn->req.release();
  req->conn = nullptr;
  CloseConn(conn);
  if (retryable && !req->retried && !addresses_.empty()) {
    req->retried = true;
    req->written = 0;
    req->sent = false;
    req->got_bytes = false;
    req->bytes_received = 0;
    Connect(req, good_address_);
    return;
  }
  Fail(req, error_class, message);
}

void Http1Transport::CloseConn(Conn* conn) {
  if (conn->idle) {
    auto it = std::find(idle_.rbegin(), idle_.rend(), conn);
    if (it != idle_.rend()) idle_.erase(std::next(it).base());
    conn->idle = false;
  }
  loop_->UnwatchFd(conn->fd);
  ::close(conn->fd);
  conn->fd = -1;
  // Swap-remove from conns_; the request (if any) was taken out by the caller.
  const size_t slot = conn->slot;
  std::unique_ptr<Conn> owned = std::move(conns_[slot]);
  if (slot + 1 != conns_.size()) {
    conns_[slot] = std::move(conns_.back());
    conns_[slot]->slot = slot;
  }
  conns_.pop_back();
  if (owned->req != nullptr) {
    // Never expected: callers take the request out first. Fail it rather than lose it.
    Request* req = owned->req.release();
    owned.reset();
    Fail(req, llmbench::v1::ERROR_CLASS_STREAM_BROKEN, "connection closed");
  }
}

void Http1Transport::Fail(Request* req, ErrorClass error_class, std::string message) {
  ResponseParser::TransportError error;
  error.error_class = error_class;
  error.message = std::move(message);
  Complete(req, error);
}

void Http1Transport::Complete(Request* req, const ResponseParser::TransportError& error) {
  std::unique_ptr<Request> owned(req);
  if (owned->timer != 0) {
    loop_->CancelTimer(owned->timer);
    owned->timer = 0;
  }
  --in_flight_;
  owned->record->set_end_ns(NowNs());
  owned->record->set_bytes_received(owned->bytes_received);
  if (!owned->sent) {
    owned->record->clear_dispatch_delay_ns();
    owned->record->clear_connect_ns();
  }
  owned->parser->Finish(error);
  owned->parser.reset();
  on_complete_(std::move(owned->record));
}

void Http1Transport::ArmTimer(Request* req, int64_t deadline_mono_ns) {
  if (req->timer != 0) loop_->CancelTimer(req->timer);
  req->timer_deadline = deadline_mono_ns;
  req->timer = loop_->AddTimerAt(deadline_mono_ns, [this, req] {
    req->timer = 0;
    OnTimer(req);
  });
}

void Http1Transport::OnTimer(Request* req) {
  const int64_t now = EventLoop::MonotonicNowNs();
  // Each deadline that applies now; the earliest one decides.
  const int64_t total = req->handed_mono_ns + config_.total_timeout_ms * kNsPerMs;
  int64_t phase = std::numeric_limits<int64_t>::max();
  std::string phase_message;
  ErrorClass phase_class = llmbench::v1::ERROR_CLASS_TIMEOUT;
  if (!req->sent) {
    // Connecting, or writing into a full socket.
    phase = req->handed_mono_ns + config_.connect_timeout_ms * kNsPerMs;
    phase_message = absl::StrCat("could not connect to ", HostPort(), " and send within ",
                                 config_.connect_timeout_ms, " ms (connect timeout)");
  } else if (req->phase == Request::Phase::kHead) {
    phase = req->sent_mono_ns + config_.first_byte_timeout_ms * kNsPerMs;
    phase_message = absl::StrCat("no response headers within ", config_.first_byte_timeout_ms,
                                 " ms (first-byte timeout)");
  } else if (config_.idle_timeout_ms > 0) {
    phase = req->last_rx_mono_ns + config_.idle_timeout_ms * kNsPerMs;
    phase_message = absl::StrCat("no data from the engine for ", config_.idle_timeout_ms,
                                 " ms in the middle of the response (idle timeout)");
  }
  const int64_t deadline = std::min(total, phase);
  if (now < deadline) {
    ArmTimer(req, deadline);
    return;
  }
  std::string message =
      total <= phase ? absl::StrCat("request not finished within ", config_.total_timeout_ms,
                                    " ms (total timeout)")
                     : std::move(phase_message);
  if (req->conn != nullptr) {  // the connection is retired with its request
    Conn* conn = req->conn;
    conn->req.release();
    req->conn = nullptr;
    CloseConn(conn);
  }
  Fail(req, phase_class, std::move(message));
}

void Http1Transport::AbortAll(ErrorClass error_class, const std::string& message) {
  std::vector<Request*> all;
  for (size_t i = conns_.size(); i-- > 0;) {
    Conn* conn = conns_[i].get();
    if (conn->req == nullptr) continue;
    Request* req = conn->req.release();
    req->conn = nullptr;
    all.push_back(req);
    CloseConn(conn);
  }
  for (Request* req : all) Fail(req, error_class, message);
}

absl::StatusOr<std::unique_ptr<Transport>> MakeTransport(
    EventLoop* loop, TransportConfig config, int64_t epoch_ns,
    Transport::CompletionCallback on_complete, TransportKind kind) {
  if (kind == TransportKind::kAuto) {
    const char* forced = std::getenv("LLMBENCH_HTTP_CLIENT");
    if (forced != nullptr && std::string_view(forced) == "curl") kind = TransportKind::kCurl;
    if (forced != nullptr && std::string_view(forced) == "http1") kind = TransportKind::kHttp1;
  }
  if (kind == TransportKind::kAuto) {
    bool proxy = false;
    for (const char* var : {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"}) {
      const char* v = std::getenv(var);
      if (v != nullptr && v[0] != '\0') proxy = true;
    }
    kind = (!proxy && !config.http2 && absl::StartsWith(config.base_url, "http://"))
               ? TransportKind::kHttp1
               : TransportKind::kCurl;
  }
  if (kind == TransportKind::kHttp1) {
    auto t = Http1Transport::Create(loop, std::move(config), epoch_ns, std::move(on_complete));
    if (!t.ok()) return t.status();
    return std::unique_ptr<Transport>(std::move(*t));
  }
  return ShardedCurlTransport::Create(loop, std::move(config), epoch_ns, std::move(on_complete));
}

absl::StatusOr<std::unique_ptr<Transport>> ShardedCurlTransport::Create(
    EventLoop* loop, TransportConfig config, int64_t epoch_ns,
    Transport::CompletionCallback on_complete) {
  // HTTP/2 multiplexes many streams on few connections: one multi handle keeps them together.
  const long per_multi = config.http2 ? std::numeric_limits<long>::max() : kTransfersPerCurlMulti;
  const long wanted = std::max(config.max_cached_connections, 1L);
  const long count = config.http2 ? 1 : (wanted + per_multi - 1) / per_multi;
  auto sharded = std::unique_ptr<ShardedCurlTransport>(new ShardedCurlTransport());
  TransportConfig each = config;
  each.max_cached_connections = std::min(wanted, per_multi) + 4;
  for (long i = 0; i < count; ++i) {
    auto t = CurlMultiTransport::Create(loop, each, epoch_ns, on_complete);
    if (!t.ok()) return t.status();
    sharded->multis_.push_back(std::move(*t));
  }
  if (sharded->multis_.size() == 1) return std::unique_ptr<Transport>(std::move(sharded->multis_[0]));
  return std::unique_ptr<Transport>(std::move(sharded));
}

absl::Status ShardedCurlTransport::Start(const HttpRequestSpec& spec,
                                         std::unique_ptr<RequestRecord> record,
                                         std::unique_ptr<ResponseParser> parser) {
  // The least busy multi handle: a closed loop's next request goes where one just finished,
  // onto the connection it left idle.
  CurlMultiTransport* best = multis_[0].get();
  for (auto& m : multis_) {
    if (m->in_flight() < best->in_flight()) best = m.get();
  }
  return best->Start(spec, std::move(record), std::move(parser));
}

void ShardedCurlTransport::Flush() {
  for (auto& m : multis_) m->Flush();
}

void ShardedCurlTransport::AbortAll(ErrorClass error_class, const std::string& message) {
  for (auto& m : multis_) m->AbortAll(error_class, message);
}

size_t ShardedCurlTransport::in_flight() const {
  size_t n = 0;
  for (const auto& m : multis_) n += m->in_flight();
  return n;
}

uint64_t ShardedCurlTransport::connections_opened() const {
  uint64_t n = 0;
  for (const auto& m : multis_) n += m->connections_opened();
  return n;
}

}  // namespace llmbench::worker
