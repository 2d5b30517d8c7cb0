// CurlMultiTransport: the HTTP client of one event-loop thread. It owns one libcurl multi
// handle driven by curl_multi_socket_action from the EventLoop (epoll for sockets, a loop timer
// for curl's timeout; a zero timeout is deferred to the next loop turn, as in curl's
// ephiperfifo.c). Every request carries its context in CURLOPT_PRIVATE.
//
// What it measures (all times are monotonic ns relative to `epoch_ns`, the shard start):
//   sent_ns   when curl is about to send the request on a connected socket
//             (CURLOPT_PREREQFUNCTION; re-stamped if curl retries on a fresh connection);
//             when no connection could be made it is the instant Start() was called;
//   body      every slice of body bytes goes to ResponseParser::OnBody with one clock read
//             taken when the write callback runs;
//   end_ns    when curl reports the transfer done (or it is aborted).
// Timeouts: connect (CURLOPT_CONNECTTIMEOUT_MS), total (CURLOPT_TIMEOUT_MS), and first byte:
// a loop timer armed when the request is sent and cancelled when the response headers are
// complete; when it fires the transfer is aborted as ERROR_CLASS_TIMEOUT.
// Connections: HTTP/1.1 keep-alive, reused through the multi handle's connection cache, which
// is sized to the concurrency asked for (CURLMOPT_MAXCONNECTS); no cap on the total number of
// connections (CURLMOPT_MAX_TOTAL_CONNECTIONS 0). HTTP/2 when TransportConfig::http2 (prior
// knowledge for http://, ALPN for https://), multiplexed.
//
// Thread-safety: thread-compatible; every method must be called on the EventLoop's thread.
// Lifetime: the loop must outlive the transport; destroying the transport aborts nothing and
// calls no callbacks (call AbortAll first to get records for what was in flight).
#ifndef LLMBENCH_WORKER_CURL_TRANSPORT_H_
#define LLMBENCH_WORKER_CURL_TRANSPORT_H_

#include <curl/curl.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "llmbench/v1/record.pb.h"
#include "worker/engine_protocol.h"
#include "worker/event_loop.h"

namespace llmbench::worker {

// RAII owners of libcurl handles.
struct CurlEasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct CurlMultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlMultiPtr = std::unique_ptr<CURLM, CurlMultiDeleter>;
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// Calls curl_global_init once per process (thread-safe).
void EnsureCurlGlobalInit();

struct TransportConfig {
  std::string base_url;  // scheme://host:port[/prefix], without a trailing slash
  std::vector<std::pair<std::string, std::string>> headers;  // sent on every request
  std::string api_key;  // sent as "Authorization: Bearer <key>" when not empty; never logged
  bool http2 = false;
  // PEM CA bundle that verifies an https:// engine (CURLOPT_CAINFO); empty: the system store.
  std::string tls_ca_file;
  int64_t connect_timeout_ms = 5000;
  int64_t first_byte_timeout_ms = 60000;
  int64_t total_timeout_ms = 600000;
  // Connections kept in the cache (CURLMOPT_MAXCONNECTS): at least the loop's concurrency.
  long max_cached_connections = 64;
};

class CurlMultiTransport {
 public:
  // Called on the loop thread once per request, with the finished record (the parser's
  // Finish has run). It may call Start() again.
  using CompletionCallback = std::function<void(std::unique_ptr<llmbench::v1::RequestRecord>)>;

  static absl::StatusOr<std::unique_ptr<CurlMultiTransport>> Create(
      EventLoop* loop, TransportConfig config, int64_t epoch_ns, CompletionCallback on_complete);
  ~CurlMultiTransport();
  CurlMultiTransport(const CurlMultiTransport&) = delete;
  CurlMultiTransport& operator=(const CurlMultiTransport&) = delete;

  // Starts `spec` against the engine. `parser` must write into `record`. On success the
  // transport owns both until the completion callback receives the record.
  absl::Status Start(const HttpRequestSpec& spec,
                     std::unique_ptr<llmbench::v1::RequestRecord> record,
                     std::unique_ptr<ResponseParser> parser);

  // Runs curl's pending zero timeout now rather than at the start of the next loop turn, so
  // that requests Start()ed from a loop callback are handed to their (reused) connections and
  // sent before the loop handles anything else. No-op when curl asked for nothing. Must not be
  // called from inside a curl callback or a completion callback.
  void Flush();

  // Aborts every request in flight: each is finished with `error_class` / `message` and
  // handed to the completion callback.
  void AbortAll(llmbench::v1::ErrorClass error_class, const std::string& message);

  size_t in_flight() const { return transfers_.size(); }
  // Connections opened so far (CURLINFO_NUM_CONNECTS summed over finished transfers).
  uint64_t connections_opened() const { return connections_opened_; }

 private:
  struct Transfer;

  CurlMultiTransport(EventLoop* loop, TransportConfig config, int64_t epoch_ns,
                     CompletionCallback on_complete, CurlMultiPtr multi);

  static int SocketCallback(CURL* easy, curl_socket_t fd, int what, void* user, void* socket_ptr);
  static int TimerCallback(CURLM* multi, long timeout_ms, void* user);
  static size_t HeaderCallback(char* data, size_t size, size_t count, void* user);
  static size_t WriteCallback(char* data, size_t size, size_t count, void* user);
  static int PrereqCallback(void* user, char* primary_ip, char* local_ip, int primary_port,
                            int local_port);

  void OnSocketEvent(curl_socket_t fd, uint32_t events);
  void OnCurlTimeout();
  void CheckMultiInfo();
  void DeliverStatus(Transfer* transfer);
  // Removes `transfer` from the multi handle, finishes its parser and completes it.
  void Complete(Transfer* transfer, const ResponseParser::TransportError& error);
  void OnFirstByteTimeout(Transfer* transfer);
  int64_t NowNs() const { return EventLoop::MonotonicNowNs() - epoch_ns_; }
  CurlEasyPtr TakeEasy();

  EventLoop* const loop_;
  const TransportConfig config_;
  const int64_t epoch_ns_;
  const CompletionCallback on_complete_;
  CurlMultiPtr multi_;
  std::string auth_header_;
  std::unordered_map<Transfer*, std::unique_ptr<Transfer>> transfers_;
  std::vector<CurlEasyPtr> idle_easies_;
  EventLoop::TimerId curl_timer_ = 0;
  bool curl_timeout_deferred_ = false;
  uint64_t connections_opened_ = 0;
};

// The error class of a failed curl transfer: CONNECT for failures to establish the connection
// (refused, DNS, TLS handshake), TIMEOUT for curl's timeouts, STREAM_BROKEN for failures on an
// established connection (reset, truncated body, HTTP/2 stream errors), PARSE for malformed
// HTTP framing.
llmbench::v1::ErrorClass ClassifyCurlError(CURLcode code);

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_CURL_TRANSPORT_H_
