#include "coordinator/worker_addresses.h"

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

using Answers = std::map<std::string, std::vector<std::string>>;

// A resolver with fixed answers that records every name it was asked for.
class FakeResolver {
 public:
  explicit FakeResolver(Answers answers)
      : answers_(std::move(answers)) {}

  HostResolver AsFunction() {
    return [this](const std::string& host) -> absl::StatusOr<std::vector<std::string>> {
      asked_.push_back(host);
      auto it = answers_.find(host);
      if (it == answers_.end()) return absl::NotFoundError("Name or service not known");
      return it->second;
    };
  }
  const std::vector<std::string>& asked() const { return asked_; }

 private:
  Answers answers_;
  std::vector<std::string> asked_;
};

std::vector<std::string> Addresses(const std::vector<WorkerAddress>& workers) {
  std::vector<std::string> out;
  for (const WorkerAddress& w : workers) out.push_back(w.address);
  return out;
}

std::vector<std::string> TlsNames(const std::vector<WorkerAddress>& workers) {
  std::vector<std::string> out;
  for (const WorkerAddress& w : workers) out.push_back(w.tls_name);
  return out;
}

TEST(WorkerAddressesTest, NameWithSeveralAddressesBecomesOneWorkerEach) {
  // Unsorted, with a duplicate and both families: deduplicated, IPv4 first, numeric order
  // (10.0.0.10 after 10.0.0.9, which a string sort would get wrong).
  FakeResolver resolver(Answers{{"llmbench-workers.bench.svc.cluster.local",
                          {"10.0.0.10", "fd00::2", "10.0.0.9", "10.0.0.10", "fd00::1"}}});
  absl::StatusOr<std::vector<WorkerAddress>> workers = ExpandWorkerAddresses(
      {"llmbench-workers.bench.svc.cluster.local:50051"}, resolver.AsFunction());
  ASSERT_TRUE(workers.ok()) << workers.status();
  EXPECT_EQ(Addresses(*workers),
            (std::vector<std::string>{"10.0.0.9:50051", "10.0.0.10:50051", "[fd00::1]:50051",
                                      "[fd00::2]:50051"}));
  EXPECT_EQ(TlsNames(*workers),
            std::vector<std::string>(4, "llmbench-workers.bench.svc.cluster.local"));
}

TEST(WorkerAddressesTest, OrderIsStableWhateverOrderTheResolverAnswersIn) {
  FakeResolver a(Answers{{"w", {"127.0.0.4", "127.0.0.2", "127.0.0.3"}}});
  FakeResolver b(Answers{{"w", {"127.0.0.3", "127.0.0.4", "127.0.0.2"}}});
  absl::StatusOr<std::vector<WorkerAddress>> from_a =
      ExpandWorkerAddresses({"w:7"}, a.AsFunction());
  absl::StatusOr<std::vector<WorkerAddress>> from_b =
      ExpandWorkerAddresses({"w:7"}, b.AsFunction());
  ASSERT_TRUE(from_a.ok()) << from_a.status();
  ASSERT_TRUE(from_b.ok()) << from_b.status();
  EXPECT_EQ(Addresses(*from_a),
            (std::vector<std::string>{"127.0.0.2:7", "127.0.0.3:7", "127.0.0.4:7"}));
  EXPECT_EQ(Addresses(*from_a), Addresses(*from_b));
}

TEST(WorkerAddressesTest, LiteralsLocalhostAndUrisAreDialledAsGivenWithoutResolving) {
  FakeResolver resolver(Answers{});
  absl::StatusOr<std::vector<WorkerAddress>> workers = ExpandWorkerAddresses(
      {"10.0.0.5:50051", " [fd00::5]:50051 ", "localhost:7000", "LOCALHOST:7001",
       "dns:///workers:50051", "unix:/tmp/worker.sock", "ipv4:127.0.0.1:1"},
      resolver.AsFunction());
  ASSERT_TRUE(workers.ok()) << workers.status();
  EXPECT_EQ(Addresses(*workers),
            (std::vector<std::string>{"10.0.0.5:50051", "[fd00::5]:50051", "localhost:7000",
                                      "LOCALHOST:7001", "dns:///workers:50051",
                                      "unix:/tmp/worker.sock", "ipv4:127.0.0.1:1"}));
  EXPECT_EQ(TlsNames(*workers), std::vector<std::string>(7, ""));
  EXPECT_TRUE(resolver.asked().empty());
}

TEST(WorkerAddressesTest, NameWithOneAddressIsDialledByName) {
  FakeResolver resolver(Answers{{"hosta", {"10.0.0.5", "10.0.0.5"}}, {"hostb", {"10.0.0.6"}}});
  absl::StatusOr<std::vector<WorkerAddress>> workers =
      ExpandWorkerAddresses({"hosta:50051", "hostb:50051"}, resolver.AsFunction());
  ASSERT_TRUE(workers.ok()) << workers.status();
  EXPECT_EQ(Addresses(*workers), (std::vector<std::string>{"hosta:50051", "hostb:50051"}));
  EXPECT_EQ(TlsNames(*workers), (std::vector<std::string>{"", ""}));
  EXPECT_EQ(resolver.asked(), (std::vector<std::string>{"hosta", "hostb"}));
}

