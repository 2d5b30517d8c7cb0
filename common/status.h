// Status helpers shared by every module. Fallible calls return absl::Status or
// absl::StatusOr<T>; these macros keep call sites short. gRPC conversion lives in
// grpc_status.h so that this header stays free of gRPC includes.
#ifndef LLMBENCH_COMMON_STATUS_H_
#define LLMBENCH_COMMON_STATUS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define LLMBENCH_CONCAT_INNER_(a, b) a##b
#define LLMBENCH_CONCAT_(a, b) LLMBENCH_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` yields a non-OK absl::Status.
#define LLMBENCH_RETURN_IF_ERROR(expr)                 \
  do {                                                 \
    if (absl::Status llmbench_status_ = (expr);        \
        !llmbench_status_.ok()) {                      \
      return llmbench_status_;                         \
    }                                                  \
  } while (false)

// `LLMBENCH_ASSIGN_OR_RETURN(auto x, MakeX());` assigns the value or returns the error.
#define LLMBENCH_ASSIGN_OR_RETURN(lhs, rexpr) \
  LLMBENCH_ASSIGN_OR_RETURN_IMPL_(LLMBENCH_CONCAT_(llmbench_statusor_, __LINE__), lhs, rexpr)
#define LLMBENCH_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                    \
  if (!tmp.ok()) return std::move(tmp).status();         \
  lhs = std::move(tmp).value()

#endif  // LLMBENCH_COMMON_STATUS_H_
