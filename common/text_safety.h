// Text that came from outside the process (engine error messages, names a peer chose) made safe
// to store and print.
//
//   EscapeControlCharacters: for a terminal or a log line. Every C0 control character (tab
//   included: it hides text as well), DEL and every C1 control (U+0080..U+009F, as UTF-8)
//   becomes a visible escape ("\x1b", "\u009b"), so an engine cannot move the cursor, clear
//   the screen, rewrite earlier lines or set the window title of whoever reads the output.
//   Everything else, other UTF-8 included, is kept as it is.
//   RedactSecret: every occurrence of a secret (an engine API key the engine echoed back)
//   becomes kRedacted.
//
// Thread-safety: pure functions.
#ifndef LLMBENCH_COMMON_TEXT_SAFETY_H_
#define LLMBENCH_COMMON_TEXT_SAFETY_H_

#include <string>
#include <string_view>

namespace llmbench {

inline constexpr char kRedacted[] = "[redacted]";

std::string EscapeControlCharacters(std::string_view text);
void AppendEscapedControlCharacters(std::string_view text, std::string* out);

// Replaces every occurrence of `secret` in `*text` with kRedacted, and a tail of `*text` that is
// the start of `secret` (8 bytes or more: a message cut to a bounded length in the middle of
// the secret); true when there was one. An empty secret changes nothing.
bool RedactSecret(std::string* text, std::string_view secret);

}  // namespace llmbench

#endif  // LLMBENCH_COMMON_TEXT_SAFETY_H_
