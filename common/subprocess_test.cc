#include "common/subprocess.h"

#include <signal.h>

#include <gtest/gtest.h>

namespace llmbench {
namespace {

TEST(SubprocessTest, ReadsLinesAndExitCode) {
  auto p = Subprocess::Start({"/bin/sh", "-c", "echo one; echo listening x; exit 3"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*(*p)->ReadLine(5000), "one");
  EXPECT_EQ(*(*p)->WaitForLine("listening", 5000), "listening x");
  EXPECT_EQ((*p)->ReadLine(5000).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ((*p)->Wait(5000), 3);
}

TEST(SubprocessTest, StopKillsALongRunningChild) {
  auto p = Subprocess::Start({"/bin/sleep", "600"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->Wait(10), std::nullopt);
  EXPECT_EQ((*p)->Stop(2000), 128 + SIGTERM);
}

TEST(SubprocessTest, ReadLineTimesOut) {
  auto p = Subprocess::Start({"/bin/sleep", "600"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)->ReadLine(50).status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(SubprocessTest, MissingBinaryIsAnError) {
  auto p = Subprocess::Start({"/nonexistent/llmbench-nothing"});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "cannot start /nonexistent/llmbench-nothing: No such file or directory");
}

}  // namespace
}  // namespace llmbench
