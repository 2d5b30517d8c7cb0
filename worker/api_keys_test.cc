#include "worker/api_keys.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace llmbench::worker {
namespace {

TEST(ApiKeyPolicyTest, OnlyThePrefixAndTheGivenNamesAreSent) {
  setenv("LLMBENCH_KEY_POLICY_TEST", "k1", 1);
  setenv("POLICY_TEST_ALLOWED", "k2", 1);
  setenv("POLICY_TEST_SECRET", "s3cret", 1);
  unsetenv("POLICY_TEST_ALLOWED_UNSET");
  ApiKeyPolicy policy({"POLICY_TEST_ALLOWED", "POLICY_TEST_ALLOWED_UNSET"});
  EXPECT_EQ(*policy.KeyFor("LLMBENCH_KEY_POLICY_TEST"), "k1");
  EXPECT_EQ(*policy.KeyFor("POLICY_TEST_ALLOWED"), "k2");
  const std::string refused =
      ": this worker sends only variables named LLMBENCH_KEY_* and those given with "
      "--api-key-env, when they are set";
  // The same message whether the variable exists or not, allowed or not.
  for (const std::string name : {"POLICY_TEST_SECRET", "POLICY_TEST_NOT_SET_ANYWHERE",
                                 "POLICY_TEST_ALLOWED_UNSET", "PATH", "LLMBENCH_KEY_"}) {
    EXPECT_EQ(policy.KeyFor(name).status(),
              absl::InvalidArgumentError("shard.engine.api_key_env " + name + refused));
  }
  std::vector<std::string> names = policy.SendableNames();
  EXPECT_NE(std::find(names.begin(), names.end(), "LLMBENCH_KEY_POLICY_TEST"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "POLICY_TEST_ALLOWED"), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), "POLICY_TEST_ALLOWED_UNSET"), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), "POLICY_TEST_SECRET"), names.end());
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  // Without --api-key-env only the prefix.
  EXPECT_FALSE(ApiKeyPolicy().KeyFor("POLICY_TEST_ALLOWED").ok());
  EXPECT_TRUE(ApiKeyPolicy().KeyFor("LLMBENCH_KEY_POLICY_TEST").ok());
}

}  // namespace
}  // namespace llmbench::worker
