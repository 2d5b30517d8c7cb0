#include "worker/worker_service_header_guard.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace llmbench::worker {
namespace {

constexpr size_t kBufferBytes = 64 << 10;
constexpr uint8_t kFrameHeaders = 0x1;
constexpr uint8_t kFramePushPromise = 0x5;
constexpr uint8_t kFrameContinuation = 0x9;
constexpr uint8_t kFlagEndHeaders = 0x4;

int64_t MonoNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A fixed-size byte queue.
struct Buffer {
  std::unique_ptr<char[]> data{new char[kBufferBytes]};
  size_t begin = 0;
  size_t end = 0;
  size_t size() const { return end - begin; }
  size_t space() const { return kBufferBytes - end; }
  void Compact() {
    if (begin == end) begin = end = 0;
  }
};

}  // namespace

bool Http2HeaderScanner::Consume(absl::Span<const char> bytes) {
  size_t i = 0;
  while (i < bytes.size() && !failed_) {
    if (preface_left_ > 0) {
      const size_t take = std::min<size_t>(preface_left_, bytes.size() - i);
      preface_left_ -= static_cast<uint32_t>(take);
      i += take;
      continue;
    }
    if (payload_left_ > 0) {
      const size_t take = std::min<size_t>(payload_left_, bytes.size() - i);
      payload_left_ -= static_cast<uint32_t>(take);
      i += take;
      continue;
    }
    header_[header_have_++] = static_cast<unsigned char>(bytes[i++]);
    if (header_have_ < sizeof(header_)) continue;
    header_have_ = 0;
    const uint32_t length = (uint32_t{header_[0]} << 16) | (uint32_t{header_[1]} << 8) | header_[2];
    const uint8_t type = header_[3];
    const uint8_t flags = header_[4];
    if (type == kFrameHeaders || type == kFramePushPromise) {
      block_bytes_ = length;
      in_block_ = (flags & kFlagEndHeaders) == 0;
    } else if (type == kFrameContinuation) {
      block_bytes_ += length;  // outside a block gRPC refuses it as a protocol error
      if ((flags & kFlagEndHeaders) != 0) in_block_ = false;
    }
    if ((type == kFrameHeaders || type == kFramePushPromise || type == kFrameContinuation) &&
        block_bytes_ > max_block_) {
      failed_ = true;
      break;
    }
    payload_left_ = length;
  }
  return !failed_;
}

struct HeaderGuard::Connection {
  explicit Connection(uint32_t max_block) : scanner(max_block) {}
  int client = -1;
  int grpc = -1;  // our end of the socket pair
  std::string peer;
  Http2HeaderScanner scanner;
  Buffer up;    // client → gRPC
  Buffer down;  // gRPC → client
  bool client_eof = false;
  bool grpc_eof = false;
  bool up_shut = false;    // shutdown(grpc, SHUT_WR) done
  bool down_shut = false;  // shutdown(client, SHUT_WR) done
  bool closed = false;
};

HeaderGuard::HeaderGuard(uint32_t max_block) : max_block_(max_block) {}

absl::StatusOr<std::unique_ptr<HeaderGuard>> HeaderGuard::Start(uint32_t max_header_block_bytes) {
  std::unique_ptr<HeaderGuard> guard(new HeaderGuard(max_header_block_bytes));
  guard->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  guard->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (guard->epoll_fd_ < 0 || guard->wake_fd_ < 0) {
    return absl::InternalError(absl::StrCat("header guard: ", std::strerror(errno)));
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = guard->wake_fd_;
  epoll_ctl(guard->epoll_fd_, EPOLL_CTL_ADD, guard->wake_fd_, &event);
  HeaderGuard* raw = guard.get();
  guard->thread_ = std::thread([raw] { raw->Run(); });
  return guard;
}

HeaderGuard::~HeaderGuard() {
  Stop();
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

absl::StatusOr<int> HeaderGuard::Add(int client_fd, std::string peer) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
    const int error = errno;
    close(client_fd);
    return absl::ResourceExhaustedError(absl::StrCat("socketpair: ", std::strerror(error)));
  }
  auto connection = std::make_unique<Connection>(max_block_);
  connection->client = client_fd;
  connection->grpc = pair[0];
  connection->peer = std::move(peer);
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(std::move(connection));
  }
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  return pair[1];
}

