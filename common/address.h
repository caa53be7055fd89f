// Socket addresses: parsing "host", "host:port", "[v6]:port", resolving names, printing.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sp {

// A resolved IPv4 or IPv6 socket address, a plain value.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  uint16_t port() const;
  bool is_loopback() const;
  std::string to_string() const;  // "127.0.0.1:9998", "[::1]:9998"

  static SocketAddress from(const sockaddr* addr, socklen_t length);
};

// A host (name, IPv4 or IPv6 literal without brackets) and a port, not yet resolved.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string to_string() const;  // brackets an IPv6 literal
};

// Parses "HOST", "HOST:PORT", "[V6]", "[V6]:PORT" or a bare IPv6 literal; a missing port is
// default_port. Throws std::invalid_argument with a message naming the bad part.
HostPort parse_host_port(std::string_view text, uint16_t default_port);

// Parses a decimal port 0..65535. Throws std::invalid_argument.
uint16_t parse_port(std::string_view text);

// Resolves with getaddrinfo (numeric literals never touch DNS). passive: for bind(), so an
// empty host means the wildcard. Throws std::runtime_error naming the host and the resolver error.
std::vector<SocketAddress> resolve(const HostPort& where, bool passive);

}  // namespace sp
