// WorkerListener: the worker's own listening socket and accept thread, in front of gRPC.
//
// gRPC 1.51's listener (src/core/lib/iomgr/tcp_server_posix.cc, on_read) stops accepting for
// good on any accept4 error other than EAGAIN/ECONNABORTED/EINTR: one burst of connections that
// reaches the open-file limit (EMFILE) wedges a worker for the rest of its life. It also binds
// with SO_REUSEPORT, so a second worker on the same port starts silently and the kernel splits
// connections between the two. So the worker binds and accepts itself:
//
//   * Bind: SO_REUSEADDR (a restarted worker rebinds a port in TIME_WAIT), never SO_REUSEPORT:
//     a second worker on the same port fails at start with "address already in use".
//   * Accept: one thread polls the socket. On EMFILE/ENFILE it frees a reserve descriptor,
//     accepts the waiting connection and closes it (the peer learns at once instead of hanging
//     in the backlog), takes the reserve back and waits 100 ms before it accepts again; it
//     resumes by itself once descriptors are free. It never stops on an error.
//   * Connection cap: at most `max_connections` connections are open at once (checked against
//     the process's open descriptors, /proc/self/fd, when the count reaches the cap); at the
//     cap new connections wait in the kernel's backlog (checked again every 50 ms) and are
//     accepted as soon as others close.
//   * Hand-over: each accepted socket goes to gRPC through an ExternalConnectionAcceptor
//     (ServerBuilder::experimental().AddExternalConnectionAcceptor), which runs the same
//     handshake as gRPC's own listener: TLS/mutual TLS with the server credentials, the
//     handshake timeout, the memory quota and every channel argument. (grpc_server_add_channel_
//     from_fd is not used: in gRPC 1.51 it accepts insecure credentials only and skips the
//     handshake manager, so no TLS and no handshake timeout.)
//   * Header relay (plaintext only, `relay_headers`): each connection is relayed through a
//     socket pair by a HeaderGuard thread (worker/worker_service_header_guard.h) that bounds
//     HTTP/2 header blocks before gRPC's HPACK parser sees them.
//
// Thread-safety: Start and Stop from one thread; stats() from any.
// Lifetime: Start after grpc::ServerBuilder::BuildAndStart, Stop before grpc::Server::Shutdown
// (gRPC leaks a descriptor handed to it outside that window).
#ifndef LLMBENCH_WORKER_WORKER_SERVICE_LISTENER_H_
#define LLMBENCH_WORKER_WORKER_SERVICE_LISTENER_H_

#include <grpcpp/server_builder.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>

#include "absl/status/statusor.h"

namespace llmbench::worker {

class HeaderGuard;

// Raises the soft open-file limit to the hard limit and returns the soft limit in force.
uint64_t RaiseOpenFileLimit();

// The connection cap used for `requested` under an open-file limit of `fd_limit`: at most a
// quarter of the limit (the rest is for the engine connections and the relay's socket pairs),
// at least 4.
int EffectiveConnectionCap(int requested, uint64_t fd_limit);

struct ListenerStats {
  uint64_t accepted = 0;        // handed to gRPC
  uint64_t over_cap = 0;        // times new connections had to wait: max_connections open
  uint64_t out_of_fds = 0;      // closed at once: EMFILE/ENFILE
};

class WorkerListener {
 public:
  // Binds `host_port` ("HOST:PORT", "[V6]:PORT"; PORT 0 = ephemeral) and listens. The error
  // names the address and the reason (e.g. another process already listens there).
  static absl::StatusOr<std::unique_ptr<WorkerListener>> Bind(const std::string& host_port);
  ~WorkerListener();
  WorkerListener(const WorkerListener&) = delete;
  WorkerListener& operator=(const WorkerListener&) = delete;

  int port() const { return port_; }

  // Starts the accept thread. `relay_headers`: plaintext connections go through a HeaderGuard
  // that refuses header blocks over `max_header_block_bytes`.
  void Start(std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor,
             int max_connections, bool relay_headers, uint32_t max_header_block_bytes);
  // Stops accepting (the listening socket is closed) and joins the thread. Idempotent.
  void Stop();

  ListenerStats stats() const;

 private:
  WorkerListener(int fd, int port);
  void AcceptLoop();
  // Hands `fd` to gRPC (through the guard when there is one). False when it had to be closed
  // for want of descriptors.
  bool Accepted(int fd);
  void OutOfDescriptors(int error);
  // Connections still open, after forgetting those whose socket the process no longer holds.
  size_t LiveConnections(bool refresh);

  int fd_ = -1;
  int port_ = 0;
  int wake_fd_ = -1;
  int reserve_fd_ = -1;
  int max_connections_ = 0;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
  std::unique_ptr<HeaderGuard> guard_;
  std::thread thread_;
  std::unordered_set<uint64_t> live_;  // socket inodes handed over; accept thread only
  int64_t last_refresh_ns_ = 0;        // accept thread only
  int64_t last_warning_ns_ = 0;        // accept thread only
  std::atomic<uint64_t> accepted_{0}, over_cap_{0}, out_of_fds_{0};
};

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_WORKER_SERVICE_LISTENER_H_