void HeaderGuard::Stop() {
  if (stop_.exchange(true)) return;
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void HeaderGuard::Run() {
  std::unordered_map<int, Connection*> by_fd;
  epoll_event events[64];
  while (!stop_.load()) {
    const int n = epoll_wait(epoll_fd_, events, 64, -1);
    if (n < 0 && errno != EINTR) break;
    std::vector<Connection*> touched;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == wake_fd_) {
        uint64_t count;
        (void)!read(wake_fd_, &count, sizeof(count));
        std::vector<std::unique_ptr<Connection>> added;
        {
          std::lock_guard<std::mutex> lock(mu_);
          added.swap(pending_);
        }
        for (auto& connection : added) {
          Connection* c = connection.get();
          for (int fd : {c->client, c->grpc}) {
            epoll_event event{};
            event.data.fd = fd;
            epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
            by_fd[fd] = c;
          }
          connections_.emplace(c, std::move(connection));
          touched.push_back(c);
        }
        continue;
      }
      auto it = by_fd.find(events[i].data.fd);
      if (it == by_fd.end()) continue;
      Connection* c = it->second;
      touched.push_back(c);
      if ((events[i].events & (EPOLLHUP | EPOLLERR)) != 0) {
        // That side is gone: deliver what can still be delivered, then close.
        Pump(c);
        Close(c);
      }
    }
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (Connection* c : touched) {
      if (!c->closed) Pump(c);
      if (!c->closed) Rearm(c);
      if (c->closed) {
        by_fd.erase(c->client);
        by_fd.erase(c->grpc);
        close(c->client);
        close(c->grpc);
        connections_.erase(c);
      }
    }
  }
  for (auto& [c, connection] : connections_) {
    close(c->client);
    close(c->grpc);
  }
  connections_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : pending_) {
    close(c->client);
    close(c->grpc);
  }
  pending_.clear();
}

void HeaderGuard::Close(Connection* c) {
  if (c->closed) return;
  c->closed = true;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->client, nullptr);
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->grpc, nullptr);
}

// Moves bytes both ways until nothing moves; scans what comes from the client first.
void HeaderGuard::Pump(Connection* c) {
  auto fatal = [](ssize_t n) { return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR; };
  for (bool progress = true; progress && !c->closed;) {
    progress = false;
    if (!c->client_eof && c->up.space() > 0) {
      const ssize_t n = recv(c->client, c->up.data.get() + c->up.end, c->up.space(), 0);
      if (n > 0) {
        if (!c->scanner.Consume(absl::Span<const char>(c->up.data.get() + c->up.end,
                                                        static_cast<size_t>(n)))) {
          refused_.fetch_add(1);
          const int64_t now = MonoNs();
          if (now - last_warning_ns_ > 1'000'000'000) {
            last_warning_ns_ = now;
            spdlog::warn(
                "closed the connection from {}: an HTTP/2 header block (HEADERS + CONTINUATION) "
                "of more than {} bytes ({} connections closed for this so far)",
                c->peer, max_block_, refused_.load());
          }
          Close(c);
          return;
        }
        c->up.end += static_cast<size_t>(n);
        progress = true;
      } else if (n == 0) {
        c->client_eof = true;
        progress = true;
      } else if (fatal(n)) {
        Close(c);
        return;
      }
    }
    if (c->up.size() > 0) {
      const ssize_t n = send(c->grpc, c->up.data.get() + c->up.begin, c->up.size(), MSG_NOSIGNAL);
      if (n > 0) {
        c->up.begin += static_cast<size_t>(n);
        progress = true;
      } else if (fatal(n)) {
        Close(c);
        return;
      }
    }
    c->up.Compact();
    if (c->up.size() == 0 && c->client_eof && !c->up_shut) {
      shutdown(c->grpc, SHUT_WR);
      c->up_shut = true;
    }
    if (!c->grpc_eof && c->down.space() > 0) {
      const ssize_t n = recv(c->grpc, c->down.data.get() + c->down.end, c->down.space(), 0);
      if (n > 0) {
        c->down.end += static_cast<size_t>(n);
        progress = true;
      } else if (n == 0) {
        c->grpc_eof = true;
        progress = true;
      } else if (fatal(n)) {
        Close(c);
        return;
      }
    }
    if (c->down.size() > 0) {
      const ssize_t n =
          send(c->client, c->down.data.get() + c->down.begin, c->down.size(), MSG_NOSIGNAL);
      if (n > 0) {
        c->down.begin += static_cast<size_t>(n);
        progress = true;
      } else if (fatal(n)) {
        Close(c);
        return;
      }
    }
    c->down.Compact();
    if (c->down.size() == 0 && c->grpc_eof && !c->down_shut) {
      shutdown(c->client, SHUT_WR);
      c->down_shut = true;
    }
  }
  if (c->up_shut && c->down_shut) Close(c);
}

void HeaderGuard::Rearm(Connection* c) {
  epoll_event client{};
  client.data.fd = c->client;
  if (!c->client_eof && c->up.space() > 0) client.events |= EPOLLIN;
  if (c->down.size() > 0) client.events |= EPOLLOUT;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->client, &client);
  epoll_event grpc{};
  grpc.data.fd = c->grpc;
  if (!c->grpc_eof && c->down.space() > 0) grpc.events |= EPOLLIN;
  if (c->up.size() > 0) grpc.events |= EPOLLOUT;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->grpc, &grpc);
}

}  // namespace llmbench::worker
