#include "tests/multihost/netns_lab.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace llmbench::testing {
namespace {

std::atomic<int> g_lab_counter{0};

constexpr const char* kSubnetPrefix = "10.250.13.";  // private; exists only inside the lab

}  // namespace

std::string NetnsLab::IpBinary() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return "";
}

absl::Status NetnsLab::Ip(const std::vector<std::string>& args) {
  const std::string ip = IpBinary();
  if (ip.empty()) {
    return absl::NotFoundError("iproute2's `ip` was not found (apt-get install iproute2)");
  }
  std::vector<std::string> argv = {ip};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(argv);
  const std::string command = absl::StrJoin(argv, " ");
  if (!process.ok()) {
    return absl::InternalError(absl::StrCat(command, ": ", process.status().message()));
  }
  absl::StatusOr<ExitStatus> exit = (*process)->Wait(std::chrono::seconds(30));
  if (!exit.ok()) return absl::InternalError(absl::StrCat(command, ": ", exit.status().message()));
  if (!exit->exited || exit->code != 0) {
    return absl::InternalError(absl::StrCat(command, " failed (exit ", exit->code, ", signal ",
                                            exit->signal, "): ", (*process)->Stderr()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<NetnsLab>> NetnsLab::Create(const std::vector<std::string>& hosts) {
  std::unique_ptr<NetnsLab> lab(new NetnsLab());
  lab->prefix_ = absl::StrCat("lbt-", ::getpid(), "-", g_lab_counter.fetch_add(1));
  if (absl::Status status = lab->Build(hosts); !status.ok()) {
    lab->TearDown();
    return absl::FailedPreconditionError(absl::StrCat(
        "network namespaces could not be created (these tests need root and iproute2): ",
        status.message()));
  }
  return lab;
}

absl::Status NetnsLab::Build(const std::vector<std::string>& hosts) {
  bridge_netns_ = absl::StrCat(prefix_, "-br");
  // A stale lab of a recycled pid would make `ip netns add` fail; remove it first.
  if (std::filesystem::exists(absl::StrCat("/run/netns/", bridge_netns_))) {
    (void)Ip({"netns", "del", bridge_netns_});
  }
  if (absl::Status s = Ip({"netns", "add", bridge_netns_}); !s.ok()) return s;
  created_netns_.push_back(bridge_netns_);
  if (absl::Status s = Ip({"-n", bridge_netns_, "link", "set", "lo", "up"}); !s.ok()) return s;
  if (absl::Status s = Ip({"-n", bridge_netns_, "link", "add", "br0", "type", "bridge"}); !s.ok()) {
    return s;
  }
  if (absl::Status s = Ip({"-n", bridge_netns_, "link", "set", "br0", "up"}); !s.ok()) return s;
  int octet = 11;
  for (const std::string& name : hosts) {
    Host host;
    host.name = name;
    host.netns = absl::StrCat(prefix_, "-", name);
    host.ip = absl::StrCat(kSubnetPrefix, octet++);
    host.peer_port = absl::StrCat("p-", name);
    if (std::filesystem::exists(absl::StrCat("/run/netns/", host.netns))) {
      (void)Ip({"netns", "del", host.netns});
    }
    if (absl::Status s = Ip({"netns", "add", host.netns}); !s.ok()) return s;
    created_netns_.push_back(host.netns);
    const std::vector<std::vector<std::string>> steps = {
        {"-n", host.netns, "link", "set", "lo", "up"},
        {"-n", bridge_netns_, "link", "add", host.peer_port, "type", "veth", "peer", "name",
         "eth0", "netns", host.netns},
        {"-n", bridge_netns_, "link", "set", host.peer_port, "master", "br0"},
        {"-n", bridge_netns_, "link", "set", host.peer_port, "up"},
        {"-n", host.netns, "addr", "add", absl::StrCat(host.ip, "/24"), "dev", "eth0"},
        {"-n", host.netns, "link", "set", "eth0", "up"},
    };
    for (const auto& step : steps) {
      if (absl::Status s = Ip(step); !s.ok()) return s;
    }
    hosts_.push_back(std::move(host));
  }
  return absl::OkStatus();
}

NetnsLab::~NetnsLab() { TearDown(); }

void NetnsLab::TearDown() {
  for (auto& process : processes_) process->Signal(SIGCONT);
  for (auto& process : processes_) process->Stop(std::chrono::seconds(5));
  processes_.clear();
  // Delete in reverse order; a failure here (already gone) is not the test's business.
  for (auto it = created_netns_.rbegin(); it != created_netns_.rend(); ++it) {
    (void)Ip({"netns", "del", *it});
  }
  created_netns_.clear();
}

const NetnsLab::Host& NetnsLab::host(const std::string& name) const {
  for (const Host& h : hosts_) {
    if (h.name == name) return h;
  }
  static const Host kNone;
  return kNone;
}

absl::StatusOr<Subprocess*> NetnsLab::Start(const std::string& host,
                                            std::vector<std::string> argv) {
  const Host& h = this->host(host);
  if (h.netns.empty()) return absl::NotFoundError(absl::StrCat("no host ", host, " in the lab"));
  std::vector<std::string> full = {IpBinary(), "netns", "exec", h.netns};
  full.insert(full.end(), std::make_move_iterator(argv.begin()),
              std::make_move_iterator(argv.end()));
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(std::move(full));
  if (!process.ok()) return process.status();
  processes_.push_back(*std::move(process));
  return processes_.back().get();
}

void NetnsLab::Stop(Subprocess* process) {
  for (auto it = processes_.begin(); it != processes_.end(); ++it) {
    if (it->get() == process) {
      process->Signal(SIGCONT);
      process->Stop(std::chrono::seconds(5));
      processes_.erase(it);
      return;
    }
  }
}

absl::Status NetnsLab::SetLink(const std::string& host, bool up) {
  const Host& h = this->host(host);
  if (h.netns.empty()) return absl::NotFoundError(absl::StrCat("no host ", host, " in the lab"));
  return Ip({"-n", bridge_netns_, "link", "set", h.peer_port, up ? "up" : "down"});
}

}  // namespace llmbench::testing
