#include "worker/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"

namespace llmbench::worker {
namespace {

absl::Status ErrnoStatus(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

constexpr int kMaxEvents = 256;

}  // namespace

ScopedFd& ScopedFd::operator=(ScopedFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

ScopedFd::~ScopedFd() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create() {
  ScopedFd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd.valid()) return ErrnoStatus("epoll_create1");
  ScopedFd timer_fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer_fd.valid()) return ErrnoStatus("timerfd_create");
  ScopedFd event_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!event_fd.valid()) return ErrnoStatus("eventfd");
  for (int fd : {timer_fd.get(), event_fd.get()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<uint32_t>(fd);  // generation 0: the loop's own fds
    if (::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      return ErrnoStatus("epoll_ctl(ADD)");
    }
  }
  return std::unique_ptr<EventLoop>(
      new EventLoop(std::move(epoll_fd), std::move(timer_fd), std::move(event_fd)));
}

EventLoop::EventLoop(ScopedFd epoll_fd, ScopedFd timer_fd, ScopedFd event_fd)
    : epoll_fd_(std::move(epoll_fd)),
      timer_fd_(std::move(timer_fd)),
      event_fd_(std::move(event_fd)) {}

EventLoop::~EventLoop() = default;

int64_t EventLoop::MonotonicNowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t EventLoop::ThreadCpuNowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t EventLoop::ThreadRunQueueWaitNs() {
  const int fd = ::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[128];
  const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  unsigned long long cpu = 0;
  unsigned long long wait = 0;
  if (std::sscanf(buf, "%llu %llu", &cpu, &wait) != 2) return -1;
  return static_cast<int64_t>(wait);
}

absl::Status EventLoop::WatchFd(int fd, uint32_t events, IoCallback callback) {
  auto it = watches_.find(fd);
  const int op = it == watches_.end() ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  const uint32_t generation = op == EPOLL_CTL_ADD ? next_generation_++ : it->second.generation;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = (static_cast<uint64_t>(generation) << 32) | static_cast<uint32_t>(fd);
  if (::epoll_ctl(epoll_fd_.get(), op, fd, &ev) != 0) {
    return ErrnoStatus(absl::StrCat("epoll_ctl(", op == EPOLL_CTL_ADD ? "ADD" : "MOD", ", fd ",
                                    fd, ")"));
  }
  Watch& watch = watches_[fd];
  watch.events = events;
  watch.generation = generation;
  watch.callback = std::make_shared<IoCallback>(std::move(callback));
  return absl::OkStatus();
}

void EventLoop::UnwatchFd(int fd) {
  auto it = watches_.find(fd);
  if (it == watches_.end()) return;
  // The fd may already be closed (EBADF/ENOENT); the watch goes either way.
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  watches_.erase(it);
}

EventLoop::TimerId EventLoop::AddTimerAt(int64_t deadline_ns, Task task) {
  const TimerId id = next_timer_id_++;
  timers_.emplace(std::make_pair(deadline_ns, id), std::move(task));
  timer_deadlines_.emplace(id, deadline_ns);
  return id;
}

bool EventLoop::CancelTimer(TimerId id) {
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return false;
  timers_.erase(std::make_pair(it->second, id));
  timer_deadlines_.erase(it);
  return true;
}

void EventLoop::ArmTimerFd() {
  const int64_t deadline = timers_.empty() ? -1 : timers_.begin()->first.first;
  if (deadline == armed_deadline_ns_) return;
  armed_deadline_ns_ = deadline;
  itimerspec spec{};
  if (deadline >= 0) {
    // An absolute deadline of 0 would disarm the timer; the earliest useful instant is 1 ns.
    const int64_t at = deadline > 0 ? deadline : 1;
    spec.it_value.tv_sec = at / 1'000'000'000;
    spec.it_value.tv_nsec = at % 1'000'000'000;
  }
  ::timerfd_settime(timer_fd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
}

void EventLoop::Defer(Task task) { deferred_.push_back(std::move(task)); }

void EventLoop::Post(Task task) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(task));
  }
  const uint64_t one = 1;
  // A full counter (EAGAIN) still leaves the eventfd readable, which is all that matters.
  [[maybe_unused]] ssize_t n = ::write(event_fd_.get(), &one, sizeof(one));
}

void EventLoop::Stop() {
  stop_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(event_fd_.get(), &one, sizeof(one));
}

void EventLoop::Run() {
  while (!stop_.load(std::memory_order_acquire)) RunOnce(-1);
}

int64_t EventLoop::busy_ns() const {
  return busy_ns_ + (in_turn_ ? MonotonicNowNs() - wake_ns_ : 0);
}

