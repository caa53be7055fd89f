// Untrusted text made safe to show (in an error reply, a log line): printable ASCII only, cut to
// `max` bytes with "..." after.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sp {

inline std::string printable(std::string_view text, size_t max) {
  std::string out;
  for (char c : text.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > max) out += "...";
  return out;
}

}  // namespace sp
