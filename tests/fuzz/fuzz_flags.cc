// libFuzzer target: the proxy's command line. Arguments are the input split at NUL bytes; any
// input must parse or be rejected with a message, never crash or throw.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "server/proxy/proxy_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args{"proxy"};
  std::string current;
  for (size_t i = 0; i < size && args.size() < 64; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  args.push_back(current);
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  auto result = sp::try_parse_proxy_command_line(static_cast<int>(argv.size()), argv.data());
  if (auto* error = std::get_if<std::string>(&result); error && error->empty()) std::abort();  // errors say why
  return 0;
}
