#include "worker/record_queue.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "worker/event_loop.h"

namespace llmbench::worker {
namespace {

llmbench::v1::RequestRecord Record(uint64_t id) {
  llmbench::v1::RequestRecord r;
  r.set_request_id(id);
  return r;
}

TEST(RecordQueueTest, DropsAndCountsWhenFull) {
  RecordQueue queue(2);
  EXPECT_TRUE(queue.TryPush(Record(1)));
  EXPECT_TRUE(queue.TryPush(Record(2)));
  EXPECT_FALSE(queue.TryPush(Record(3)));
  EXPECT_EQ(queue.dropped(), 1u);
  std::vector<llmbench::v1::RequestRecord> out;
  EXPECT_EQ(queue.TryPop(&out, 10), 2u);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].request_id(), 1u);
  EXPECT_EQ(out[1].request_id(), 2u);
  EXPECT_TRUE(queue.TryPush(Record(4)));
  EXPECT_EQ(queue.size(), 1u);
}

TEST(RecordQueueTest, WaitPopReturnsAFullBatchWithoutWaiting) {
  RecordQueue queue;
  for (uint64_t i = 0; i < 5; ++i) queue.TryPush(Record(i));
  std::vector<llmbench::v1::RequestRecord> out;
  // Deadline far in the future: returns because the batch is full.
  EXPECT_EQ(queue.WaitPop(&out, 3, EventLoop::MonotonicNowNs() + 3'600'000'000'000), 3u);
  EXPECT_EQ(out.back().request_id(), 2u);
}

TEST(RecordQueueTest, WaitPopReturnsAPartialBatchAtTheDeadline) {
  RecordQueue queue;
  queue.TryPush(Record(7));
  std::vector<llmbench::v1::RequestRecord> out;
  EXPECT_EQ(queue.WaitPop(&out, 100, EventLoop::MonotonicNowNs() - 1), 1u);
  EXPECT_EQ(out[0].request_id(), 7u);
}

TEST(RecordQueueTest, CloseWakesAWaitingConsumer) {
  RecordQueue queue;
  std::thread producer([&] {
    queue.TryPush(Record(1));
    queue.Close();
  });
  std::vector<llmbench::v1::RequestRecord> out;
  while (!queue.drained()) {
    queue.WaitPop(&out, 100, EventLoop::MonotonicNowNs() + 3'600'000'000'000);
  }
  producer.join();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(queue.closed());
}

}  // namespace
}  // namespace llmbench::worker
