// Messages of the llmbench command line that used to mislead (issue 12, item 9), checked with
// real processes — the `llmbench` binary, llmbench-sim and llmbench-worker — and exact text:
//  - an engine kind that does not match the server (`quick -e tgi` against the sim's Ollama
//    personality) names the kind the server looks like instead of a bare "404 page not found";
//  - `llmbench engines` reports a model the engine does not list as MISSING and exits 1;
//  - `--workers` at a port nothing listens on says so, without a TLS hint;
//  - the worker reads the coordinator's $LLMBENCH_TOKEN (and still its older
//    $LLMBENCH_WORKER_TOKEN), and refuses to start when both are set to different tokens.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace llmbench {
namespace {

using llmbench::testing::ExitStatus;
using llmbench::testing::SimProcess;
using llmbench::testing::Subprocess;

constexpr auto kTimeout = std::chrono::seconds(90);

// A loopback port nothing listens on (bound, read back, closed).
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

struct ProcessRun {
  ExitStatus exit;
  std::string out;
  std::string err;
};

// Runs `program args` with the environment of the test plus `env` and waits for it.
ProcessRun RunProgram(const std::string& program, const std::vector<std::string>& args,
               const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv = {program};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessRun run;
  auto process = Subprocess::Start(argv, env);
  if (!process.ok()) {
    ADD_FAILURE() << process.status();
    return run;
  }
  auto exit = (*process)->Wait(kTimeout);
  if (!exit.ok()) {
    ADD_FAILURE() << absl::StrJoin(argv, " ") << ": " << exit.status();
    run.exit = (*process)->Stop();
  } else {
    run.exit = *exit;
  }
  run.out = absl::StrJoin((*process)->StdoutLines(), "\n");
  run.err = (*process)->Stderr();
  return run;
}

ProcessRun RunLlmbench(const std::vector<std::string>& args,
                       const std::vector<std::string>& env = {}) {
  std::vector<std::string> full_env = {
      absl::StrCat("LLMBENCH_WORKER_BIN=", LLMBENCH_WORKER_BINARY)};
  full_env.insert(full_env.end(), env.begin(), env.end());
  return RunProgram(LLMBENCH_CLI_BINARY, args, full_env);
}

class CliMessagesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SimProcess::Options options;  // ollama, vllm and tgi personalities
    auto sim = SimProcess::Start(options);
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = sim->release();
  }
  static void TearDownTestSuite() {
    delete sim_;
    sim_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(sim_, nullptr);
    // The tokens these tests set must not come from the environment that runs them.
    unsetenv("LLMBENCH_TOKEN");
    unsetenv("LLMBENCH_WORKER_TOKEN");
    char tmpl[] = "/tmp/llmbench-messages-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(tmp_, ec);
  }

  // A worker on 127.0.0.1:0 with `env`; its address once it listens ("" when it did not).
  std::unique_ptr<Subprocess> StartWorker(const std::vector<std::string>& env,
                                          std::string* address) {
    auto worker = Subprocess::Start({LLMBENCH_WORKER_BINARY, "--listen", "127.0.0.1:0",
                                     "--loop-threads", "1", "--log-level", "warn"},
                                    env);
    EXPECT_TRUE(worker.ok()) << worker.status();
    if (!worker.ok()) return nullptr;
    auto line = (*worker)->WaitForStdoutLine(0, std::chrono::seconds(15));
    EXPECT_TRUE(line.ok()) << line.status() << "\n" << (*worker)->Stderr();
    if (line.ok()) {
      const std::string prefix = "listening grpc://";
      EXPECT_EQ(line->second.rfind(prefix, 0), 0u) << line->second;
      *address = line->second.substr(prefix.size());
    }
    return *std::move(worker);
  }

  // `llmbench quick` of 2 requests against the sim's vLLM personality through `workers`.
  ProcessRun QuickThrough(const std::string& workers, const std::string& out,
                   const std::vector<std::string>& env) {
    return RunLlmbench({"quick", "-e", "vllm", "-u", sim_->BaseUrl("vllm"), "-m", "sim-model",
                        "-n", "2", "-c", "1", "--max-tokens", "4", "--workers", workers,
                        "--out", out, "--quiet"},
                       env);
  }

  static inline SimProcess* sim_ = nullptr;
  std::string tmp_;
};

