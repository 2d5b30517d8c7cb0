// CurlMultiTransport: the libcurl multi Transport (worker/transport.h), used for https://,
// HTTP/2 and proxies. It owns one libcurl multi handle driven by curl_multi_socket_action from
// the EventLoop (epoll for sockets, a loop timer for curl's timeout; a zero timeout is deferred
// to the next loop turn, as in curl's ephiperfifo.c). Every request carries its context in
// CURLOPT_PRIVATE.
//
// Measurements as in transport.h, with these curl specifics:
//   sent_ns   when curl is about to send the request on a connected socket
//             (CURLOPT_PREREQFUNCTION: curl writes the request right after it, in the same
//             call; re-stamped if curl retries on a fresh connection); when no connection could
//             be made it is the instant Start() was called and dispatch_delay_ns is absent;
//   connect_ns  CURLINFO_CONNECT_TIME_T when the transfer opened a connection.
// Timeouts: connect (CURLOPT_CONNECTTIMEOUT_MS), total (CURLOPT_TIMEOUT_MS), and two loop
// timers: first byte (armed when the request is sent, until the response headers are complete)
// and idle (from then on, re-armed lazily from the time of the last body bytes).
// Connections: HTTP/1.1 keep-alive, reused through the multi handle's connection cache, which
// is sized to the concurrency asked for (CURLMOPT_MAXCONNECTS); no cap on the total number of
// connections (CURLMOPT_MAX_TOTAL_CONNECTIONS 0). HTTP/2 when TransportConfig::http2 (prior
// knowledge for http://, ALPN for https://), multiplexed.
//
// Cost: curl 7.88 does two walks over the connections of a multi handle per transfer: to find
// a reusable connection (ConnectionExists, in Curl_connect, over every connection to the host)
// and in curl_multi_remove_handle (Curl_conncache_foreach with close_connect_only, over the
// whole cache). A transfer costs O(connections) (bench/README.md, "Request turnover"): the
// HTTP/1.1 transport is the hot path for plain http://, and ShardedCurlTransport keeps each
// multi handle to kTransfersPerCurlMulti transfers.
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
#include "engines/curl_handles.h"
#include "engines/engine_protocol.h"
#include "llmbench/v1/record.pb.h"
#include "worker/event_loop.h"
#include "worker/transport.h"

namespace llmbench::worker {

// Calls curl_global_init once per process (thread-safe).
void EnsureCurlGlobalInit();

class CurlMultiTransport final : public Transport {
 public:
  static absl::StatusOr<std::unique_ptr<CurlMultiTransport>> Create(
      EventLoop* loop, TransportConfig config, int64_t epoch_ns, CompletionCallback on_complete);
  ~CurlMultiTransport() override;
  CurlMultiTransport(const CurlMultiTransport&) = delete;
  CurlMultiTransport& operator=(const CurlMultiTransport&) = delete;

  absl::Status Start(const HttpRequestSpec& spec,
                     std::unique_ptr<llmbench::v1::RequestRecord> record,
                     std::unique_ptr<ResponseParser> parser) override;

  // Runs curl's pending zero timeout now rather than at the start of the next loop turn, so
  // that requests Start()ed from a loop callback are handed to their (reused) connections and
  // sent before the loop handles anything else. No-op when curl asked for nothing. Must not be
  // called from inside a curl callback or a completion callback.
  void Flush() override;

  void AbortAll(llmbench::v1::ErrorClass error_class, const std::string& message) override;

  size_t in_flight() const override { return transfers_.size(); }
  // Connections opened so far (CURLINFO_NUM_CONNECTS summed over finished transfers).
  uint64_t connections_opened() const override { return connections_opened_; }
  const char* name() const override { return "curl"; }

 private:
  struct Transfer;

  CurlMultiTransport(EventLoop* loop, TransportConfig config, int64_t epoch_ns,
                     CompletionCallback on_complete, engines::CurlMultiPtr multi);

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
  // The idle timer fired: fails the transfer when no body bytes came for idle_timeout_ms,
  // otherwise re-arms it from the last bytes' time.
  void OnIdleTimer(Transfer* transfer);
  void ArmIdleTimer(Transfer* transfer, int64_t deadline_mono_ns);
  int64_t NowNs() const { return EventLoop::MonotonicNowNs() - epoch_ns_; }
  engines::CurlEasyPtr TakeEasy();

  EventLoop* const loop_;
  const TransportConfig config_;
  const int64_t epoch_ns_;
  const CompletionCallback on_complete_;
  engines::CurlMultiPtr multi_;
  std::string auth_header_;
  std::unordered_map<Transfer*, std::unique_ptr<Transfer>> transfers_;
  std::vector<engines::CurlEasyPtr> idle_easies_;
  EventLoop::TimerId curl_timer_ = 0;
  bool curl_timeout_deferred_ = false;
  uint64_t connections_opened_ = 0;
};

// Most transfers one curl multi handle serves (ShardedCurlTransport): curl 7.88 walks every
// connection of the handle for each transfer, so the handles are kept small.
inline constexpr long kTransfersPerCurlMulti = 256;

// Several CurlMultiTransports on one loop, each serving at most kTransfersPerCurlMulti
// transfers (HTTP/1.1; HTTP/2 keeps one handle), so curl's per-transfer walks over its
// connections stay short whatever the loop's concurrency. Start() picks the handle with the
// fewest transfers in flight. Create() returns a plain CurlMultiTransport when one suffices.
class ShardedCurlTransport final : public Transport {
 public:
  static absl::StatusOr<std::unique_ptr<Transport>> Create(EventLoop* loop, TransportConfig config,
                                                           int64_t epoch_ns,
                                                           CompletionCallback on_complete);
  absl::Status Start(const HttpRequestSpec& spec,
                     std::unique_ptr<llmbench::v1::RequestRecord> record,
                     std::unique_ptr<ResponseParser> parser) override;
  void Flush() override;
  void AbortAll(llmbench::v1::ErrorClass error_class, const std::string& message) override;
  size_t in_flight() const override;
  uint64_t connections_opened() const override;
  const char* name() const override { return "curl"; }

 private:
  ShardedCurlTransport() = default;
  std::vector<std::unique_ptr<CurlMultiTransport>> multis_;
};

// The error class of a failed curl transfer: CONNECT for failures to establish the connection
// (refused, DNS, TLS handshake), TIMEOUT for curl's timeouts, STREAM_BROKEN for failures on an
// established connection (reset, truncated body, HTTP/2 stream errors), PARSE for malformed
// HTTP framing.
llmbench::v1::ErrorClass ClassifyCurlError(CURLcode code);

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_CURL_TRANSPORT_H_
