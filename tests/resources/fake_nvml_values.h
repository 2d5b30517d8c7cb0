// The fixed values the fake libnvidia-ml.so.1 (fake_nvml.cc) reports, shared with the tests
// that check them. Device 1 reports no power reading (NVML_ERROR_NOT_SUPPORTED).
#ifndef LLMBENCH_TESTS_RESOURCES_FAKE_NVML_VALUES_H_
#define LLMBENCH_TESTS_RESOURCES_FAKE_NVML_VALUES_H_

namespace llmbench::fake_nvml {

inline constexpr int kDevices = 2;
inline constexpr const char* kNames[kDevices] = {"Fake H100 80GB", "Fake L4"};
inline constexpr unsigned int kUtilPercent[kDevices] = {87, 12};
inline constexpr unsigned int kMemUtilPercent[kDevices] = {41, 3};
inline constexpr unsigned long long kMemTotalBytes[kDevices] = {  // NOLINT(runtime/int)
    85899345920ull, 24159191040ull};
inline constexpr unsigned long long kMemUsedBytes[kDevices] = {  // NOLINT(runtime/int)
    64424509440ull, 1073741824ull};
inline constexpr unsigned int kPowerMilliwatts[kDevices] = {612345, 0};  // 0 = not supported
inline constexpr unsigned int kSmClockMhz[kDevices] = {1980, 2040};
inline constexpr unsigned int kMemClockMhz[kDevices] = {2619, 6251};

}  // namespace llmbench::fake_nvml

#endif  // LLMBENCH_TESTS_RESOURCES_FAKE_NVML_VALUES_H_