TEST_F(CliMessagesTest, TgiKindAgainstOllamaSuggestsOllama) {
  const std::string url = sim_->BaseUrl("ollama");
  ProcessRun run = RunLlmbench(
      {"quick", "-e", "tgi", "-u", url, "-m", "sim-model", "-n", "1", "--out", tmp_ + "/tgi",
       "--quiet"});
  ASSERT_TRUE(run.exit.exited) << run.err;
  EXPECT_EQ(run.exit.code, 1) << run.err;
  EXPECT_EQ(run.err, absl::StrCat("llmbench: engine tgi at ", url,
                                  " is not healthy: GET /health answered HTTP 404: 404 page not "
                                  "found; this looks like an Ollama server: try --engine ollama "
                                  "(kind: ollama in a scenario file)\n"));
  EXPECT_FALSE(std::filesystem::exists(tmp_ + "/tgi/summary.json"));
}

TEST_F(CliMessagesTest, OllamaKindAgainstVllmSuggestsVllm) {
  const std::string url = sim_->BaseUrl("vllm");
  ProcessRun run = RunLlmbench({"quick", "-e", "ollama", "-u", url, "-m", "sim-model", "-n", "1",
                         "--out", tmp_ + "/ollama", "--quiet"});
  ASSERT_TRUE(run.exit.exited) << run.err;
  EXPECT_EQ(run.exit.code, 1) << run.err;
  EXPECT_EQ(run.err, absl::StrCat("llmbench: engine ollama at ", url,
                                  " is not healthy: GET / answered HTTP 404: {\"detail\":\"Not "
                                  "Found\"}; this looks like a vLLM server: try --engine vllm "
                                  "(kind: vllm in a scenario file)\n"));
}

// vLLM answers TGI's /health but not its /info: the model route gives the kind away.
TEST_F(CliMessagesTest, TgiKindAgainstVllmFailsOnTheModelRouteAndSuggestsVllm) {
  const std::string url = sim_->BaseUrl("vllm");
  ProcessRun run = RunLlmbench(
      {"quick", "-e", "tgi", "-u", url, "-m", "sim-model", "-n", "1", "--out", tmp_ + "/tgi",
       "--quiet"});
  ASSERT_TRUE(run.exit.exited) << run.err;
  EXPECT_EQ(run.exit.code, 1) << run.err;
  EXPECT_EQ(run.err, absl::StrCat("llmbench: engine tgi at ", url,
                                  " could not list its models (GET /info answered HTTP 404); this "
                                  "looks like a vLLM server: try --engine vllm (kind: vllm in a "
                                  "scenario file)\n"));
}

TEST_F(CliMessagesTest, EnginesReportsAMissingModelAndExits1) {
  const std::string url = sim_->BaseUrl("vllm");
  ProcessRun run =
      RunLlmbench({"engines", "--target", absl::StrCat("v=vllm,", url, ",other-model")});
  ASSERT_TRUE(run.exit.exited) << run.err;
  EXPECT_EQ(run.exit.code, 1) << run.out << run.err;
  EXPECT_EQ(run.out, absl::StrCat("v  ", url,
                                  "\n"
                                  "  health:  ok\n"
                                  "  version: 0.11.0\n"
                                  "  models:  sim-model\n"
                                  "  model:   MISSING: \"other-model\" is not among the engine's "
                                  "models"));
  EXPECT_EQ(run.err, "");

  // The served model passes; TGI serves one model whatever the name, so no model is missing.
  ProcessRun ok = RunLlmbench({"engines", "--target", absl::StrCat("v=vllm,", url, ",sim-model"),
                        "--target", absl::StrCat("t=tgi,", sim_->BaseUrl("tgi"), ",any-name")});
  ASSERT_TRUE(ok.exit.exited) << ok.err;
  EXPECT_EQ(ok.exit.code, 0) << ok.out << ok.err;
  EXPECT_EQ(ok.out.find("MISSING"), std::string::npos) << ok.out;
}

TEST_F(CliMessagesTest, EnginesNamesTheLikelyKind) {
  const std::string url = sim_->BaseUrl("ollama");
  ProcessRun run =
      RunLlmbench({"engines", "--target", absl::StrCat("x=vllm,", url, ",sim-model")});
  ASSERT_TRUE(run.exit.exited) << run.err;
  EXPECT_EQ(run.exit.code, 1) << run.out << run.err;
  EXPECT_EQ(run.out, absl::StrCat("x  ", url,
                                  "\n"
                                  "  health:  NOT OK (GET /health answered HTTP 404: 404 page not "
                                  "found)\n"
                                  "  version: -\n"
                                  "  models:  sim-model\n"
                                  "  hint:    this looks like an Ollama server: try --engine "
                                  "ollama (kind: ollama in a scenario file)"));
}

