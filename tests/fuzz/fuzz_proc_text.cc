// libFuzzer target: the parsers of /proc and /proc/sys text (metrics/proc.h) take any bytes
// without reading past them, and what they return stays within the text they were given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "metrics/proc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace proc = sp::metrics::proc;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto ticks = proc::parse_stat(text); ticks && size < 20) std::abort();  // "1 (x) S" and 11 more fields
  proc::parse_status_field(text, "Threads");
  proc::stat_field(text, 14);
  proc::parse_sockstat_tcp_pages(text);
  for (int mark = 0; mark < 4; ++mark) proc::parse_tcp_mem_mark(text, mark);
  if (proc::parse_protocols_tcp_pressure(text) && text.find("TCP") == std::string_view::npos) std::abort();
  return 0;
}
