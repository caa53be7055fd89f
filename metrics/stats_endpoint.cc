// --stats WHERE: parsing the endpoint, and the owner-only Unix socket it can name.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "common/log.h"
#include "metrics/stats_impl.h"

namespace sp::metrics {
namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Removes a leftover socket file from an earlier run; refuses to touch anything else.
void remove_stale_socket(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return;  // nothing there
  if (!S_ISSOCK(st.st_mode)) throw std::runtime_error("stats socket " + path + ": exists and is not a socket");
  Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
    throw std::runtime_error("stats socket " + path + ": in use by a running process");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw std::system_error(errno, std::generic_category(), "stats socket " + path + ": removing the stale file");
  log::info("stats socket ", path, ": removed a stale socket file");
}

}  // namespace

Fd listen_unix(const std::string& path, struct stat* bound) {
  remove_stale_socket(path);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw std::system_error(errno, std::generic_category(), "stats socket " + path);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // Owner-only from the moment the file exists: umask around bind (the only file this process
  // creates while it runs), then chmod to be sure whatever the umask was.
  mode_t old_mask = ::umask(0177);
  int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::umask(old_mask);
  if (rc != 0) throw std::system_error(err, std::generic_category(), "stats socket bind " + path);
  if (::chmod(path.c_str(), 0600) != 0 || ::listen(fd.get(), kListenBacklog) != 0 || ::lstat(path.c_str(), bound) != 0) {
    err = errno;
    ::unlink(path.c_str());
    throw std::system_error(err, std::generic_category(), "stats socket " + path);
  }
  return fd;
}

std::string StatsEndpoint::to_string() const {
  switch (kind) {
    case Kind::kOff: return "off";
    case Kind::kTcp: return tcp.to_string();
    case Kind::kUnix: return "unix:" + path;
  }
  return "";
}

StatsEndpoint parse_stats_endpoint(std::string_view text) {
  StatsEndpoint e;
  if (text == "off") return e;
  if (text.substr(0, 5) == "unix:") {
    e.kind = StatsEndpoint::Kind::kUnix;
    e.path = std::string(text.substr(5));
    if (e.path.empty()) throw std::invalid_argument("empty path in '" + std::string(text) + "' (expected unix:PATH)");
    if (e.path.size() >= sizeof(sockaddr_un::sun_path))
      throw std::invalid_argument("unix socket path longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                  " bytes: " + e.path);
    if (e.path.find('\0') != std::string::npos) throw std::invalid_argument("NUL in unix socket path");
    return e;
  }
  e.kind = StatsEndpoint::Kind::kTcp;
  if (all_digits(text)) {
    e.tcp = {"127.0.0.1", parse_port(text)};
  } else if (!text.empty() && text[0] == ':' && all_digits(text.substr(1))) {
    e.tcp = {"127.0.0.1", parse_port(text.substr(1))};
  } else {
    e.tcp = parse_host_port(text, kDefaultStatsPort);
    if (e.tcp.host.empty()) e.tcp.host = "127.0.0.1";
  }
  return e;
}

}  // namespace sp::metrics
