// `llmbench run --workers NAME:PORT` where NAME resolves to several addresses, each of which
// becomes one worker (coordinator/worker_addresses.h) — the way a Kubernetes coordinator Job
// finds every worker pod behind a headless Service (deploy/k8s, docs/deploy.md).
//
// The name is real to the system resolver: the coordinator runs inside a private mount
// namespace (`unshare --mount`, root) where a temporary hosts file is bind-mounted over
// /etc/hosts (llmbench-workers.test -> 127.0.0.2, 127.0.0.3, 127.0.0.4, listed out of order)
// and a temporary nsswitch.conf over /etc/nsswitch.conf ("hosts: files", so no DNS server is
// ever asked). Nothing outside that namespace sees either file. Three real llmbench-worker
// processes listen on those three loopback addresses on one port, a real llmbench-sim on
// 127.0.0.1; summary.json must list the three workers by address, each with work done and
// every request successful. A TLS variant checks that workers found through the name are
// verified against the name (their certificates carry only DNS:llmbench-workers.test) while
// being dialled by IP. Where unshare is not permitted the tests skip, saying so.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"
#include "tests/multihost/run_checks.h"

namespace llmbench::dns {
namespace {

namespace v1 = ::llmbench::v1;
using llmbench::testing::ExitStatus;
using llmbench::testing::MakeTempDir;
using llmbench::testing::ReadSummary;
using llmbench::testing::SimProcess;
using llmbench::testing::Subprocess;
using llmbench::testing::WriteTextFile;
using std::chrono::seconds;

constexpr char kName[] = "llmbench-workers.test";
constexpr std::array<const char*, 3> kIps = {"127.0.0.2", "127.0.0.3", "127.0.0.4"};
constexpr uint64_t kRequests = 60;
// Generous for a loaded 2-core machine: a run of 60 short requests takes about a second.
constexpr auto kRunTimeout = seconds(120);
constexpr auto kStartTimeout = seconds(30);

// Bind-mounts $1 over /etc/hosts and $2 over /etc/nsswitch.conf, then runs the rest.
constexpr char kMountScript[] =
    "mount --bind \"$1\" /etc/hosts && mount --bind \"$2\" /etc/nsswitch.conf && shift 2 && "
    "exec \"$@\"";

std::string FindUnshare() {
  for (const char* path : {"/usr/bin/unshare", "/bin/unshare"}) {
    if (std::filesystem::exists(path)) return path;
  }
  return "";
}

struct Finished {
  ExitStatus exit;
  std::string out;
  std::string err;
};

// Runs argv to completion (killed after `timeout`).
Finished RunToEnd(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  Finished finished;
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(argv);
  if (!process.ok()) {
    finished.err = std::string(process.status().message());
    return finished;
  }
  absl::StatusOr<ExitStatus> exit = (*process)->Wait(timeout);
  if (!exit.ok()) {
    ADD_FAILURE() << absl::StrJoin(argv, " ") << ": still running after " << timeout.count()
                  << " s\n" << (*process)->Stderr();
    finished.exit = (*process)->Stop();
  } else {
    finished.exit = *exit;
  }
  finished.out = absl::StrJoin((*process)->StdoutLines(), "\n");
  finished.err = (*process)->Stderr();
  return finished;
}

std::string Yaml(const std::string& engine_url, const std::string& out) {
  return absl::StrCat(R"(name: dns-workers
engines:
  - kind: vllm
    name: sim
    base_url: )", engine_url, R"(
    model: sim-model
prompts:
  synthetic:
    input_tokens: {kind: fixed, mean: 16}
    count: 16
generation:
  max_tokens: 8
  ignore_eos: true
  temperature: 0
  stream: true
load:
  concurrency: 6
  requests: )", kRequests, R"(
thresholds:
  # A loaded CI machine must not turn this run INVALID: it tests discovery, not timing.
  max_lateness_p99_ms: 60000
outputs:
  dir: )", out, R"(
  csv: false
  html: false
seed: 7
)");
}

class DnsWorkersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unshare_ = FindUnshare();
    if (unshare_.empty()) GTEST_SKIP() << "no unshare binary (util-linux): cannot test DNS names";
    // Can this process make a mount namespace at all (root / CAP_SYS_ADMIN)?
    Finished probe = RunToEnd({unshare_, "--mount", "--", "/bin/true"}, kStartTimeout);
    if (!probe.exit.exited || probe.exit.code != 0) {
      GTEST_SKIP() << "unshare --mount is not permitted here (needs root or CAP_SYS_ADMIN): "
                   << probe.err;
    }
    absl::StatusOr<std::string> dir = MakeTempDir("llmbench-dns");
    ASSERT_TRUE(dir.ok()) << dir.status().message();
    dir_ = *dir;
    hosts_ = dir_ + "/hosts";
    nsswitch_ = dir_ + "/nsswitch.conf";
    // Out of order on purpose: the coordinator sorts what the name resolves to.
    ASSERT_TRUE(WriteTextFile(hosts_, absl::StrCat("127.0.0.1 localhost\n", kIps[2], " ", kName,
                                                   "\n", kIps[0], " ", kName, "\n", kIps[1],
                                                   " ", kName, "\n"))
                    .ok());
    ASSERT_TRUE(WriteTextFile(nsswitch_, "hosts: files\n").ok());

