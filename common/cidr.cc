#include "common/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace sp {
namespace {

constexpr int kMappedBits = 96;  // ::ffff:0:0/96 holds IPv4

AddressBytes mapped(const in_addr& v4) {
  AddressBytes b{};
  b[10] = b[11] = 0xff;
  std::memcpy(b.data() + 12, &v4, 4);
  return b;
}

bool is_mapped(const AddressBytes& b) {
  for (int i = 0; i < 10; ++i)
    if (b[static_cast<size_t>(i)]) return false;
  return b[10] == 0xff && b[11] == 0xff;
}

}  // namespace

AddressBytes address_bytes(const SocketAddress& address) {
  if (address.family() == AF_INET) return mapped(reinterpret_cast<const sockaddr_in*>(address.get())->sin_addr);
  AddressBytes b{};
  if (address.family() == AF_INET6)
    std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in6*>(address.get())->sin6_addr, 16);
  return b;
}

bool Cidr::contains(const AddressBytes& address) const {
  int full = bits / 8, rest = bits % 8;
  if (std::memcmp(address.data(), prefix.data(), static_cast<size_t>(full)) != 0) return false;
  if (!rest) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (address[static_cast<size_t>(full)] & mask) == (prefix[static_cast<size_t>(full)] & mask);
}

std::string Cidr::to_string() const {
  char text[INET6_ADDRSTRLEN];
  bool v4 = is_mapped(prefix) && bits >= kMappedBits;
  if (v4) inet_ntop(AF_INET, prefix.data() + 12, text, sizeof text);
  else inet_ntop(AF_INET6, prefix.data(), text, sizeof text);
  return std::string(text) + "/" + std::to_string(v4 ? bits - kMappedBits : bits);
}

Cidr parse_cidr(std::string_view text) {
  std::string whole(text);
  size_t slash = text.find('/');
  std::string host(text.substr(0, slash));
  Cidr c;
  int max_bits;
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    c.prefix = mapped(v4);
    max_bits = 32;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    std::memcpy(c.prefix.data(), &v6, 16);
    max_bits = 128;
  } else {
    throw std::invalid_argument(whole + ": not an IPv4 or IPv6 address (names are not resolved here)");
  }
  int length = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || length < 0)
      throw std::invalid_argument(whole + ": the prefix length is not a number");
    if (length > max_bits)
      throw std::invalid_argument(whole + ": prefix length over " + std::to_string(max_bits));
  }
  c.bits = max_bits == 32 ? length + kMappedBits : length;
  // Host bits set ("10.1.2.3/8") are a typo as often as not: refused, as iproute2 does.
  Cidr masked = c;
  for (int i = c.bits; i < 128; ++i) masked.prefix[static_cast<size_t>(i / 8)] &= static_cast<uint8_t>(~(0x80 >> (i % 8)));
  if (masked.prefix != c.prefix) throw std::invalid_argument(whole + ": host bits set (did you mean " + masked.to_string() + "?)");
  return c;
}

}  // namespace sp
