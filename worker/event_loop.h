// EventLoop: one thread's epoll loop with a timerfd-backed timer set and an eventfd-backed
// task queue. It drives one libcurl multi handle the way curl's ephiperfifo.c does: sockets are
// watched with WatchFd, curl's single timeout is a timer, and a zero timeout is Defer()red to
// the next loop turn instead of running inside the timer callback.
//
// Order within one turn: deferred tasks (before waiting), then epoll_wait, then the timers that
// are due, then socket callbacks, then posted tasks, then timers that fell due meanwhile. Timers
// run before socket callbacks so that a burst of ready sockets (e.g. many completions) does not
// delay a due timer (an open-loop arrival) by the time it takes to handle them.
//
// Thread-safety: Post() and Stop() may be called from any thread; every other method must be
// called on the loop's thread (the thread that calls Run/RunOnce), including from callbacks.
// Lifetime: callbacks may add or remove watches and timers (also their own) while they run.
#ifndef LLMBENCH_WORKER_EVENT_LOOP_H_
#define LLMBENCH_WORKER_EVENT_LOOP_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace llmbench::worker {

// An owned file descriptor, closed on destruction.
class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept;
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

class EventLoop {
 public:
  // `events` is a mask of EPOLLIN / EPOLLOUT / EPOLLERR / EPOLLHUP as epoll reported them.
  using IoCallback = std::function<void(uint32_t events)>;
  using Task = std::function<void()>;
  using TimerId = uint64_t;

  // Creates the epoll, timerfd and eventfd descriptors.
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Monotonic time (CLOCK_MONOTONIC, the clock of std::chrono::steady_clock) in ns.
  static int64_t MonotonicNowNs();

  // Watches `fd` for `events` (EPOLLIN and/or EPOLLOUT); a second call for the same fd
  // replaces the mask and the callback. The loop does not own `fd`.
  absl::Status WatchFd(int fd, uint32_t events, IoCallback callback);
  // Stops watching `fd` (no-op when not watched). Call before closing it.
  void UnwatchFd(int fd);

  // Runs `task` at or after the monotonic instant `deadline_ns` (MonotonicNowNs clock).
  TimerId AddTimerAt(int64_t deadline_ns, Task task);
  TimerId AddTimerAfter(int64_t delay_ns, Task task) {
    return AddTimerAt(MonotonicNowNs() + delay_ns, std::move(task));
  }
  // Cancels a pending timer; false when it already ran or was cancelled.
  bool CancelTimer(TimerId id);

  // Runs `task` at the start of the next loop turn (never inside the current callback).
  void Defer(Task task);

  // Thread-safe: queues `task` for the loop thread and wakes it through the eventfd.
  void Post(Task task);
  // Thread-safe: makes Run() return after the current turn.
  void Stop();

  // Runs until Stop(). REQUIRES: called on one thread, which becomes the loop's thread.
  void Run();
  // One turn: waits at most `max_wait_ns` (-1 = until an event, 0 = poll) for I/O, timers,
  // posted or deferred tasks, and runs what is ready. Returns the number of callbacks run.
  int RunOnce(int64_t max_wait_ns);

  // Monotonic ns (MonotonicNowNs clock) just before the current (or last) turn's epoll_wait
  // and just after it returned: a callback that runs late can tell time spent blocked in the
  // kernel (wake_ns() - deadline, when the deadline came after wait_start_ns()) from time the
  // loop was busy. 0 before the first turn.
  int64_t wait_start_ns() const { return wait_start_ns_; }
  int64_t wake_ns() const { return wake_ns_; }
  // Opt-in (benchmarks: it costs a clock_gettime syscall per turn): also stamp this thread's
  // CPU time (CLOCK_THREAD_CPUTIME_ID, ns) when epoll_wait returns, so that a callback can
  // tell its CPU work since the wake-up from time it was preempted. 0 while off.
  void set_stamp_thread_cpu(bool on) { stamp_thread_cpu_ = on; }
  int64_t wake_thread_cpu_ns() const { return wake_thread_cpu_ns_; }
  // CPU time of the calling thread in ns.
  static int64_t ThreadCpuNowNs();
  // Time the calling thread has spent runnable but waiting for a CPU, in ns
  // (/proc/thread-self/schedstat, second field); -1 when the kernel does not say.
  static int64_t ThreadRunQueueWaitNs();

  // Wall time this loop spent outside epoll_wait (running callbacks) since it was created,
  // the current turn included up to now: a loop that is busy all of a window had no time to
  // spare. Cheap (no syscall beyond a vDSO clock read).
  int64_t busy_ns() const;

  size_t watched_fds() const { return watches_.size(); }
  size_t pending_timers() const { return timers_.size(); }
  bool stopped() const { return stop_.load(std::memory_order_acquire); }

 private:
  EventLoop(ScopedFd epoll_fd, ScopedFd timer_fd, ScopedFd event_fd);
  void ArmTimerFd();
  int RunDueTimers();
  int RunPostedTasks();

  struct Watch {
    uint32_t events = 0;
    uint32_t generation = 0;  // in epoll_event.data: events for an fd number reused since the
                              // epoll_wait that reported them are not delivered to the new watch
    std::shared_ptr<IoCallback> callback;  // shared with a callback running while it unwatches
  };

  ScopedFd epoll_fd_;
  ScopedFd timer_fd_;
  ScopedFd event_fd_;
  std::unordered_map<int, Watch> watches_;
  // Timers ordered by (deadline, id); the id makes equal deadlines run in insertion order.
  std::map<std::pair<int64_t, TimerId>, Task> timers_;
  std::unordered_map<TimerId, int64_t> timer_deadlines_;
  TimerId next_timer_id_ = 1;
  int64_t armed_deadline_ns_ = -1;
  int64_t wait_start_ns_ = 0;
  int64_t wake_ns_ = 0;
  int64_t busy_ns_ = 0;  // completed turns' time outside epoll_wait
  bool in_turn_ = false;
  uint32_t next_generation_ = 1;
  bool stamp_thread_cpu_ = false;
  int64_t wake_thread_cpu_ns_ = 0;
  std::vector<Task> deferred_;
  std::vector<std::pair<int64_t, TimerId>> due_keys_;  // RunDueTimers' scratch, kept allocated
  std::atomic<bool> stop_{false};

  std::mutex posted_mu_;
  std::vector<Task> posted_ ABSL_GUARDED_BY(posted_mu_);
};

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_EVENT_LOOP_H_
