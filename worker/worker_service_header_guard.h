// HeaderGuard: bounds HTTP/2 header blocks on plaintext connections before gRPC parses them.
//
// gRPC 1.51's HPACK parser (src/core/ext/transport/chttp2/transport/hpack_parser.cc) checks
// GRPC_ARG_MAX_METADATA_SIZE only when a header field is complete. A field whose string never
// ends, sent as one HEADERS frame and an endless run of CONTINUATION frames, is buffered whole
// (HPackParser::unparsed_bytes_, copied again for every frame, outside the resource quota):
// 16 such connections (~104 MB sent) drove a worker to 2.13 GB before any token was checked
// (CVE-2023-33953, fixed upstream in 1.53.2/1.56.2; Debian 12 ships 1.51.1 unpatched).
//
// The guard sits between the client's socket and gRPC: each connection is relayed through a
// socket pair whose other end gRPC serves. Client → gRPC bytes are scanned for HTTP/2 frame
// headers (the 24-byte preface, then 9-byte headers; payloads are not parsed): a header block
// (HEADERS or PUSH_PROMISE and the CONTINUATION frames up to END_HEADERS) longer than
// `max_header_block_bytes` closes the connection before those bytes reach gRPC, with one
// warning. Both directions go through fixed 64 KiB buffers, so a connection costs the guard a
// bounded amount of memory whatever the peer sends; a full buffer stops reading from that side
// (TCP backpressure). TLS connections cannot be scanned (encrypted) and are not relayed.
//
// Thread-safety: Add and Stop may be called from any thread; one relay thread does the rest.
#ifndef LLMBENCH_WORKER_WORKER_SERVICE_HEADER_GUARD_H_
#define LLMBENCH_WORKER_WORKER_SERVICE_HEADER_GUARD_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace llmbench::worker {

// Scans the client → server byte stream of one HTTP/2 connection for header blocks.
// Thread-compatible.
class Http2HeaderScanner {
 public:
  explicit Http2HeaderScanner(uint32_t max_header_block_bytes)
      : max_block_(max_header_block_bytes) {}
  // Consumes the next bytes of the stream. False (and stays false) once a header block is
  // over the limit.
  bool Consume(absl::Span<const char> bytes);
  bool failed() const { return failed_; }
  // The size the failing block had reached.
  uint64_t block_bytes() const { return block_bytes_; }

 private:
  static constexpr uint32_t kPrefaceBytes = 24;
  const uint32_t max_block_;
  uint32_t preface_left_ = kPrefaceBytes;
  unsigned char header_[9] = {};
  uint32_t header_have_ = 0;
  uint32_t payload_left_ = 0;
  bool in_block_ = false;
  uint64_t block_bytes_ = 0;
  bool failed_ = false;
};

class HeaderGuard {
 public:
  static absl::StatusOr<std::unique_ptr<HeaderGuard>> Start(uint32_t max_header_block_bytes);
  ~HeaderGuard();
  HeaderGuard(const HeaderGuard&) = delete;
  HeaderGuard& operator=(const HeaderGuard&) = delete;

  // Takes `client_fd` (a connected socket; closed by the guard) and returns the socket to hand
  // to gRPC, or an error (client_fd is closed then too).
  absl::StatusOr<int> Add(int client_fd, std::string peer);
  // Closes every connection and joins the thread. Idempotent.
  void Stop();
  uint64_t refused() const { return refused_.load(); }

 private:
  struct Connection;
  explicit HeaderGuard(uint32_t max_block);
  void Run();
  void Pump(Connection* c);
  void Rearm(Connection* c);
  void Close(Connection* c);

  const uint32_t max_block_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> refused_{0};
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> pending_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;  // relay thread
  int64_t last_warning_ns_ = 0;                                              // relay thread
};

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_WORKER_SERVICE_HEADER_GUARD_H_
