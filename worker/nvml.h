// Nvml: GPU telemetry through NVIDIA's management library, loaded at run time.
//
// llmbench is built without NVIDIA headers or libraries: Load() dlopen()s libnvidia-ml.so.1
// (the driver installs it; $LLMBENCH_NVML_LIBRARY names another file, which is how the tests
// put a fake in its place) and dlsym()s only nvmlInit_v2, nvmlShutdown,
// nvmlDeviceGetCount_v2, nvmlDeviceGetHandleByIndex_v2, nvmlDeviceGetName,
// nvmlDeviceGetUtilizationRates, nvmlDeviceGetMemoryInfo, nvmlDeviceGetPowerUsage and
// nvmlDeviceGetClockInfo, with the few types they need declared in nvml.cc.
//
// Load() fails with a message that starts "no GPU telemetry: " and says why (library not
// found, a symbol missing, nvmlInit_v2 failed, no GPU): callers put it in
// ResourceSeries.gpu_note. A value one device does not support (NVML_ERROR_NOT_SUPPORTED,
// no permission) is left absent in its GpuSample, never reported as zero.
//
// Thread-safety: Sample() and devices() are thread-safe (NVML itself is thread-safe).
// Lifetime: the destructor calls nvmlShutdown and dlclose()s the library.
#ifndef LLMBENCH_WORKER_NVML_H_
#define LLMBENCH_WORKER_NVML_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "llmbench/v1/resources.pb.h"

namespace llmbench::worker {

inline constexpr char kNvmlDefaultLibrary[] = "libnvidia-ml.so.1";
// Environment variable naming the library to load instead of kNvmlDefaultLibrary.
inline constexpr char kNvmlLibraryEnv[] = "LLMBENCH_NVML_LIBRARY";
// Prefix of every Load() error and of ResourceSeries.gpu_note.
inline constexpr char kNoGpuTelemetry[] = "no GPU telemetry: ";

class Nvml {
 public:
  // `library`: the file to dlopen; "" = $LLMBENCH_NVML_LIBRARY when set, else
  // libnvidia-ml.so.1 (searched as dlopen does). Initializes NVML and lists the devices.
  // Errors (all "no GPU telemetry: ..."):
  //   NotFound            "<library> not found (<dlerror>)"
  //   FailedPrecondition  "<library> lacks <symbol>"
  //   Unavailable         "nvmlInit_v2 failed: NVML error <n> (<name>)", likewise for
  //                       nvmlDeviceGetCount_v2 / nvmlDeviceGetHandleByIndex_v2, and
  //                       "NVML reports no GPU"
  static absl::StatusOr<std::unique_ptr<Nvml>> Load(std::string library = "");

  ~Nvml();
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  // Index and name of every device, in NVML order.
  const std::vector<llmbench::v1::GpuDevice>& devices() const { return devices_; }
  // The file that was loaded.
  const std::string& library() const { return library_; }

  // One sample per device: utilization, memory, power, SM and memory clocks. Fields a device
  // does not report are absent.
  std::vector<llmbench::v1::GpuSample> Sample() const;

 private:
  struct Api;
  Nvml(std::string library, void* handle, std::unique_ptr<Api> api);

  const std::string library_;
  void* const handle_;  // dlopen handle
  const std::unique_ptr<Api> api_;
  std::vector<void*> device_handles_;  // nvmlDevice_t
  std::vector<llmbench::v1::GpuDevice> devices_;
};

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_NVML_H_
