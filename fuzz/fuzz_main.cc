// libFuzzer entry: compiled once per target with LLMBENCH_FUZZ_ENTRY naming the function in
// fuzz_targets.h that the binary fuzzes.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_targets.h"

#ifndef LLMBENCH_FUZZ_ENTRY
#error "LLMBENCH_FUZZ_ENTRY must name a function of fuzz/fuzz_targets.h"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return llmbench::fuzz::LLMBENCH_FUZZ_ENTRY(data, size);
}
