#include "worker/worker_service_listener.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "worker/worker_service_header_guard.h"

namespace llmbench::worker {
namespace {

constexpr int kBacklog = 1024;
constexpr int kBackoffMs = 100;
constexpr int64_t kWarningEveryNs = 5'000'000'000;
constexpr int64_t kRefreshEveryNs = 50'000'000;

int64_t MonoNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string PeerName(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
    return absl::StrCat(host, ":", port);
  }
  if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
  }
  return absl::StrCat("[", host, "]:", port);
}

// Inodes of the sockets this process holds open.
std::unordered_set<uint64_t> OpenSocketInodes() {
  std::unordered_set<uint64_t> inodes;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return inodes;
  const int dir_fd = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    struct stat st {};
    if (fstatat(dir_fd, entry->d_name, &st, 0) == 0 && S_ISSOCK(st.st_mode)) {
      inodes.insert(static_cast<uint64_t>(st.st_ino));
    }
  }
  closedir(dir);
  return inodes;
}

}  // namespace

uint64_t RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<uint64_t>(limit.rlim_cur);
}

int EffectiveConnectionCap(int requested, uint64_t fd_limit) {
  const uint64_t quarter = std::max<uint64_t>(4, fd_limit / 4);
  return static_cast<int>(std::min<uint64_t>(static_cast<uint64_t>(std::max(1, requested)), quarter));
}

absl::StatusOr<std::unique_ptr<WorkerListener>> WorkerListener::Bind(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("cannot listen on ", host_port,
                                                   ": expected HOST:PORT"));
  }
  std::string host = host_port.substr(0, colon);
  const std::string port = host_port.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* results = nullptr;
  const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &results);
  if (rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot listen on ", host_port, ": ", gai_strerror(rc)));
  }
  std::string error = "no address";
  int fd = -1;
  for (addrinfo* ai = results; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    const int one = 1;
    // SO_REUSEADDR only: rebinding a port in TIME_WAIT is fine, sharing a live one is not.
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, kBacklog) != 0) {
      error = std::strerror(errno);
      if (errno == EADDRINUSE) {
        error += " (another process, perhaps another llmbench-worker, listens there)";
      }
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(results);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot listen on ", host_port, ": ", error));
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  const int bound_port = bound.ss_family == AF_INET6
                             ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                             : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return std::unique_ptr<WorkerListener>(new WorkerListener(fd, bound_port));
}

WorkerListener::WorkerListener(int fd, int port) : fd_(fd), port_(port) {}

WorkerListener::~WorkerListener() {
  Stop();
  if (fd_ >= 0) close(fd_);
}

void WorkerListener::Start(std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor,
                           int max_connections, bool relay_headers,
                           uint32_t max_header_block_bytes) {
  acceptor_ = std::move(acceptor);
  max_connections_ = std::max(1, max_connections);
  if (relay_headers) {
    absl::StatusOr<std::unique_ptr<HeaderGuard>> guard = HeaderGuard::Start(max_header_block_bytes);
    if (guard.ok()) {
      guard_ = *std::move(guard);
    } else {
      spdlog::error("{}: header blocks are not bounded", std::string(guard.status().message()));
    }
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  thread_ = std::thread([this] { AcceptLoop(); });
}

void WorkerListener::Stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  if (guard_ != nullptr) guard_->Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
  if (reserve_fd_ >= 0) close(reserve_fd_);
  wake_fd_ = reserve_fd_ = -1;
}

ListenerStats WorkerListener::stats() const {
  ListenerStats stats;
  stats.accepted = accepted_.load();
  stats.over_cap = over_cap_.load();
  stats.out_of_fds = out_of_fds_.load();
  return stats;
}

size_t WorkerListener::LiveConnections(bool refresh) {
  const int64_t now = MonoNs();
  if (refresh && now - last_refresh_ns_ >= kRefreshEveryNs) {
    last_refresh_ns_ = now;
    const std::unordered_set<uint64_t> open = OpenSocketInodes();
    for (auto it = live_.begin(); it != live_.end();) {
      it = open.count(*it) > 0 ? std::next(it) : live_.erase(it);
    }
  }
  return live_.size();
}

void WorkerListener::AcceptLoop() {
  while (true) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int ready = poll(fds, 2, -1);
    if (ready < 0 && errno != EINTR) {
      spdlog::error("listener poll: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    for (int accepted = 0; accepted < 64; ++accepted) {
      if (LiveConnections(false) >= static_cast<size_t>(max_connections_) &&
          LiveConnections(true) >= static_cast<size_t>(max_connections_)) {
        // At the cap: new connections wait in the kernel's backlog (their peers see a slow
        // handshake, not a refusal) until some close; look again in a moment.
        over_cap_.fetch_add(1);
        const int64_t now = MonoNs();
        if (now - last_warning_ns_ >= kWarningEveryNs) {
          last_warning_ns_ = now;
          spdlog::warn(
              "new connections wait: {} are open, the most this worker accepts "
              "(--max-connections)",
              max_connections_);
        }
        pollfd wake{wake_fd_, POLLIN, 0};
        if (poll(&wake, 1, kRefreshEveryNs / 1'000'000) > 0) return;
        break;
      }
      sockaddr_storage addr{};
      socklen_t length = sizeof(addr);
      const int fd = accept4(fd_, reinterpret_cast<sockaddr*>(&addr), &length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        if (!Accepted(fd)) OutOfDescriptors(EMFILE);
        continue;
      }
      const int error = errno;
      if (error == EINTR || error == ECONNABORTED || error == EPROTO) continue;
      if (error == EAGAIN || error == EWOULDBLOCK) break;
      if (error == EMFILE || error == ENFILE) {
        // Out of descriptors: use the reserve to take the waiting connection off the backlog
        // and close it (its peer learns at once), then back off until some are free.
        if (reserve_fd_ >= 0) close(reserve_fd_);
        const int drop = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (drop >= 0) close(drop);
        reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
        OutOfDescriptors(error);
      } else {
        spdlog::warn("accept: {}; retrying in {} ms", std::strerror(error), kBackoffMs);
      }
      // Wait without watching the socket, which stays readable while the backlog is full.
      pollfd wake{wake_fd_, POLLIN, 0};
      if (poll(&wake, 1, kBackoffMs) > 0) return;
      break;
    }
  }
}

void WorkerListener::OutOfDescriptors(int error) {
  out_of_fds_.fetch_add(1);
  const int64_t now = MonoNs();
  if (now - last_warning_ns_ >= kWarningEveryNs) {
    last_warning_ns_ = now;
    spdlog::warn(
        "refusing connections: out of file descriptors ({}); {} refused so far; accepting "
        "again as soon as some are free",
        std::strerror(error), out_of_fds_.load());
  }
}

bool WorkerListener::Accepted(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  struct stat st {};
  if (fstat(fd, &st) == 0) live_.insert(static_cast<uint64_t>(st.st_ino));
  int handed = fd;
  if (guard_ != nullptr) {
    sockaddr_storage addr{};
    socklen_t length = sizeof(addr);
    getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &length);
    absl::StatusOr<int> relayed = guard_->Add(fd, PeerName(addr));
    if (!relayed.ok()) return false;  // fd is closed
    handed = *relayed;
  }
  accepted_.fetch_add(1);
  grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters params;
  params.listener_fd = fd_;
  params.fd = handed;
  acceptor_->HandleNewConnection(&params);
  return true;
}

}  // namespace llmbench::worker
