#include "worker/nvml.h"

#include <dlfcn.h>

#include <cstdlib>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace llmbench::worker {
namespace {

// The slice of nvml.h llmbench uses (NVML API version 11+; the _v2 entry points exist since
// driver 325). Declared here because no NVIDIA header is installed at build time.
using NvmlReturn = int;  // nvmlReturn_t
constexpr NvmlReturn kNvmlSuccess = 0;
using NvmlDevice = void*;  // nvmlDevice_t: an opaque struct nvmlDevice_st*
struct NvmlUtilization {   // nvmlUtilization_t
  unsigned int gpu;
  unsigned int memory;
};
struct NvmlMemory {  // nvmlMemory_t (v1)
  unsigned long long total;  // NOLINT(runtime/int): NVML's type
  unsigned long long free;   // NOLINT(runtime/int)
  unsigned long long used;   // NOLINT(runtime/int)
};
constexpr int kNvmlClockSm = 1;   // NVML_CLOCK_SM
constexpr int kNvmlClockMem = 2;  // NVML_CLOCK_MEM
constexpr unsigned int kNvmlDeviceNameBufferSize = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE

// nvmlErrorString is not among the symbols we load: the few codes worth a name.
const char* NvmlErrorName(NvmlReturn code) {
  switch (code) {
    case 1: return "uninitialized";
    case 2: return "invalid argument";
    case 3: return "not supported";
    case 4: return "no permission";
    case 6: return "not found";
    case 9: return "driver not loaded";
    case 12: return "library not found";
    case 13: return "function not found";
    case 15: return "GPU is lost";
    case 18: return "insufficient resources";
    case 999: return "unknown error";
    default: return "unlisted error";
  }
}

std::string NvmlError(const char* function, NvmlReturn code) {
  return absl::StrCat(kNoGpuTelemetry, function, " failed: NVML error ", code, " (",
                      NvmlErrorName(code), ")");
}

}  // namespace

struct Nvml::Api {
  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*shutdown)() = nullptr;
  NvmlReturn (*get_count)(unsigned int*) = nullptr;
  NvmlReturn (*get_handle)(unsigned int, NvmlDevice*) = nullptr;
  NvmlReturn (*get_name)(NvmlDevice, char*, unsigned int) = nullptr;
  NvmlReturn (*get_utilization)(NvmlDevice, NvmlUtilization*) = nullptr;
  NvmlReturn (*get_memory)(NvmlDevice, NvmlMemory*) = nullptr;
  NvmlReturn (*get_power)(NvmlDevice, unsigned int*) = nullptr;
  NvmlReturn (*get_clock)(NvmlDevice, int, unsigned int*) = nullptr;
};

absl::StatusOr<std::unique_ptr<Nvml>> Nvml::Load(std::string library) {
  if (library.empty()) {
    const char* env = std::getenv(kNvmlLibraryEnv);
    library = (env != nullptr && env[0] != '\0') ? env : kNvmlDefaultLibrary;
  }
  dlerror();
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return absl::NotFoundError(absl::StrCat(kNoGpuTelemetry, library, " not found (",
                                            why != nullptr ? why : "dlopen failed", ")"));
  }
  auto api = std::make_unique<Api>();
  std::string missing;
  auto bind = [&](auto* slot, const char* symbol) {
    void* address = dlsym(handle, symbol);
    if (address == nullptr && missing.empty()) missing = symbol;
    *slot = reinterpret_cast<std::remove_pointer_t<decltype(slot)>>(address);
  };
  bind(&api->init, "nvmlInit_v2");
  bind(&api->shutdown, "nvmlShutdown");
  bind(&api->get_count, "nvmlDeviceGetCount_v2");
  bind(&api->get_handle, "nvmlDeviceGetHandleByIndex_v2");
  bind(&api->get_name, "nvmlDeviceGetName");
  bind(&api->get_utilization, "nvmlDeviceGetUtilizationRates");
  bind(&api->get_memory, "nvmlDeviceGetMemoryInfo");
  bind(&api->get_power, "nvmlDeviceGetPowerUsage");
  bind(&api->get_clock, "nvmlDeviceGetClockInfo");
  if (!missing.empty()) {
    dlclose(handle);
    return absl::FailedPreconditionError(
        absl::StrCat(kNoGpuTelemetry, library, " lacks ", missing));
  }
  if (NvmlReturn rc = api->init(); rc != kNvmlSuccess) {
    dlclose(handle);
    return absl::UnavailableError(NvmlError("nvmlInit_v2", rc));
  }
  // From here on the destructor shuts NVML down and closes the library.
  std::unique_ptr<Nvml> nvml(new Nvml(library, handle, std::move(api)));
  unsigned int count = 0;
  if (NvmlReturn rc = nvml->api_->get_count(&count); rc != kNvmlSuccess) {
    return absl::UnavailableError(NvmlError("nvmlDeviceGetCount_v2", rc));
  }
  if (count == 0) {
    return absl::UnavailableError(absl::StrCat(kNoGpuTelemetry, "NVML reports no GPU"));
  }
  for (unsigned int i = 0; i < count; ++i) {
    NvmlDevice device = nullptr;
    if (NvmlReturn rc = nvml->api_->get_handle(i, &device); rc != kNvmlSuccess) {
      return absl::UnavailableError(NvmlError("nvmlDeviceGetHandleByIndex_v2", rc));
    }
    char name[kNvmlDeviceNameBufferSize] = {};
    llmbench::v1::GpuDevice info;
    info.set_index(i);
    if (nvml->api_->get_name(device, name, sizeof(name) - 1) == kNvmlSuccess) {
      info.set_name(std::string(name));
    } else {
      info.set_name(absl::StrCat("GPU ", i));
    }
    nvml->device_handles_.push_back(device);
    nvml->devices_.push_back(std::move(info));
  }
  return nvml;
}

Nvml::Nvml(std::string library, void* handle, std::unique_ptr<Api> api)
    : library_(std::move(library)), handle_(handle), api_(std::move(api)) {}

Nvml::~Nvml() {
  api_->shutdown();
  dlclose(handle_);
}

std::vector<llmbench::v1::GpuSample> Nvml::Sample() const {
  std::vector<llmbench::v1::GpuSample> samples;
  samples.reserve(device_handles_.size());
  for (size_t i = 0; i < device_handles_.size(); ++i) {
    NvmlDevice device = device_handles_[i];
    llmbench::v1::GpuSample& s = samples.emplace_back();
    s.set_index(static_cast<uint32_t>(i));
    NvmlUtilization utilization{};
    if (api_->get_utilization(device, &utilization) == kNvmlSuccess) {
      s.set_util_percent(utilization.gpu);
      s.set_mem_util_percent(utilization.memory);
    }
    NvmlMemory memory{};
    if (api_->get_memory(device, &memory) == kNvmlSuccess) {
      s.set_mem_used_bytes(memory.used);
      s.set_mem_total_bytes(memory.total);
    }
    unsigned int milliwatts = 0;
    if (api_->get_power(device, &milliwatts) == kNvmlSuccess) s.set_power_w(milliwatts / 1000.0);
    unsigned int mhz = 0;
    if (api_->get_clock(device, kNvmlClockSm, &mhz) == kNvmlSuccess) s.set_sm_clock_mhz(mhz);
    if (api_->get_clock(device, kNvmlClockMem, &mhz) == kNvmlSuccess) s.set_mem_clock_mhz(mhz);
  }
  return samples;
}

}  // namespace llmbench::worker
