// libFuzzer target: the stats socket's input side. Any byte stream fed in arbitrary pieces must
// split into bounded lines and parse into a command or a printable error, never crash or hang.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/stats_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sp::metrics::StatsLimits limits;
  limits.max_line = 256;  // small, so the over-long path is reached often
  sp::metrics::LineReader reader(limits.max_line);
  std::string_view all(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> lines;
  // The first byte decides the piece size, as a socket would deliver the stream in reads.
  size_t piece = size ? 1 + data[0] % 64 : 1;
  bool usable = true;
  for (size_t at = 0; at < all.size() && usable; at += piece) usable = reader.feed(all.substr(at, piece), lines);
  if (usable) lines.push_back(reader.take_rest());
  if (reader.pending() > limits.max_line) std::abort();
  for (const auto& line : lines) {
    if (line.size() > limits.max_line || line.find('\n') != std::string::npos) std::abort();
    sp::metrics::Command c = sp::metrics::parse_command(line, limits);
    if (c.kind == sp::metrics::CommandKind::kError) {
      if (c.error.empty()) std::abort();
      for (unsigned char ch : c.error)
        if (ch < 0x20 || ch > 0x7e) std::abort();  // errors go back into JSON: printable only
    }
    if (c.kind == sp::metrics::CommandKind::kWatch && (c.watch_ms < limits.min_watch_ms || c.watch_ms > limits.max_watch_ms))
      std::abort();
  }
  return 0;
}
