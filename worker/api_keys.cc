#include "worker/api_keys.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace llmbench::worker {

ApiKeyPolicy::ApiKeyPolicy(std::vector<std::string> allowed_names)
    : allowed_(std::move(allowed_names)) {}

bool ApiKeyPolicy::Allows(absl::string_view name) const {
  if (name.size() > sizeof(kApiKeyEnvPrefix) - 1 && absl::StartsWith(name, kApiKeyEnvPrefix)) {
    return true;
  }
  return std::find(allowed_.begin(), allowed_.end(), name) != allowed_.end();
}

std::vector<std::string> ApiKeyPolicy::SendableNames() const {
  std::vector<std::string> names;
  for (const std::string& name : allowed_) {
    if (!name.empty() && std::getenv(name.c_str()) != nullptr) names.push_back(name);
  }
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    absl::string_view variable(*entry);
    const size_t equals = variable.find('=');
    if (equals == absl::string_view::npos) continue;
    absl::string_view name = variable.substr(0, equals);
    if (Allows(name) && absl::StartsWith(name, kApiKeyEnvPrefix)) names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

absl::StatusOr<std::string> ApiKeyPolicy::KeyFor(const std::string& name) const {
  const char* value = Allows(name) ? std::getenv(name.c_str()) : nullptr;
  if (value == nullptr) return absl::InvalidArgumentError(ApiKeyRefusedMessage(name));
  return std::string(value);
}

std::string ApiKeyRefusedMessage(absl::string_view name) {
  return absl::StrCat("shard.engine.api_key_env ", name, ": this worker sends only variables named ",
                      kApiKeyEnvPrefix,
                      "* and those given with --api-key-env, when they are set");
}

}  // namespace llmbench::worker
