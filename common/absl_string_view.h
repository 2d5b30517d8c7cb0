// std::string_view -> absl::string_view, for the Abseil functions that take only the latter.
//
// Debian 12's Abseil (LTS 20220623) is built with ABSL_OPTION_USE_STD_STRING_VIEW 0
// (absl/base/options.h): absl::string_view is its own class there, not an alias of
// std::string_view, and neither converts to the other, so absl::StrCat, StrAppend, StrSplit,
// StartsWith, ... do not accept a std::string_view. ToAbsl() is the one conversion (no copy)
// in place of a private shim per file. With an Abseil that aliases std::string_view
// (ABSL_USES_STD_STRING_VIEW) it is the identity and the calls can go.
//
// Thread-safety: a pure function.
#ifndef LLMBENCH_COMMON_ABSL_STRING_VIEW_H_
#define LLMBENCH_COMMON_ABSL_STRING_VIEW_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace llmbench {

inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace llmbench

#endif  // LLMBENCH_COMMON_ABSL_STRING_VIEW_H_
