// NetnsLab: a small private network of "hosts" for multi-host tests, built from Linux network
// namespaces (iproute2 `ip netns`). Needs root (CI runs as root).
//
// Layout, for a lab with hosts {coord, w1, w2, w3, eng}:
//   namespace lbt-<pid>-<n>-br     holds a bridge `br0` and one veth port per host (`p-<host>`)
//   namespace lbt-<pid>-<n>-<host> holds `lo` (up) and `eth0`, the other end of `p-<host>`,
//                                  with address 10.250.13.<k>/24 (k = 11, 12, ... in order)
// Every interface and address exists only inside namespaces the lab created: nothing touches
// the host's own network. The names are unique per process and per lab (<pid>, <n>), so
// concurrent test processes never collide.
//
// Processes are started with `ip netns exec NS PROGRAM ARGS...` (which execs PROGRAM, so the
// Subprocess pid is the program's pid and signals reach it directly).
//
// Teardown (destructor), even when a test failed half-way: every process the lab started is
// continued (SIGCONT, in case a test froze it), stopped (SIGTERM, then SIGKILL) and reaped,
// then every namespace is deleted (deleting a namespace destroys its veth ends and bridge).
//
// Thread-compatible: one owner (the test body).
#ifndef LLMBENCH_TESTS_MULTIHOST_NETNS_LAB_H_
#define LLMBENCH_TESTS_MULTIHOST_NETNS_LAB_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/harness/harness.h"

namespace llmbench::testing {

class NetnsLab {
 public:
  struct Host {
    std::string name;       // e.g. "w1"
    std::string netns;      // e.g. "lbt-1234-0-w1"
    std::string ip;         // e.g. "10.250.13.12"
    std::string peer_port;  // the host's veth end on the bridge, e.g. "p-w1"
  };

  // Creates the namespaces, the bridge and one link per host. On failure (not root, no
  // iproute2, no namespace support) everything created so far is removed and the error says
  // "network namespaces could not be created: ..." with the command and its stderr.
  static absl::StatusOr<std::unique_ptr<NetnsLab>> Create(const std::vector<std::string>& hosts);

  NetnsLab(const NetnsLab&) = delete;
  NetnsLab& operator=(const NetnsLab&) = delete;
  ~NetnsLab();

  // REQUIRES: `name` was given to Create.
  const Host& host(const std::string& name) const;

  // Starts `argv` (argv[0] an absolute path) inside `host`'s namespace. The lab keeps a
  // pointer for teardown; the returned process is owned by the lab and lives until the lab
  // dies or Forget() is called.
  absl::StatusOr<Subprocess*> Start(const std::string& host, std::vector<std::string> argv);

  // Stops and reaps `process` now (SIGCONT, SIGTERM, SIGKILL) and drops it from the lab.
  void Stop(Subprocess* process);

  // Cuts (`up` = false) or restores the host's cable: sets its bridge-side veth end down/up.
  absl::Status SetLink(const std::string& host, bool up);

  // Runs `ip ARGS...` and waits for it; an error carries the command and its stderr.
  static absl::Status Ip(const std::vector<std::string>& args);
  // The iproute2 binary (/usr/sbin/ip, /sbin/ip, /usr/bin/ip or /bin/ip), "" when missing.
  static std::string IpBinary();

 private:
  NetnsLab() = default;
  absl::Status Build(const std::vector<std::string>& hosts);
  void TearDown();

  std::string prefix_;  // "lbt-<pid>-<n>"
  std::string bridge_netns_;
  std::vector<std::string> created_netns_;
  std::vector<Host> hosts_;
  std::vector<std::unique_ptr<Subprocess>> processes_;
};

}  // namespace llmbench::testing

#endif  // LLMBENCH_TESTS_MULTIHOST_NETNS_LAB_H_