int EventLoop::RunPostedTasks() {
  std::vector<Task> tasks;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    tasks.swap(posted_);
  }
  for (Task& task : tasks) task();
  return static_cast<int>(tasks.size());
}

int EventLoop::RunDueTimers() {
  int ran = 0;
  const int64_t now = MonotonicNowNs();
  // Only timers due now run in this turn; timers they add for "now" run in the next one. The
  // keys are taken first and each timer is looked up again before it runs, so that a timer
  // cancelled by an earlier one of the same batch does not run.
  due_keys_.clear();
  for (auto it = timers_.begin(); it != timers_.end() && it->first.first <= now; ++it) {
    due_keys_.push_back(it->first);
  }
  for (size_t i = 0; i < due_keys_.size(); ++i) {
    auto it = timers_.find(due_keys_[i]);
    if (it == timers_.end()) continue;  // cancelled by a timer that ran before it
    auto node = timers_.extract(it);
    timer_deadlines_.erase(node.key().second);
    node.mapped()();
    ++ran;
  }
  return ran;
}

int EventLoop::RunOnce(int64_t max_wait_ns) {
  int ran = 0;
  // Deferred tasks from the previous turn run first, before waiting.
  if (!deferred_.empty()) {
    std::vector<Task> deferred;
    deferred.swap(deferred_);
    for (Task& task : deferred) task();
    ran += static_cast<int>(deferred.size());
  }
  int timeout_ms;
  if (!deferred_.empty() || stop_.load(std::memory_order_acquire)) {
    timeout_ms = 0;
  } else if (max_wait_ns < 0) {
    timeout_ms = -1;
  } else {
    timeout_ms = static_cast<int>((max_wait_ns + 999'999) / 1'000'000);
  }
  // The timerfd is (re)armed once per turn, here, rather than on every AddTimerAt/CancelTimer:
  // a request adds and cancels several timers (curl's, first-byte), and each re-arm is a
  // syscall. A timer cancelled after arming only causes a spurious, harmless wake-up.
  ArmTimerFd();
  epoll_event events[kMaxEvents];
  wait_start_ns_ = MonotonicNowNs();
  if (in_turn_) busy_ns_ += wait_start_ns_ - wake_ns_;
  in_turn_ = false;
  const int n = ::epoll_wait(epoll_fd_.get(), events, kMaxEvents, timeout_ms);
  wake_ns_ = MonotonicNowNs();
  in_turn_ = true;
  if (stamp_thread_cpu_) wake_thread_cpu_ns_ = ThreadCpuNowNs();
  bool posted_ready = false;
  for (int i = 0; i < n; ++i) {
    const int fd = static_cast<int>(static_cast<uint32_t>(events[i].data.u64));
    if (fd == timer_fd_.get()) {
      uint64_t expirations;
      [[maybe_unused]] ssize_t r = ::read(fd, &expirations, sizeof(expirations));
      armed_deadline_ns_ = -1;  // a one-shot timerfd is disarmed once it expired
    } else if (fd == event_fd_.get()) {
      uint64_t count;
      [[maybe_unused]] ssize_t r = ::read(fd, &count, sizeof(count));
      posted_ready = true;
    }
  }
  // Due timers first (see the header): whatever woke the loop, a timer that is due now does
  // not wait behind this turn's socket callbacks. Checked by time, not by the timerfd alone:
  // a deadline may have passed without the timerfd having fired yet.
  if (!timers_.empty() && timers_.begin()->first.first <= wake_ns_) ran += RunDueTimers();
  for (int i = 0; i < n; ++i) {
    const int fd = static_cast<int>(static_cast<uint32_t>(events[i].data.u64));
    if (fd == timer_fd_.get() || fd == event_fd_.get()) continue;
    auto it = watches_.find(fd);
    if (it == watches_.end()) continue;  // unwatched by an earlier callback of this turn
    // Closed and reopened under the same number by an earlier callback of this turn: the
    // event was about the old descriptor.
    if (it->second.generation != static_cast<uint32_t>(events[i].data.u64 >> 32)) continue;
    std::shared_ptr<IoCallback> callback = it->second.callback;
    (*callback)(events[i].events);
    ++ran;
  }
  if (posted_ready) ran += RunPostedTasks();
  // A deadline can pass while the callbacks run: those timers run now, not a turn later.
  if (!timers_.empty() && timers_.begin()->first.first <= MonotonicNowNs()) {
    ran += RunDueTimers();
  }
  return ran;
}

}  // namespace llmbench::worker
