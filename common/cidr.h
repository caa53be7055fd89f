// Address prefixes for source rules: "10.0.0.0/8", "2001:db8::/32", or one address ("192.0.2.7",
// "::1": the whole address). IPv4 is kept as IPv4-mapped IPv6 (::ffff:a.b.c.d), so one rule matches
// a client whether a dual-stack listener reports it as IPv4 or as mapped.
//
// Pure code: no sockets.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/address.h"

namespace sp {

// The 16 bytes of an address as IPv6 (IPv4 mapped): the key of everything per source.
using AddressBytes = std::array<uint8_t, 16>;
AddressBytes address_bytes(const SocketAddress& address);

struct Cidr {
  AddressBytes prefix{};
  int bits = 0;  // of the 128, counting the 96 of the IPv4 mapping for an IPv4 prefix

  bool contains(const AddressBytes& address) const;
  std::string to_string() const;
};

// Throws std::invalid_argument naming what is wrong ("10.0.0.0/33: prefix length over 32").
Cidr parse_cidr(std::string_view text);

}  // namespace sp