TEST(WorkerAddressesTest, EntriesKeepTheirOrderAndMix) {
  FakeResolver resolver(Answers{{"pool", {"10.1.0.2", "10.1.0.1"}}});
  absl::StatusOr<std::vector<WorkerAddress>> workers =
      ExpandWorkerAddresses({"10.9.9.9:1", "pool:2", "10.0.0.1:3"}, resolver.AsFunction());
  ASSERT_TRUE(workers.ok()) << workers.status();
  EXPECT_EQ(Addresses(*workers), (std::vector<std::string>{"10.9.9.9:1", "10.1.0.1:2",
                                                           "10.1.0.2:2", "10.0.0.1:3"}));
  EXPECT_EQ(TlsNames(*workers), (std::vector<std::string>{"", "pool", "pool", ""}));
}

TEST(WorkerAddressesTest, NameThatDoesNotResolveIsAnErrorNamingIt) {
  FakeResolver resolver(Answers{{"empty.example", {}}});
  absl::StatusOr<std::vector<WorkerAddress>> missing =
      ExpandWorkerAddresses({"nowhere.example:50051"}, resolver.AsFunction());
  EXPECT_EQ(missing.status(),
            absl::NotFoundError("--workers nowhere.example:50051: cannot resolve "
                                "nowhere.example: Name or service not known"));
  absl::StatusOr<std::vector<WorkerAddress>> empty =
      ExpandWorkerAddresses({"empty.example:50051"}, resolver.AsFunction());
  EXPECT_EQ(empty.status(), absl::NotFoundError("--workers empty.example:50051: empty.example "
                                                "resolves to no address"));
}

TEST(WorkerAddressesTest, ResolverAnsweringSomethingThatIsNotAnAddressIsAnError) {
  FakeResolver resolver(Answers{{"odd", {"10.0.0.1", "not-an-ip"}}});
  EXPECT_EQ(ExpandWorkerAddresses({"odd:1"}, resolver.AsFunction()).status(),
            absl::InternalError(
                "--workers odd:1: the resolver returned 'not-an-ip' for odd, not an IP address"));
}

TEST(WorkerAddressesTest, MalformedEntriesAreClearErrors) {
  FakeResolver resolver(Answers{});
  auto error = [&](const std::string& spec) {
    return ExpandWorkerAddresses({spec}, resolver.AsFunction()).status();
  };
  EXPECT_EQ(error(""), absl::InvalidArgumentError(
                           "--workers: an empty entry (expected HOST:PORT, comma-separated)"));
  EXPECT_EQ(error("   "), absl::InvalidArgumentError(
                              "--workers: an empty entry (expected HOST:PORT, comma-separated)"));
  EXPECT_EQ(error("hosta"),
            absl::InvalidArgumentError("--workers hosta: no port (expected HOST:PORT)"));
  EXPECT_EQ(error(":50051"),
            absl::InvalidArgumentError("--workers :50051: no host (expected HOST:PORT)"));
  EXPECT_EQ(error("hosta:"), absl::InvalidArgumentError(
                                 "--workers hosta:: port '' is not a number from 1 to 65535"));
  EXPECT_EQ(error("hosta:http"),
            absl::InvalidArgumentError(
                "--workers hosta:http: port 'http' is not a number from 1 to 65535"));
  EXPECT_EQ(error("hosta:0"), absl::InvalidArgumentError(
                                  "--workers hosta:0: port '0' is not a number from 1 to 65535"));
  EXPECT_EQ(error("hosta:65536"),
            absl::InvalidArgumentError(
                "--workers hosta:65536: port '65536' is not a number from 1 to 65535"));
  EXPECT_EQ(error("hosta:-1"),
            absl::InvalidArgumentError(
                "--workers hosta:-1: port '-1' is not a number from 1 to 65535"));
  EXPECT_EQ(error("fd00::5:50051"),
            absl::InvalidArgumentError(
                "--workers fd00::5:50051: an IPv6 address goes in brackets: [ADDRESS]:PORT"));
  EXPECT_EQ(error("[fd00::5]50051"),
            absl::InvalidArgumentError("--workers [fd00::5]50051: expected [IPv6]:PORT"));
  EXPECT_EQ(error("[fd00::5"),
            absl::InvalidArgumentError("--workers [fd00::5: expected [IPv6]:PORT"));
  EXPECT_EQ(error("[10.0.0.1]:5"),
            absl::InvalidArgumentError(
                "--workers [10.0.0.1]:5: '10.0.0.1' is not an IPv6 address"));
  EXPECT_TRUE(resolver.asked().empty());
}

TEST(WorkerAddressesTest, SystemResolverAnswersNumericHostsWithoutDns) {
  // A numeric host needs no lookup; names are covered by tests/dns with a real /etc/hosts.
  absl::StatusOr<std::vector<std::string>> v4 = ResolveHost("127.0.0.1");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(*v4, std::vector<std::string>{"127.0.0.1"});
  absl::StatusOr<std::vector<std::string>> v6 = ResolveHost("::1");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(*v6, std::vector<std::string>{"::1"});
}

}  // namespace
}  // namespace llmbench::coordinator
