// A stand-in for libnvidia-ml.so.1 with fixed values: the seam at the dlopen boundary of
// worker/nvml.h. Built as tests/resources/libnvidia-ml.so.1 and loaded through
// $LLMBENCH_NVML_LIBRARY. It implements exactly the entry points llmbench resolves, with the
// values of fake_nvml_values.h; $LLMBENCH_FAKE_NVML_INIT_RC makes nvmlInit_v2 return that code
// and $LLMBENCH_FAKE_NVML_COUNT overrides the device count.
#include <cstdlib>
#include <cstring>

#include "tests/resources/fake_nvml_values.h"

namespace {

struct FakeDevice {
  int index;
};
FakeDevice g_devices[llmbench::fake_nvml::kDevices] = {{0}, {1}};

int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && value[0] != '\0' ? std::atoi(value) : fallback;
}

unsigned int DeviceCount() {
  return static_cast<unsigned int>(
      EnvInt("LLMBENCH_FAKE_NVML_COUNT", llmbench::fake_nvml::kDevices));
}

const FakeDevice* AsDevice(void* device) { return static_cast<const FakeDevice*>(device); }

}  // namespace

namespace fn = llmbench::fake_nvml;

extern "C" {

__attribute__((visibility("default"))) int nvmlInit_v2() {
  return EnvInt("LLMBENCH_FAKE_NVML_INIT_RC", 0);
}

__attribute__((visibility("default"))) int nvmlShutdown() { return 0; }

__attribute__((visibility("default"))) int nvmlDeviceGetCount_v2(unsigned int* count) {
  *count = DeviceCount();
  return 0;
}

__attribute__((visibility("default"))) int nvmlDeviceGetHandleByIndex_v2(unsigned int index,
                                                                         void** device) {
  if (index >= static_cast<unsigned int>(fn::kDevices)) return 2;  // invalid argument
  *device = &g_devices[index];
  return 0;
}

__attribute__((visibility("default"))) int nvmlDeviceGetName(void* device, char* name,
                                                             unsigned int length) {
  const char* value = fn::kNames[AsDevice(device)->index];
  if (std::strlen(value) + 1 > length) return 7;  // insufficient size
  std::strcpy(name, value);
  return 0;
}

struct FakeUtilization {
  unsigned int gpu;
  unsigned int memory;
};
__attribute__((visibility("default"))) int nvmlDeviceGetUtilizationRates(void* device,
                                                                         FakeUtilization* u) {
  u->gpu = fn::kUtilPercent[AsDevice(device)->index];
  u->memory = fn::kMemUtilPercent[AsDevice(device)->index];
  return 0;
}

struct FakeMemory {
  unsigned long long total;  // NOLINT(runtime/int): NVML's type
  unsigned long long free;   // NOLINT(runtime/int)
  unsigned long long used;   // NOLINT(runtime/int)
};
__attribute__((visibility("default"))) int nvmlDeviceGetMemoryInfo(void* device, FakeMemory* m) {
  const int i = AsDevice(device)->index;
  m->total = fn::kMemTotalBytes[i];
  m->used = fn::kMemUsedBytes[i];
  m->free = m->total - m->used;
  return 0;
}

__attribute__((visibility("default"))) int nvmlDeviceGetPowerUsage(void* device,
                                                                   unsigned int* milliwatts) {
  const int i = AsDevice(device)->index;
  if (fn::kPowerMilliwatts[i] == 0) return 3;  // NVML_ERROR_NOT_SUPPORTED
  *milliwatts = fn::kPowerMilliwatts[i];
  return 0;
}

__attribute__((visibility("default"))) int nvmlDeviceGetClockInfo(void* device, int type,
                                                                  unsigned int* mhz) {
  const int i = AsDevice(device)->index;
  if (type == 1) {
    *mhz = fn::kSmClockMhz[i];
  } else if (type == 2) {
    *mhz = fn::kMemClockMhz[i];
  } else {
    return 2;
  }
  return 0;
}

}  // extern "C"