    // The namespace really resolves the name to the three addresses.
    Finished getent = RunToEnd(InNamespace({"/usr/bin/getent", "ahostsv4", kName}), kStartTimeout);
    ASSERT_TRUE(getent.exit.exited && getent.exit.code == 0) << getent.err;
    std::set<std::string> resolved;
    for (absl::string_view line : absl::StrSplit(getent.out, '\n', absl::SkipEmpty())) {
      std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (fields.size() >= 2 && fields[1] == "STREAM") resolved.insert(fields[0]);
    }
    EXPECT_EQ(resolved, std::set<std::string>(kIps.begin(), kIps.end())) << getent.out;

    SimProcess::Options sim_options;
    sim_options.kinds = {"vllm"};
    sim_options.args = {"--itl-ms", "2", "--ttft-base-ms", "5", "--seed", "7"};
    absl::StatusOr<std::unique_ptr<SimProcess>> sim = SimProcess::Start(sim_options);
    ASSERT_TRUE(sim.ok()) << sim.status().message();
    sim_ = *std::move(sim);
  }

  void TearDown() override {
    if (HasFailure()) {
      for (const auto& worker : workers_) {
        std::printf("[dns] worker %s stderr:\n%s\n", absl::StrJoin(worker->argv(), " ").c_str(),
                    worker->Stderr().c_str());
      }
    }
    workers_.clear();  // SIGTERM, then SIGKILL
    sim_.reset();
    if (!dir_.empty()) {
      if (HasFailure()) {
        std::printf("[dns] outputs kept in %s\n", dir_.c_str());
      } else {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
      }
    }
  }

  // argv run inside a fresh mount namespace with the test's hosts and nsswitch files.
  std::vector<std::string> InNamespace(const std::vector<std::string>& argv) const {
    std::vector<std::string> wrapped = {unshare_, "--mount", "--",     "/bin/sh",
                                        "-c",     kMountScript, "sh", hosts_,
                                        nsswitch_};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    return wrapped;
  }

