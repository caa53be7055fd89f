#include "tests/support/log_lines.h"

#include <sys/socket.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/socket.h"
#include "tests/support/net.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;

// key=value pairs after the message of a text line; a quoted value is a JSON string.
LogFields text_fields(const std::string& rest) {
  LogFields f;
  size_t i = 0;
  while (i < rest.size()) {
    size_t eq = rest.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = rest.substr(i, eq - i);
    size_t end = eq + 1;
    std::string value;
    if (end < rest.size() && rest[end] == '"') {
      for (++end; end < rest.size() && rest[end] != '"'; ++end)
        if (rest[end] == '\\') ++end;
      ++end;
      value = nlohmann::json::parse(rest.substr(eq + 1, end - eq - 1)).get<std::string>();
    } else {
      end = rest.find(' ', end);
      if (end == std::string::npos) end = rest.size();
      value = rest.substr(eq + 1, end - eq - 1);
    }
    f[key] = value;
    i = end + 1;
  }
  return f;
}

}  // namespace

bool starts_with_timestamp(const std::string& line) {
  static constexpr char kShape[] = "dddd-dd-ddTdd:dd:dd.dddZ ";  // d: a digit
  if (line.size() < kTimestampLength) return false;
  for (size_t i = 0; i < kTimestampLength; ++i) {
    bool digit = line[i] >= '0' && line[i] <= '9';
    if (kShape[i] == 'd' ? !digit : line[i] != kShape[i]) return false;
  }
  return true;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<LogFields> lines_with(const std::string& log, const std::string& format, const std::string& msg) {
  std::vector<LogFields> out;
  for (const std::string& line : lines_of(log)) {
    if (format == "json") {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || j.value("msg", "") != msg) continue;
      LogFields f;
      for (auto& [k, v] : j.items()) f[k] = v.is_string() ? v.get<std::string>() : v.dump();
      out.push_back(f);
      continue;
    }
    // "TIME proxy: LEVEL: REST"
    static const std::string kProgram = "proxy: ";
    if (!starts_with_timestamp(line) || line.compare(kTimestampLength, kProgram.size(), kProgram) != 0) continue;
    size_t level_at = kTimestampLength + kProgram.size(), colon = line.find(": ", level_at);
    if (colon == std::string::npos || colon == level_at) continue;
    std::string level = line.substr(level_at, colon - level_at), rest = line.substr(colon + 2);
    if (level.find_first_not_of("abcdefghijklmnopqrstuvwxyz") != std::string::npos) continue;
    if (rest.rfind(msg + " ", 0) != 0) continue;
    LogFields f = text_fields(rest.substr(msg.size() + 1));
    f["level"] = level;
    out.push_back(f);
  }
  return out;
}

std::vector<LogFields> sessions(ChildProcess& proxy, const std::string& format, size_t count) {
  std::vector<LogFields> found;
  for (int i = 0; i < 250; ++i) {
    found = lines_with(proxy.err(), format, "session");
    if (found.size() >= count) break;
    std::this_thread::sleep_for(20ms);
  }
  return found;
}

std::string loopback(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

std::unique_ptr<ChildProcess> quiet_proxy(uint16_t port, uint16_t remote, const std::vector<std::string>& extra) {
  auto proxy = std::make_unique<ChildProcess>(
      with_args({bin("proxy"), "-s", loopback(port), "-r", loopback(remote), "--mode", "rw", "-w", "1", "--stats", "off"},
                extra));
  for (int i = 0; i < 500 && proxy->err().find("listening on") == std::string::npos; ++i)
    std::this_thread::sleep_for(20ms);
  if (proxy->err().find("listening on") == std::string::npos)
    throw std::runtime_error("proxy did not start: " + proxy->err());
  return proxy;
}

Fd connect_bound(uint16_t port, std::string* local) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  SocketAddress any = resolve(HostPort{"127.0.0.1", 0}, false).front();
  if (!fd || ::bind(fd.get(), any.get(), any.length) != 0) throw std::runtime_error("bind 127.0.0.1:0");
  *local = local_address(fd.get()).to_string();
  timeval tv{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  SocketAddress to = resolve(HostPort{"127.0.0.1", port}, false).front();
  int rc = ::connect(fd.get(), to.get(), to.length);
  (void)rc;  // ECONNRESET here is the reset the test waits for
  return fd;
}

EchoStack::EchoStack(const std::vector<std::string>& proxy_args, const std::vector<std::string>& server_args)
    : server_port(free_port()), proxy_port(free_port()) {
  server = std::make_unique<ChildProcess>(
      with_args({bin("tcp_ping_server"), "-s", loopback(server_port), "-w", "1"}, server_args));
  if (!wait_for_port(server_port)) throw std::runtime_error("tcp_ping_server did not start: " + server->err());
  proxy = quiet_proxy(proxy_port, server_port, proxy_args);
}

}  // namespace sp::test
