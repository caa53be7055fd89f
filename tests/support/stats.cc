#include "tests/support/stats.h"

#include <sys/socket.h>

#include <string>

#include "tests/support/net.h"

namespace sp::test {

nlohmann::json stats_snapshot(uint16_t port) {
  try {
    Fd fd = connect_to(port, std::chrono::seconds(5));
    const char command[] = "stats\n";
    send_all(fd.get(), command, sizeof command - 1);
    ::shutdown(fd.get(), SHUT_WR);
    auto bytes = read_to_eof(fd.get());
    return nlohmann::json::parse(std::string(bytes.begin(), bytes.end()));
  } catch (const std::exception&) {
    return nlohmann::json::object();
  }
}

}  // namespace sp::test