TEST_F(CliMessagesTest, WorkerPortWithNothingListeningSaysSoWithoutATlsHint) {
  const std::string closed = absl::StrCat("127.0.0.1:", ClosedPort());
  ProcessRun run = QuickThrough(closed, tmp_ + "/w", {});
  ASSERT_TRUE(run.exit.exited) << run.err;
  EXPECT_EQ(run.exit.code, 1) << run.err;
  EXPECT_EQ(run.err, absl::StrCat("llmbench: worker ", closed, ": nothing is listening at ", closed,
                                  " (connection refused): start llmbench-worker there or check "
                                  "the address\n"));
  EXPECT_EQ(run.err.find("--tls-ca"), std::string::npos);
}

TEST_F(CliMessagesTest, WorkerReadsTheCoordinatorsTokenVariable) {
  std::string address;
  std::unique_ptr<Subprocess> worker = StartWorker({"LLMBENCH_TOKEN=shared-secret"}, &address);
  ASSERT_NE(worker, nullptr);
  ASSERT_FALSE(address.empty());
  // The same variable on the coordinator: accepted.
  ProcessRun ok = QuickThrough(address, tmp_ + "/ok", {"LLMBENCH_TOKEN=shared-secret"});
  ASSERT_TRUE(ok.exit.exited) << ok.err;
  EXPECT_TRUE(std::filesystem::exists(tmp_ + "/ok/summary.json")) << ok.err;
  // Without it: refused, and the coordinator names the variable.
  ProcessRun refused = QuickThrough(address, tmp_ + "/refused", {});
  ASSERT_TRUE(refused.exit.exited) << refused.err;
  EXPECT_EQ(refused.exit.code, 1);
  EXPECT_EQ(refused.err, absl::StrCat("llmbench: worker ", address,
                                      ": missing or wrong llmbench token (give the worker's token "
                                      "with --token-file or $LLMBENCH_TOKEN)\n"));
}

TEST_F(CliMessagesTest, WorkerStillReadsTheOlderTokenVariable) {
  std::string address;
  std::unique_ptr<Subprocess> worker =
      StartWorker({"LLMBENCH_WORKER_TOKEN=older-secret"}, &address);
  ASSERT_NE(worker, nullptr);
  ASSERT_FALSE(address.empty());
  ProcessRun ok = QuickThrough(address, tmp_ + "/ok", {"LLMBENCH_TOKEN=older-secret"});
  ASSERT_TRUE(ok.exit.exited) << ok.err;
  EXPECT_TRUE(std::filesystem::exists(tmp_ + "/ok/summary.json")) << ok.err;
  ProcessRun refused = QuickThrough(address, tmp_ + "/refused", {"LLMBENCH_TOKEN=other"});
  ASSERT_TRUE(refused.exit.exited) << refused.err;
  EXPECT_EQ(refused.exit.code, 1) << refused.err;
}

TEST_F(CliMessagesTest, WorkerRefusesTwoDifferentTokenVariables) {
  ProcessRun run = RunProgram(LLMBENCH_WORKER_BINARY, {"--listen", "127.0.0.1:0"},
                       {"LLMBENCH_TOKEN=token-aaa", "LLMBENCH_WORKER_TOKEN=token-bbb"});
  ASSERT_TRUE(run.exit.exited) << run.err;
  EXPECT_EQ(run.exit.code, 2);
  EXPECT_EQ(run.err,
            "llmbench-worker: $LLMBENCH_TOKEN and $LLMBENCH_WORKER_TOKEN (its older name) are both "
            "set, to different tokens: unset one, or give --token-file\n");
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err.find("token-aaa"), std::string::npos);  // neither token is echoed
  EXPECT_EQ(run.err.find("token-bbb"), std::string::npos);

  // The same token under both names (surrounding whitespace ignored) is fine.
  std::string address;
  std::unique_ptr<Subprocess> same =
      StartWorker({"LLMBENCH_TOKEN=same", "LLMBENCH_WORKER_TOKEN= same\n"}, &address);
  ASSERT_NE(same, nullptr);
  EXPECT_FALSE(address.empty());
}

}  // namespace
}  // namespace llmbench
