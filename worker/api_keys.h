// ApiKeyPolicy: which environment variables a worker may send to engines as API keys.
//
// A shard names the variable that holds its engine's key (Engine.api_key_env) and its base URL,
// so without a policy anyone who may call a worker could have it send any variable of its
// environment (AWS_SECRET_ACCESS_KEY, ...) as a Bearer token to a URL of their choice. A worker
// sends only:
//   * variables named LLMBENCH_KEY_* (kApiKeyEnvPrefix), and
//   * the names given at start with --api-key-env NAME (the coordinator passes its scenario's
//     names to the local workers it starts).
// Any other name, and an allowed name that is not set, is refused with one message that names
// what the shard asked for and says nothing about the worker's environment (docs/security.md).
//
// Thread-safety: immutable after construction; the environment is read on each call (a worker
// never changes its own).
#ifndef LLMBENCH_WORKER_API_KEYS_H_
#define LLMBENCH_WORKER_API_KEYS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llmbench::worker {

inline constexpr char kApiKeyEnvPrefix[] = "LLMBENCH_KEY_";

class ApiKeyPolicy {
 public:
  ApiKeyPolicy() = default;  // LLMBENCH_KEY_* only
  explicit ApiKeyPolicy(std::vector<std::string> allowed_names);

  bool Allows(absl::string_view name) const;
  // The allowed names set in this process's environment, sorted, without duplicates. Names
  // only: Describe reports them so that a coordinator can fail before any load.
  std::vector<std::string> SendableNames() const;
  // The key in `name`: its value when the name is allowed and set (an empty value included);
  // otherwise InvalidArgument ApiKeyRefusedMessage(name).
  absl::StatusOr<std::string> KeyFor(const std::string& name) const;

 private:
  std::vector<std::string> allowed_;
};

// "shard.engine.api_key_env NAME: this worker sends only variables named LLMBENCH_KEY_* and
// those given with --api-key-env, when they are set".
std::string ApiKeyRefusedMessage(absl::string_view name);

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_API_KEYS_H_
