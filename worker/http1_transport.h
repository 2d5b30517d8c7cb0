// Http1Transport: a purpose-built HTTP/1.1 client on the worker's EventLoop for plain http://
// engines (worker/transport.h says what every transport measures). Why not libcurl here: at
// 10,000 connections per loop, curl 7.88 spends most of a request's CPU walking its connection
// cache to find a reusable connection (bench/README.md, "Request turnover": the symbol-level
// profile), and it writes the request a loop turn after it is handed over. This client does per
// request a constant amount of work: a LIFO pool of idle keep-alive connections, one write(2)
// inside Start() on a pooled connection (sent_ns is the instant it returned), one read(2) per
// readiness event, and one loop timer for all of a request's timeouts (re-armed lazily).
// libcurl stays for https://, HTTP/2 and proxies (MakeTransport).
//
// HTTP/1.1 as a client needs it: request with Content-Length; response status line and
// headers (at most kMaxHeadBytes; 1xx heads skipped), body framed by Content-Length, chunked
// transfer coding (extensions and trailers ignored) or the connection's end; keep-alive unless
// the engine says "Connection: close" or answers HTTP/1.0. No pipelining: one request per
// connection at a time. A request whose reused connection turns out closed by the engine
// (write fails, or EOF before any response byte) is retried once on a new connection, as curl
// does. Malformed framing fails the request as ERROR_CLASS_PARSE; a connection closed or reset
// mid-response as ERROR_CLASS_STREAM_BROKEN; a connect failure as ERROR_CLASS_CONNECT.
//
// Idle connections stay watched for input: an engine closing one is noticed and it leaves the
// pool. At most TransportConfig::max_cached_connections stay idle; more are closed.
//
// Thread-safety and lifetime: as Transport.
#ifndef LLMBENCH_WORKER_HTTP1_TRANSPORT_H_
#define LLMBENCH_WORKER_HTTP1_TRANSPORT_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/transport.h"

namespace llmbench::worker {

// Longest response head (status line + headers) accepted.
inline constexpr size_t kMaxHeadBytes = 64 * 1024;

class Http1Transport final : public Transport {
 public:
  // InvalidArgument unless base_url is http://host[:port][/prefix] and every header is free of
  // CR/LF. The host is resolved here (getaddrinfo, blocking); a host that does not resolve
  // makes every Start() fail with an Unavailable status naming it.
  static absl::StatusOr<std::unique_ptr<Http1Transport>> Create(EventLoop* loop,
                                                                TransportConfig config,
                                                                int64_t epoch_ns,
                                                                CompletionCallback on_complete);
  ~Http1Transport() override;
  Http1Transport(const Http1Transport&) = delete;
  Http1Transport& operator=(const Http1Transport&) = delete;

  absl::Status Start(const HttpRequestSpec& spec,
                     std::unique_ptr<llmbench::v1::RequestRecord> record,
                     std::unique_ptr<ResponseParser> parser) override;
  void Flush() override {}
  void AbortAll(llmbench::v1::ErrorClass error_class, const std::string& message) override;
  size_t in_flight() const override { return in_flight_; }
  uint64_t connections_opened() const override { return connections_opened_; }
  const char* name() const override { return "http1"; }

  size_t idle_connections() const { return idle_.size(); }

 private:
  struct Conn;
  struct Request;
  struct Address {
    sockaddr_storage addr{};
    socklen_t len = 0;
  };

  Http1Transport(EventLoop* loop, TransportConfig config, int64_t epoch_ns,
                 CompletionCallback on_complete);

  int64_t NowNs() const { return EventLoop::MonotonicNowNs() - epoch_ns_; }
  // Puts `req` on an idle connection (writing at once) or on a new one.
  void Assign(Request* req);
  // Opens a new connection for `req`; false when it failed (req completed).
  bool Connect(Request* req, size_t address_index);
  void OnConnEvent(Conn* conn, uint32_t events);
  void OnConnected(Conn* conn);
  void MarkConnected(Conn* conn);
  // The connection attempt failed with `err`: the next address of the host, or a failure.
  void OnConnectError(Conn* conn, int err);
  // Writes what is left of the request; false when the connection failed (handled).
  bool WriteRequest(Conn* conn);
  void OnReadable(Conn* conn);
  void OnIdleConnEvent(Conn* conn);
  // Parses `data` for the connection's request. Returns false when the request finished or
  // failed (the connection may have been reused or closed by then: touch nothing).
  bool Consume(Conn* conn, std::string_view data, int64_t now_ns);
  // Returns the number of bytes used from `data` for the head; sets *failed on a malformed
  // head (request failed) and *done when the head was complete.
  bool ParseHead(Conn* conn, Request* req, int64_t now_ns);
  // The response ended normally: recycle or close the connection, complete the request.
  void FinishResponse(Conn* conn, bool reusable);
  // The connection failed under its request: retry on a new one when allowed, else fail.
  void ConnFailed(Conn* conn, llmbench::v1::ErrorClass error_class, const std::string& message,
                  bool retryable);
  void Complete(Request* req, const ResponseParser::TransportError& error);
  void Fail(Request* req, llmbench::v1::ErrorClass error_class, std::string message);
  void ArmTimer(Request* req, int64_t deadline_mono_ns);
  void OnTimer(Request* req);
  void CloseConn(Conn* conn);
  void ToIdle(Conn* conn);
  std::string HostPort() const;

  EventLoop* const loop_;
  const TransportConfig config_;
  const int64_t epoch_ns_;
  const CompletionCallback on_complete_;
  std::string host_;  // as in the URL (brackets kept for IPv6)
  std::string port_;
  std::string prefix_;       // path prefix of the base URL
  std::string fixed_head_;   // "Host: ...\r\n" + constant headers, ends with "\r\n"
  std::vector<Address> addresses_;
  size_t good_address_ = 0;  // the address the last successful connect used
  std::string resolve_error_;
  std::vector<Conn*> idle_;  // LIFO pool of idle keep-alive connections
  std::vector<std::unique_ptr<Conn>> conns_;  // every open connection; Conn::slot indexes it
  size_t in_flight_ = 0;
  uint64_t connections_opened_ = 0;
  std::string read_buf_;  // one read's bytes, shared by all connections
};

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_HTTP1_TRANSPORT_H_
