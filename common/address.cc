#include "common/address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace sp {

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

bool SocketAddress::is_loopback() const {
  if (family() == AF_INET) {
    auto addr = ntohl(reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr.s_addr);
    return (addr >> 24) == 127;
  }
  if (family() == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
  }
  return false;
}

std::string SocketAddress::to_string() const {
  char host[INET6_ADDRSTRLEN] = "?";
  std::string out;
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, host, sizeof host);
    out.append(host);
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, host, sizeof host);
    out.append("[").append(host).append("]");
  } else {
    return "<unknown address family>";
  }
  out.append(":").append(std::to_string(port()));
  return out;
}

SocketAddress SocketAddress::from(const sockaddr* addr, socklen_t length) {
  SocketAddress out;
  out.length = std::min<socklen_t>(length, sizeof out.storage);
  std::memcpy(&out.storage, addr, out.length);
  return out;
}

std::string HostPort::to_string() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

uint16_t parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 65535)
    throw std::invalid_argument("invalid port '" + std::string(text) + "' (expected 0-65535)");
  return static_cast<uint16_t>(value);
}

HostPort parse_host_port(std::string_view text, uint16_t default_port) {
  HostPort out{std::string(), default_port};
  if (text.empty()) throw std::invalid_argument("empty address");
  for (char c : text) {
    // Also keeps NULs out, which C APIs like inet_pton would silently cut the text at.
    if (!std::isgraph(static_cast<unsigned char>(c)))
      throw std::invalid_argument("invalid address (control or space characters)");
  }
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      throw std::invalid_argument("invalid address '" + std::string(text) + "' (missing ']')");
    out.host = std::string(text.substr(1, close - 1));
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        throw std::invalid_argument("invalid address '" + std::string(text) + "' (junk after ']')");
      out.port = parse_port(rest.substr(1));
    }
    in6_addr probe;
    if (inet_pton(AF_INET6, out.host.c_str(), &probe) != 1)
      throw std::invalid_argument("invalid IPv6 address '" + out.host + "'");
    return out;
  }
  auto first = text.find(':');
  if (first != std::string_view::npos && text.find(':', first + 1) != std::string_view::npos) {
    out.host = std::string(text);  // bare IPv6 literal: no port possible without brackets
    in6_addr probe;
    if (inet_pton(AF_INET6, out.host.c_str(), &probe) != 1)
      throw std::invalid_argument("invalid IPv6 address '" + out.host + "' (use [addr]:port)");
    return out;
  }
  out.host = std::string(text.substr(0, first));
  if (first != std::string_view::npos) out.port = parse_port(text.substr(first + 1));
  if (out.host.empty()) throw std::invalid_argument("invalid address '" + std::string(text) + "' (no host)");
  for (char c : out.host) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    if (!ok) throw std::invalid_argument("invalid host name '" + out.host + "'");
  }
  // Digits and dots only is an IPv4 literal, never a DNS name (no top-level label is numeric):
  // one that inet_aton refuses (999.1.1.1) is a typo, not a name to look up and wait for.
  in_addr v4;
  if (out.host.find_first_not_of("0123456789.") == std::string::npos && inet_aton(out.host.c_str(), &v4) == 0)
    throw std::invalid_argument("invalid IPv4 address '" + out.host + "'");
  return out;
}

std::vector<SocketAddress> resolve(const HostPort& where, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* list = nullptr;
  std::string port = std::to_string(where.port);
  const char* host = where.host.empty() ? nullptr : where.host.c_str();
  int rc = getaddrinfo(host, port.c_str(), &hints, &list);
  if (rc != 0)
    throw std::runtime_error("cannot resolve '" + where.host + "': " + gai_strerror(rc));
  std::vector<SocketAddress> out;
  for (addrinfo* ai = list; ai; ai = ai->ai_next) {
    auto addr = SocketAddress::from(ai->ai_addr, ai->ai_addrlen);
    bool duplicate = false;
    for (const auto& seen : out)
      duplicate |= seen.length == addr.length && std::memcmp(&seen.storage, &addr.storage, addr.length) == 0;
    if (!duplicate) out.push_back(addr);
  }
  freeaddrinfo(list);
  if (out.empty()) throw std::runtime_error("cannot resolve '" + where.host + "': no addresses");
  return out;
}

}  // namespace sp
