// Nvml where no usable NVML exists (this machine has no GPU). The fake library with fixed
// values is exercised by tests/resources/resources_test.cc.
#include "worker/nvml.h"

#include <stdlib.h>

#include "gtest/gtest.h"

namespace llmbench::worker {
namespace {

TEST(NvmlTest, AbsentLibraryIsNoGpuTelemetryWithTheReason) {
  absl::StatusOr<std::unique_ptr<Nvml>> nvml = Nvml::Load("/nonexistent/libnvidia-ml.so.1");
  EXPECT_EQ(nvml.status(),
            absl::NotFoundError(
                "no GPU telemetry: /nonexistent/libnvidia-ml.so.1 not found "
                "(/nonexistent/libnvidia-ml.so.1: cannot open shared object file: No such file "
                "or directory)"));
}

TEST(NvmlTest, EnvironmentVariableNamesTheLibrary) {
  ASSERT_EQ(setenv(kNvmlLibraryEnv, "/nonexistent/other-nvml.so", 1), 0);
  absl::StatusOr<std::unique_ptr<Nvml>> nvml = Nvml::Load();
  unsetenv(kNvmlLibraryEnv);
  EXPECT_EQ(nvml.status(),
            absl::NotFoundError("no GPU telemetry: /nonexistent/other-nvml.so not found "
                                "(/nonexistent/other-nvml.so: cannot open shared object file: "
                                "No such file or directory)"));
}

TEST(NvmlTest, LibraryWithoutNvmlSymbolsIsRefused) {
  // libm is always there and has none of NVML's entry points.
  absl::StatusOr<std::unique_ptr<Nvml>> nvml = Nvml::Load("libm.so.6");
  EXPECT_EQ(nvml.status(),
            absl::FailedPreconditionError("no GPU telemetry: libm.so.6 lacks nvmlInit_v2"));
}

TEST(NvmlTest, DefaultLibraryOnAMachineWithoutNvidiaDriver) {
  unsetenv(kNvmlLibraryEnv);
  absl::StatusOr<std::unique_ptr<Nvml>> nvml = Nvml::Load();
  if (nvml.ok()) GTEST_SKIP() << "this machine has NVML (" << (*nvml)->devices().size() << " GPUs)";
  EXPECT_TRUE(nvml.status().message().rfind("no GPU telemetry: ", 0) == 0) << nvml.status();
}

}  // namespace
}  // namespace llmbench::worker
