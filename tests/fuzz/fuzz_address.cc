// libFuzzer target: address parsing must either reject with std::invalid_argument or produce a
// HostPort that prints and re-parses to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "common/address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  sp::HostPort parsed;
  try {
    parsed = sp::parse_host_port(text, 9998);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  sp::HostPort again = sp::parse_host_port(parsed.to_string(), 1);
  if (again.host != parsed.host || again.port != parsed.port) std::abort();
  try {
    sp::parse_port(text);
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
