// Reading whole files, and the files and variables holding secrets and certificates, the same
// way everywhere: the coordinator (--tls-ca/--tls-cert/--tls-key/--token-file, $LLMBENCH_TOKEN,
// stored results) and the worker (its TLS flags, --token-file, $LLMBENCH_TOKEN). Errors name the
// flag and the file, never a secret.
//
// Thread-safety: free functions (LoadToken reads the environment).
#ifndef LLMBENCH_COMMON_FILES_H_
#define LLMBENCH_COMMON_FILES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llmbench {

// The whole file. NotFound "cannot read PATH: <strerror>".
absl::StatusOr<std::string> ReadFileText(const std::string& path);

// Reads the open descriptor `fd` to its end, appending to `out`, and closes it. Stops once
// `out` holds more than `max_bytes` (a file that grew past a limit checked before) and returns
// true then, else false. A read error (EINTR retried) returns Internal "<strerror>" for the
// caller to put after the file's name.
absl::StatusOr<bool> ReadToEndBounded(int fd, uint64_t max_bytes, std::string* out);

// The whole file of a command-line flag. NotFound "FLAG PATH: cannot read: <strerror>".
absl::StatusOr<std::string> ReadFlagFile(const std::string& path, absl::string_view flag);

// A PEM file: ReadFlagFile, then InvalidArgument "FLAG PATH: not a PEM file" without a
// "-----BEGIN " line.
absl::StatusOr<std::string> ReadPemFile(const std::string& path, absl::string_view flag);

// The shared token: from `token_file` (given as --token-file; surrounding whitespace trimmed,
// InvalidArgument "--token-file PATH: the token file is empty" when nothing is left), else
// from $`token_env` when it names a set variable (InvalidArgument "$NAME is set but empty"),
// else "" (no token).
absl::StatusOr<std::string> LoadToken(const std::string& token_file, const char* token_env);

}  // namespace llmbench

#endif  // LLMBENCH_COMMON_FILES_H_
