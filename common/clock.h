// Injectable clocks. Every latency is measured on a monotonic clock in nanoseconds; the wall
// clock is used only to agree on a start instant across hosts.
//
// Code that decides when things happen takes a `const Clock&` so that its tests drive a
// FakeClock (the coordinator's dispatcher and telemetry, the worker's StartInstantNs and
// resource sampler, the simulator). The worker's event loop reads CLOCK_MONOTONIC directly
// (EventLoop::MonotonicNowNs: one clock_gettime per stamp on the hot path, no virtual call);
// SteadyClock::NowNs reads the same clock, so both agree.
//
// Thread-safety: SteadyClock is stateless and thread-safe (it reads both the monotonic and the
// wall clock). FakeClock is thread-safe (atomic) so a test may advance it while another thread
// reads it.
#ifndef LLMBENCH_COMMON_CLOCK_H_
#define LLMBENCH_COMMON_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace llmbench {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic nanoseconds since an arbitrary epoch.
  virtual int64_t NowNs() const = 0;
  // Wall-clock nanoseconds since the Unix epoch.
  virtual int64_t UnixNowNs() const = 0;
};

// The real clocks: std::chrono::steady_clock and system_clock.
class SteadyClock final : public Clock {
 public:
  int64_t NowNs() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  int64_t UnixNowNs() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // A process-wide instance.
  static const SteadyClock& Get() {
    static const SteadyClock clock;
    return clock;
  }
};

// A clock that moves only when told to. Unix time = unix_epoch_offset + monotonic time.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ns = 0, int64_t unix_offset_ns = 1'700'000'000'000'000'000)
      : now_ns_(start_ns), unix_offset_ns_(unix_offset_ns) {}
  int64_t NowNs() const override { return now_ns_.load(std::memory_order_acquire); }
  int64_t UnixNowNs() const override { return NowNs() + unix_offset_ns_; }
  void AdvanceNs(int64_t ns) { now_ns_.fetch_add(ns, std::memory_order_acq_rel); }
  void SetNs(int64_t ns) { now_ns_.store(ns, std::memory_order_release); }

 private:
  std::atomic<int64_t> now_ns_;
  const int64_t unix_offset_ns_;
};

}  // namespace llmbench

#endif  // LLMBENCH_COMMON_CLOCK_H_
