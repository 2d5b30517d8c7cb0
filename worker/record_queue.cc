#include "worker/record_queue.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace llmbench::worker {

bool RecordQueue::TryPush(llmbench::v1::RequestRecord&& record) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (records_.size() >= capacity_) {
      ++dropped_;
      return false;
    }
    records_.push_back(std::move(record));
    wake = wake_at_ != 0 && records_.size() >= wake_at_;
  }
  if (wake) cv_.notify_one();
  return true;
}

void RecordQueue::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

void RecordQueue::Interrupt() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++interrupts_;
  }
  cv_.notify_all();
}

size_t RecordQueue::PopLocked(std::vector<llmbench::v1::RequestRecord>* out,
                              size_t max_records) {
  size_t n = 0;
  while (n < max_records && !records_.empty()) {
    out->push_back(std::move(records_.front()));
    records_.pop_front();
    ++n;
  }
  return n;
}

size_t RecordQueue::WaitPop(std::vector<llmbench::v1::RequestRecord>* out, size_t max_records,
                            int64_t deadline_ns) {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t interrupts = interrupts_;
  const auto deadline =
      std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_ns));
  wake_at_ = std::max<size_t>(max_records, 1);
  cv_.wait_until(lock, deadline, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return records_.size() >= max_records || closed_ || interrupts_ != interrupts;
  });
  wake_at_ = 0;
  return PopLocked(out, max_records);
}

size_t RecordQueue::TryPop(std::vector<llmbench::v1::RequestRecord>* out, size_t max_records) {
  std::lock_guard<std::mutex> lock(mu_);
  return PopLocked(out, max_records);
}

bool RecordQueue::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

bool RecordQueue::drained() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_ && records_.empty();
}

size_t RecordQueue::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_.size();
}

uint64_t RecordQueue::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

}  // namespace llmbench::worker
