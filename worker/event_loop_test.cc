#include "worker/event_loop.h"

#include <unistd.h>
#include <sys/epoll.h>

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace llmbench::worker {
namespace {

std::unique_ptr<EventLoop> NewLoop() {
  auto loop = EventLoop::Create();
  EXPECT_TRUE(loop.ok()) << loop.status();
  return *std::move(loop);
}

TEST(EventLoopTest, PostFromAnotherThreadWakesABlockedTurn) {
  auto loop = NewLoop();
  std::vector<std::string> ran;
  std::thread poster([&] { loop->Post([&] { ran.push_back("posted"); }); });
  // Blocks in epoll_wait until the eventfd is written; no timeout involved.
  int callbacks = 0;
  while (ran.empty()) callbacks += loop->RunOnce(-1);
  poster.join();
  EXPECT_EQ(ran, std::vector<std::string>{"posted"});
  EXPECT_EQ(callbacks, 1);
}

TEST(EventLoopTest, StopFromAnotherThreadEndsRun) {
  auto loop = NewLoop();
  std::thread stopper([&] { loop->Stop(); });
  loop->Run();  // returns only because of Stop()
  stopper.join();
  EXPECT_TRUE(loop->stopped());
}

TEST(EventLoopTest, DueTimersRunInDeadlineOrderThenInsertionOrder) {
  auto loop = NewLoop();
  std::vector<int> order;
  const int64_t now = EventLoop::MonotonicNowNs();
  // Deadlines in the past: the timerfd is already expired, nothing waits.
  loop->AddTimerAt(now - 10, [&] { order.push_back(3); });
  loop->AddTimerAt(now - 30, [&] { order.push_back(1); });
  loop->AddTimerAt(now - 20, [&] { order.push_back(2); });
  loop->AddTimerAt(now - 10, [&] { order.push_back(4); });
  EXPECT_EQ(loop->pending_timers(), 4u);
  EXPECT_EQ(loop->RunOnce(0), 4);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(loop->pending_timers(), 0u);
}

TEST(EventLoopTest, CancelledTimerNeverRuns) {
  auto loop = NewLoop();
  bool ran = false;
  const auto id = loop->AddTimerAt(EventLoop::MonotonicNowNs() - 1, [&] { ran = true; });
  EXPECT_TRUE(loop->CancelTimer(id));
  EXPECT_FALSE(loop->CancelTimer(id));
  EXPECT_EQ(loop->RunOnce(0), 0);
  EXPECT_FALSE(ran);
}

TEST(EventLoopTest, FutureTimerWaitsForTheTimerfd) {
  auto loop = NewLoop();
  const int64_t deadline = EventLoop::MonotonicNowNs() + 2'000'000;  // 2 ms
  int64_t ran_at = 0;
  loop->AddTimerAt(deadline, [&] { ran_at = EventLoop::MonotonicNowNs(); });
  EXPECT_EQ(loop->RunOnce(0), 0);  // not due yet
  while (ran_at == 0) loop->RunOnce(-1);  // woken by the timerfd, not by polling
  EXPECT_GE(ran_at, deadline);
}

TEST(EventLoopTest, DeferredTaskRunsOnTheNextTurnNotTheCurrentOne) {
  auto loop = NewLoop();
  std::vector<std::string> order;
  loop->AddTimerAt(EventLoop::MonotonicNowNs() - 1, [&] {
    order.push_back("timer");
    loop->Defer([&] { order.push_back("deferred"); });
  });
  EXPECT_EQ(loop->RunOnce(0), 1);
  EXPECT_EQ(order, std::vector<std::string>{"timer"});
  EXPECT_EQ(loop->RunOnce(0), 1);
  EXPECT_EQ(order, (std::vector<std::string>{"timer", "deferred"}));
}

TEST(EventLoopTest, WatchedFdReportsReadableAndUnwatchStopsIt) {
  auto loop = NewLoop();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ScopedFd read_end(fds[0]);
  ScopedFd write_end(fds[1]);
  uint32_t seen = 0;
  ASSERT_TRUE(loop->WatchFd(read_end.get(), EPOLLIN, [&](uint32_t events) { seen = events; }).ok());
  EXPECT_EQ(loop->RunOnce(0), 0);
  ASSERT_EQ(::write(write_end.get(), "x", 1), 1);
  EXPECT_EQ(loop->RunOnce(-1), 1);
  EXPECT_TRUE(seen & EPOLLIN);
  loop->UnwatchFd(read_end.get());
  EXPECT_EQ(loop->watched_fds(), 0u);
  seen = 0;
  EXPECT_EQ(loop->RunOnce(0), 0);
  EXPECT_EQ(seen, 0u);
}

TEST(EventLoopTest, DueTimersRunBeforeTheSocketCallbacksOfTheSameTurn) {
  auto loop = NewLoop();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ScopedFd read_end(fds[0]);
  ScopedFd write_end(fds[1]);
  std::vector<std::string> order;
  ASSERT_TRUE(
      loop->WatchFd(read_end.get(), EPOLLIN, [&](uint32_t) { order.push_back("socket"); }).ok());
  ASSERT_EQ(::write(write_end.get(), "x", 1), 1);
  // Both ready before the turn: the socket is readable and the deadline has passed.
  loop->AddTimerAt(EventLoop::MonotonicNowNs() - 1, [&] { order.push_back("timer"); });
  EXPECT_EQ(loop->RunOnce(0), 2);
  EXPECT_EQ(order, (std::vector<std::string>{"timer", "socket"}));
}

TEST(EventLoopTest, TimerThatFallsDueDuringSocketCallbacksRunsInTheSameTurn) {
  auto loop = NewLoop();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ScopedFd read_end(fds[0]);
  ScopedFd write_end(fds[1]);
  std::vector<std::string> order;
  ASSERT_TRUE(loop->WatchFd(read_end.get(), EPOLLIN, [&](uint32_t) {
                    order.push_back("socket");
                    // Already due when added: stands for a deadline passing while callbacks run.
                    loop->AddTimerAt(EventLoop::MonotonicNowNs() - 1,
                                     [&] { order.push_back("timer"); });
                  }).ok());
  ASSERT_EQ(::write(write_end.get(), "x", 1), 1);
  EXPECT_EQ(loop->RunOnce(0), 2);
  EXPECT_EQ(order, (std::vector<std::string>{"socket", "timer"}));
  EXPECT_EQ(loop->pending_timers(), 0u);
}

TEST(EventLoopTest, DueTimerCancelledByAnEarlierOneOfTheSameTurnDoesNotRun) {
  auto loop = NewLoop();
  const int64_t now = EventLoop::MonotonicNowNs();
  std::vector<int> order;
  EventLoop::TimerId second = 0;
  loop->AddTimerAt(now - 20, [&] {
    order.push_back(1);
    EXPECT_TRUE(loop->CancelTimer(second));
  });
  second = loop->AddTimerAt(now - 10, [&] { order.push_back(2); });
  loop->AddTimerAt(now - 5, [&] { order.push_back(3); });
  EXPECT_EQ(loop->RunOnce(0), 2);
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
  EXPECT_EQ(loop->pending_timers(), 0u);
}

TEST(EventLoopTest, TimerAddedAsDueByADueTimerRunsAfterItsBatch) {
  auto loop = NewLoop();
  std::vector<int> order;
  loop->AddTimerAt(EventLoop::MonotonicNowNs() - 10, [&] {
    order.push_back(1);
    loop->AddTimerAt(EventLoop::MonotonicNowNs() - 20, [&] { order.push_back(2); });
  });
  EXPECT_EQ(loop->RunOnce(0), 2);  // the end-of-turn check picks the new one up
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(EventLoopTest, TurnRecordsWhenItsWaitStartedAndEnded) {
  auto loop = NewLoop();
  EXPECT_EQ(loop->wait_start_ns(), 0);
  EXPECT_EQ(loop->wake_ns(), 0);
  int64_t seen_wait_start = -1;
  int64_t seen_wake = -1;
  const int64_t before = EventLoop::MonotonicNowNs();
  loop->AddTimerAt(before - 1, [&] {
    seen_wait_start = loop->wait_start_ns();
    seen_wake = loop->wake_ns();
  });
  EXPECT_EQ(loop->RunOnce(0), 1);
  const int64_t after = EventLoop::MonotonicNowNs();
  // The callback saw this turn's stamps: before <= wait start <= wake <= after.
  EXPECT_EQ(seen_wait_start, loop->wait_start_ns());
  EXPECT_EQ(seen_wake, loop->wake_ns());
  EXPECT_LE(before, seen_wait_start);
  EXPECT_LE(seen_wait_start, seen_wake);
  EXPECT_LE(seen_wake, after);
}

TEST(EventLoopTest, WatchingABadFdIsAnError) {
  auto loop = NewLoop();
  absl::Status status = loop->WatchFd(-1, EPOLLIN, [](uint32_t) {});
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(status.message(), "epoll_ctl(ADD, fd -1): Bad file descriptor");
}

}  // namespace
}  // namespace llmbench::worker
