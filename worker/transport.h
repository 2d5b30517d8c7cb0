// Transport: the HTTP client of one event-loop thread. Two implementations:
//   * Http1Transport (worker/http1_transport.h): a purpose-built HTTP/1.1 client on the
//     EventLoop for plain http:// engines, the hot path (constant cost per request and per
//     byte, whatever the number of connections; "sent" stamped when the request's bytes are
//     written by its own write(2));
//   * CurlMultiTransport (worker/curl_transport.h): libcurl multi, for https://, HTTP/2 and
//     proxies (what curl is good at).
// MakeTransport picks one (see there). Both measure the same things into the record:
//   handed_ns          when Start() was called;
//   sent_ns            when the request's bytes were written to the socket (see record.proto);
//   dispatch_delay_ns  sent_ns - scheduled_ns (open loop) or sent_ns - handed_ns;
//   connect_ns         the new connection's set-up time, when the request opened one;
//   body               every slice of body bytes goes to ResponseParser::OnBody with one clock
//                      read per read from the socket;
//   end_ns             when the response ended or the request failed.
// Timeouts (TransportConfig): connect, first byte (response head complete after sent), idle
// (once the response head arrived, the most time between two reads that returned bytes) and
// total (from Start). Each fails the request as ERROR_CLASS_TIMEOUT with a message naming it.
//
// Thread-safety: thread-compatible; every method must be called on the EventLoop's thread.
// Lifetime: the loop must outlive the transport; destroying the transport aborts nothing and
// calls no callbacks (call AbortAll first to get records for what was in flight).
#ifndef LLMBENCH_WORKER_TRANSPORT_H_
#define LLMBENCH_WORKER_TRANSPORT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engines/engine_protocol.h"
#include "llmbench/v1/record.pb.h"
#include "worker/event_loop.h"

namespace llmbench::worker {

// A transport carries what the engines layer builds (the request) and parses (the response).
using engines::HttpRequestSpec;
using engines::ResponseParser;

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
  int64_t idle_timeout_ms = 60000;  // 0: none
  // Idle connections kept for reuse: at least the loop's concurrency.
  long max_cached_connections = 64;
};

class Transport {
 public:
  // Called on the loop thread once per request, with the finished record (the parser's
  // Finish has run). It may call Start() again.
  using CompletionCallback = std::function<void(std::unique_ptr<llmbench::v1::RequestRecord>)>;

  virtual ~Transport() = default;

  // Starts `spec` against the engine. `parser` must write into `record`. On success the
  // transport owns both until the completion callback receives the record. The record's
  // scheduled_ns, when set, is the open-loop instant its dispatch delay counts from.
  virtual absl::Status Start(const HttpRequestSpec& spec,
                             std::unique_ptr<llmbench::v1::RequestRecord> record,
                             std::unique_ptr<ResponseParser> parser) = 0;
  // Sends what Start() left pending before the loop handles anything else (curl defers its
  // work to the next loop turn; the HTTP/1.1 transport writes inside Start and has nothing to
  // do). Must not be called from inside a completion callback.
  virtual void Flush() = 0;
  // Aborts every request in flight: each is finished with `error_class` / `message` and
  // handed to the completion callback.
  virtual void AbortAll(llmbench::v1::ErrorClass error_class, const std::string& message) = 0;

  virtual size_t in_flight() const = 0;
  // Connections opened so far.
  virtual uint64_t connections_opened() const = 0;
  // "http1" or "curl".
  virtual const char* name() const = 0;
};

enum class TransportKind { kAuto, kHttp1, kCurl };

// kAuto: Http1Transport for http:// without HTTP/2 when no proxy variable (http_proxy,
// HTTP_PROXY, all_proxy, ALL_PROXY) is set; CurlMultiTransport otherwise. The environment
// variable LLMBENCH_HTTP_CLIENT=curl|http1 overrides kAuto (benchmarks, A/B checks); kHttp1
// on a configuration it cannot serve is an InvalidArgument error.
absl::StatusOr<std::unique_ptr<Transport>> MakeTransport(
    EventLoop* loop, TransportConfig config, int64_t epoch_ns,
    Transport::CompletionCallback on_complete, TransportKind kind = TransportKind::kAuto);

// Sets the record's sent_ns and dispatch_delay_ns for bytes written at `sent_ns`.
inline void StampSent(llmbench::v1::RequestRecord* record, int64_t sent_ns) {
  record->set_sent_ns(sent_ns);
  const int64_t from = record->has_scheduled_ns() ? record->scheduled_ns() : record->handed_ns();
  record->set_dispatch_delay_ns(sent_ns - from);
}

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_TRANSPORT_H_
