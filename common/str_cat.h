// Cat(): string concatenation that accepts std::string_view (Debian's Abseil 20220623 has its
// own absl::string_view, so absl::StrCat rejects std::string_view arguments; see
// common/absl_string_view.h for passing one view to an Abseil function). For code that builds
// messages from std::string_view pieces (the simulator, the simdjson-based tokenizer reader).
// Thread-safety: stateless.
#ifndef LLMBENCH_COMMON_STR_CAT_H_
#define LLMBENCH_COMMON_STR_CAT_H_

#include <string>
#include <string_view>
#include <type_traits>

namespace llmbench {
namespace internal {

template <typename T>
void AppendPiece(std::string& out, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    out.append(v ? "true" : "false");
  } else if constexpr (std::is_integral_v<T>) {
    out.append(std::to_string(v));
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    out.append(std::string_view(v));
  } else {
    out.append(v.data(), v.size());  // absl::string_view and friends
  }
}

}  // namespace internal

template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (internal::AppendPiece(out, args), ...);
  return out;
}

}  // namespace llmbench

#endif  // LLMBENCH_COMMON_STR_CAT_H_
