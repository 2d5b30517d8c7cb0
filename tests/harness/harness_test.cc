// Tests of the test harness itself: Subprocess start, output capture, exit status, stop, and
// the HTTP client's transport-error reporting. Uses coreutils binaries, never a shell.
#include "tests/harness/harness.h"

#include <signal.h>

#include <chrono>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace llmbench::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(SubprocessTest, CapturesStdoutLinesAndExitCode) {
  auto p = Subprocess::Start({"/usr/bin/printf", "one\ntwo\npartial"});
  ASSERT_TRUE(p.ok()) << p.status();
  auto status = (*p)->Wait(seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->exited);
  EXPECT_EQ(status->code, 0);
  auto line = (*p)->WaitForStdoutLine(1, seconds(10));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->second, "two");
  // Stdout closes; the unterminated "partial" is not a line.
  EXPECT_EQ((*p)->WaitForStdoutLine(2, seconds(10)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*p)->StdoutLines(), (std::vector<std::string>{"one", "two"}));
}

TEST(SubprocessTest, CapturesStderrAndNonZeroExit) {
  auto p = Subprocess::Start({"/bin/ls", "/no/such/path/for/harness/test"});
  ASSERT_TRUE(p.ok()) << p.status();
  auto status = (*p)->Wait(seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->exited);
  EXPECT_EQ(status->code, 2);
  (void)(*p)->WaitForStdoutLine(0, seconds(10));  // drain thread saw EOF
  EXPECT_THAT((*p)->Stderr(), ::testing::HasSubstr("/no/such/path/for/harness/test"));
}

TEST(SubprocessTest, WaitTimesOutThenStopKills) {
  auto p = Subprocess::Start({"/bin/sleep", "60"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->Wait(milliseconds(50)).status().code(), absl::StatusCode::kDeadlineExceeded);
  ExitStatus s = (*p)->Stop();
  EXPECT_FALSE(s.exited);
  EXPECT_EQ(s.signal, SIGTERM);
}

TEST(SubprocessTest, MissingProgramIsAnError) {
  auto p = Subprocess::Start({"/no/such/program"});
  if (p.ok()) {
    // glibc may report exec failure as exit 127 of the child instead.
    auto status = (*p)->Wait(seconds(10));
    ASSERT_TRUE(status.ok());
    EXPECT_EQ(status->code, 127);
  } else {
    EXPECT_THAT(p.status().message(), ::testing::HasSubstr("/no/such/program"));
  }
}

TEST(SimProcessTest, MissingBinaryFailsWithClearMessage) {
  SimProcess::Options options;
  options.binary = "/bin/true";  // prints nothing and exits
  options.startup_timeout = seconds(5);
  auto sim = SimProcess::Start(options);
  ASSERT_FALSE(sim.ok());
  EXPECT_THAT(sim.status().message(),
              ::testing::HasSubstr("did not print a `listening` line for every listener"));
  EXPECT_THAT(sim.status().message(), ::testing::HasSubstr("exited with code 0"));
}

TEST(HttpTest, ConnectionRefusedIsATransportError) {
  HttpResponse r = HttpGet("http://127.0.0.1:1/");
  EXPECT_EQ(r.curl_code, 7);  // CURLE_COULDNT_CONNECT
  EXPECT_FALSE(r.curl_error.empty());
  EXPECT_EQ(r.status, 0);
}

}  // namespace
}  // namespace llmbench::testing
