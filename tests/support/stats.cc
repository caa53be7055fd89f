#include "tests/support/stats.h"

#include <sstream>

#include <sys/socket.h>

#include <string>
#include <thread>

#include "tests/support/net.h"
#include "tests/support/process.h"

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

bool wait_until_no_sessions(uint16_t port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    auto snap = stats_snapshot(port);
    if (snap.contains("totals") && snap["totals"]["connections_active"] == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
}

uint64_t worker_sum(const nlohmann::json& snap, const char* name) {
  uint64_t sum = 0;
  for (const auto& w : snap.value("workers", nlohmann::json::array())) sum += w["counters"].value(name, uint64_t{0});
  return sum;
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::string stats_diagnosis(uint16_t port, int pid) {
  std::string p = std::to_string(port);
  std::string command = "ss -tanoi '( sport = :" + p + " or dport = :" + p + " )'";
  if (pid > 0)
    command += "; for t in /proc/" + std::to_string(pid) +
               "/task/*; do echo \"$(cat $t/comm) $(cut -d' ' -f3 $t/stat)\" $(head -n 4 $t/stack 2>/dev/null | cut -d' ' -f2); done";
  return "\nthe stats socket's connections and the proxy's threads (name, state, kernel stack):\n" +
         sh(command, std::chrono::seconds(5)).out;
}

}  // namespace sp::test