  // Starts one worker on each of kIps, all on the same port (the first one's ephemeral port).
  // `extra` = further worker flags (TLS). Retries with a fresh port when another address's
  // port is already taken.
  void StartWorkers(const std::vector<std::string>& extra) {
    for (int attempt = 0; attempt < 5 && port_ == 0; ++attempt) {
      workers_.clear();
      int port = 0;
      bool all = true;
      for (const char* ip : kIps) {
        std::vector<std::string> argv = {"/usr/bin/env", "-u", "LLMBENCH_WORKER_TOKEN",
                                         LLMBENCH_WORKER_BINARY, "--listen",
                                         absl::StrCat(ip, ":", port), "--loop-threads", "1",
                                         "--worker-id", absl::StrCat("w-", ip), "--log-level",
                                         "warn"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        absl::StatusOr<std::unique_ptr<Subprocess>> worker = Subprocess::Start(argv);
        ASSERT_TRUE(worker.ok()) << worker.status().message();
        auto line = (*worker)->WaitForStdoutLine(0, kStartTimeout);
        workers_.push_back(*std::move(worker));
        const std::string prefix = absl::StrCat("listening grpc://", ip, ":");
        if (!line.ok() || !absl::StartsWith(line->second, prefix)) {
          ASSERT_NE(port, 0) << "the first worker did not start: " << workers_.back()->Stderr();
          all = false;  // this port is taken on `ip`: try another
          break;
        }
        ASSERT_TRUE(absl::SimpleAtoi(line->second.substr(prefix.size()), &port)) << line->second;
      }
      if (all) port_ = port;
    }
    ASSERT_NE(port_, 0) << "could not start three workers on one port";
  }

  // Runs `llmbench run` in the namespace against --workers NAME:PORT; returns its outputs.
  Finished RunCoordinator(const std::string& out, const std::string& worker_spec,
                          const std::vector<std::string>& extra) {
    const std::string yaml = out + ".yaml";
    EXPECT_TRUE(WriteTextFile(yaml, Yaml(sim_->BaseUrl("vllm"), out)).ok());
    std::vector<std::string> argv = {"/usr/bin/env", "-u", "LLMBENCH_TOKEN",
                                     LLMBENCH_COORDINATOR_BINARY, "run", yaml, "--workers",
                                     worker_spec, "--quiet"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunToEnd(InNamespace(argv), kRunTimeout);
  }

  // summary.json in `out`: the three workers by address, each with work, all successful.
  void CheckThreeWorkers(const std::string& out) {
    absl::StatusOr<v1::RunResult> result = ReadSummary(out);
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(result->overall().requests(), kRequests);
    EXPECT_EQ(result->overall().successes(), kRequests);
    ASSERT_EQ(result->workers_size(), 3);
    std::map<std::string, std::string> id_by_address;
    uint64_t total = 0;
    for (const v1::WorkerResult& w : result->workers()) {
      id_by_address[w.address()] = w.worker_id();
      EXPECT_FALSE(w.failed()) << w.address() << ": " << w.failure();
      EXPECT_GT(w.aggregates().requests(), 0u) << w.address() << " had no work";
      EXPECT_EQ(w.aggregates().requests(), w.aggregates().successes()) << w.address();
      total += w.aggregates().requests();
    }
    EXPECT_EQ(total, kRequests);
    // Each address reached the worker that listens on it.
    std::map<std::string, std::string> expected;
    for (const char* ip : kIps) expected[absl::StrCat(ip, ":", port_)] = absl::StrCat("w-", ip);
    EXPECT_EQ(id_by_address, expected);
  }

  std::string unshare_, dir_, hosts_, nsswitch_;
  std::unique_ptr<SimProcess> sim_;
  std::vector<std::unique_ptr<Subprocess>> workers_;
  int port_ = 0;
};

TEST_F(DnsWorkersTest, NameResolvingToThreeAddressesRunsThreeWorkers) {
  ASSERT_NO_FATAL_FAILURE(StartWorkers({}));
  const std::string out = dir_ + "/plain";
  Finished run = RunCoordinator(out, absl::StrCat(kName, ":", port_), {});
  ASSERT_TRUE(run.exit.exited) << "signal " << run.exit.signal << "\n" << run.err;
  ASSERT_EQ(run.exit.code, 0) << run.out << "\n" << run.err;
  CheckThreeWorkers(out);
}

TEST_F(DnsWorkersTest, TlsWorkersFoundByNameAreVerifiedAgainstTheName) {
  // A CA and one worker certificate whose only subjectAltName is the name: dialling
  // 127.0.0.x verifies only because the coordinator checks the certificate against the name.
  auto openssl = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    Finished done = RunToEnd(argv, kStartTimeout);
    ASSERT_TRUE(done.exit.exited && done.exit.code == 0)
        << absl::StrJoin(argv, " ") << "\n" << done.err;
  };
  const std::string d = dir_ + "/";
  ASSERT_NO_FATAL_FAILURE(openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt",
                                   "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                                   d + "ca.key", "-out", d + "ca.pem", "-days", "2", "-subj",
                                   "/CN=llmbench-dns-test-ca"}));
  ASSERT_NO_FATAL_FAILURE(openssl({"req", "-new", "-newkey", "ec", "-pkeyopt",
                                   "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                                   d + "worker.key", "-out", d + "worker.csr", "-subj",
                                   "/CN=llmbench-dns-test-worker"}));
  ASSERT_TRUE(WriteTextFile(d + "worker.ext",
                            absl::StrCat("subjectAltName=DNS:", kName,
                                         "\nextendedKeyUsage=serverAuth\n"))
                  .ok());
  ASSERT_NO_FATAL_FAILURE(openssl({"x509", "-req", "-in", d + "worker.csr", "-CA", d + "ca.pem",
                                   "-CAkey", d + "ca.key", "-set_serial", "2", "-days", "2",
                                   "-out", d + "worker.pem", "-extfile", d + "worker.ext"}));
  ASSERT_TRUE(WriteTextFile(d + "token", "dns-test-token\n").ok());
  std::filesystem::permissions(d + "token", std::filesystem::perms::owner_read |
                                                std::filesystem::perms::owner_write);

  ASSERT_NO_FATAL_FAILURE(StartWorkers({"--tls-cert", d + "worker.pem", "--tls-key",
                                        d + "worker.key", "--token-file", d + "token"}));
  const std::string out = dir_ + "/tls";
  Finished run = RunCoordinator(out, absl::StrCat(kName, ":", port_),
                                {"--tls-ca", d + "ca.pem", "--token-file", d + "token"});
  ASSERT_TRUE(run.exit.exited) << "signal " << run.exit.signal << "\n" << run.err;
  ASSERT_EQ(run.exit.code, 0) << run.out << "\n" << run.err;
  CheckThreeWorkers(out);

  // The same workers by literal IP: their certificates do not name 127.0.0.2, so TLS refuses.
  Finished by_ip = RunCoordinator(dir_ + "/tls-ip", absl::StrCat(kIps[0], ":", port_),
                                  {"--tls-ca", d + "ca.pem", "--token-file", d + "token"});
  ASSERT_TRUE(by_ip.exit.exited) << by_ip.err;
  EXPECT_EQ(by_ip.exit.code, 1) << by_ip.err;
  EXPECT_TRUE(absl::StrContains(by_ip.err, absl::StrCat("llmbench: worker ", kIps[0], ":", port_,
                                                        ": ")))
      << by_ip.err;
}

TEST_F(DnsWorkersTest, NameThatResolvesToNothingIsAnErrorNamingIt) {
  const std::string out = dir_ + "/nowhere";
  Finished run = RunCoordinator(out, "nowhere.test:50051", {});
  ASSERT_TRUE(run.exit.exited) << "signal " << run.exit.signal << "\n" << run.err;
  EXPECT_EQ(run.exit.code, 1) << run.err;
  // getaddrinfo's message for EAI_NONAME; nsswitch says "files" only, so no DNS server is asked.
  EXPECT_TRUE(absl::StrContains(
      run.err,
      "llmbench: --workers nowhere.test:50051: cannot resolve nowhere.test: Name or service not "
      "known\n"))
      << run.err;
  EXPECT_FALSE(std::filesystem::exists(out + "/summary.json"));
}

}  // namespace
}  // namespace llmbench::dns
