#include "coordinator/dataset_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace llmbench::coordinator {

absl::StatusOr<int> OpenDatasetFile(const std::string& resolved) {
  const int fd = ::open(resolved.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return absl::InvalidArgumentError(std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    return absl::InvalidArgumentError(std::strerror(error));
  }
  const char* kind = S_ISDIR(info.st_mode)    ? nullptr
                     : S_ISFIFO(info.st_mode) ? "a FIFO"
                     : S_ISCHR(info.st_mode)  ? "a character device"
                     : S_ISBLK(info.st_mode)  ? "a block device"
                     : S_ISSOCK(info.st_mode) ? "a socket"
                                              : "";
  if (S_ISDIR(info.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(std::strerror(EISDIR));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("not a regular file (", kind, "): a dataset must be a file"));
  }
  if (static_cast<uint64_t>(info.st_size) > kMaxDatasetBytes) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(
        info.st_size, " bytes, over the 1 GiB limit for a dataset file"));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

}  // namespace llmbench::coordinator
