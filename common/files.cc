#include "common/files.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace llmbench {

absl::StatusOr<bool> ReadToEndBounded(int fd, uint64_t max_bytes, std::string* out) {
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      return absl::InternalError(std::strerror(error));
    }
    if (n == 0) break;
    out->append(buffer, static_cast<size_t>(n));
    if (out->size() > max_bytes) {
      ::close(fd);
      return true;
    }
  }
  ::close(fd);
  return false;
}

absl::StatusOr<std::string> ReadFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::UnavailableError(absl::StrCat("cannot read ", path));
  return text.str();
}

absl::StatusOr<std::string> ReadFlagFile(const std::string& path, absl::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(flag, " ", path, ": cannot read: ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path, absl::string_view flag) {
  absl::StatusOr<std::string> pem = ReadFlagFile(path, flag);
  if (pem.ok() && pem->find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": not a PEM file"));
  }
  return pem;
}

absl::StatusOr<std::string> LoadToken(const std::string& token_file, const char* token_env) {
  if (!token_file.empty()) {
    absl::StatusOr<std::string> text = ReadFlagFile(token_file, "--token-file");
    if (!text.ok()) return text.status();
    std::string token(absl::StripAsciiWhitespace(*text));
    if (token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file ", token_file, ": the token file is empty"));
    }
    return token;
  }
  if (token_env == nullptr) return std::string();
  const char* value = std::getenv(token_env);
  if (value == nullptr) return std::string();
  std::string token(absl::StripAsciiWhitespace(value));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("$", token_env, " is set but empty"));
  }
  return token;
}

}  // namespace llmbench
