// Opening a dataset file safely: shared by the scenario loader (which checks the file exists)
// and the prompt builder (which reads it).
//
// Thread-safety: free functions.
#ifndef LLMBENCH_COORDINATOR_DATASET_FILE_H_
#define LLMBENCH_COORDINATOR_DATASET_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace llmbench::coordinator {

// Largest dataset file read (the whole file is held in memory while it is parsed): 1 GiB, which
// holds ShareGPT_V3_unfiltered_cleaned_split.json (~640 MB).
inline constexpr uint64_t kMaxDatasetBytes = uint64_t{1} << 30;

// Opens a dataset file for reading without blocking (a FIFO with no writer would hang a plain
// open) and checks that it is a regular file of at most kMaxDatasetBytes. The error says why,
// e.g. "not a regular file (a FIFO): a dataset must be a file" or "2147483648 bytes, over the
// 1 GiB limit for a dataset file"; a failed open gives strerror. The caller closes the fd.
absl::StatusOr<int> OpenDatasetFile(const std::string& resolved);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_DATASET_FILE_H_
