#include "common/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string_view>
#include <vector>

namespace sp::proxy_protocol {
namespace {

constexpr char kSignature[12] = {'\r', '\n', '\r', '\n', '\0', '\r', '\n', 'Q', 'U', 'I', 'T', '\n'};
constexpr std::string_view kV1Prefix = "PROXY ";
constexpr uint8_t kCommandLocal = 0x0, kCommandProxy = 0x1;
constexpr uint8_t kFamilyUnspec = 0x0, kFamilyInet = 0x1, kFamilyInet6 = 0x2, kFamilyUnix = 0x3;
constexpr uint8_t kProtoUnspec = 0x0, kProtoStream = 0x1;

Header invalid(std::string why) {
  Header h;
  h.status = Header::Status::kInvalid;
  h.error = std::move(why);
  return h;
}

// The text of an address without its port: "192.0.2.1", "2001:db8::1".
std::string host_text(const SocketAddress& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.family() == AF_INET) ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a.get())->sin_addr, buf, sizeof buf);
  else ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(a.get())->sin6_addr, buf, sizeof buf);
  return buf;
}

bool same_ip_family(const SocketAddress& a, const SocketAddress& b) {
  return a.family() == b.family() && (a.family() == AF_INET || a.family() == AF_INET6);
}

SocketAddress make_address(int family, const uint8_t* ip, uint16_t port) {
  sockaddr_storage storage{};
  socklen_t length;
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    std::memcpy(&in->sin_addr, ip, 4);
    in->sin_port = htons(port);
    length = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    std::memcpy(&in6->sin6_addr, ip, 16);
    in6->sin6_port = htons(port);
    length = sizeof(sockaddr_in6);
  }
  return SocketAddress::from(reinterpret_cast<const sockaddr*>(&storage), length);
}

// A decimal port as v1 writes it: 1 to 5 digits, no leading zero (but "0"), at most 65535.
std::optional<uint16_t> v1_port(std::string_view s) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

Header parse_v1(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), std::min(size, kMaxV1));
  size_t end = text.find("\r\n");
  // Every byte before the CRLF printable, UNKNOWN's free text included: so that a header read in
  // pieces is judged as it is read whole (the fuzzer's first find: "UNKNOWN \x12" refused in
  // pieces, accepted whole).
  for (char c : text.substr(0, end))
    if (c != '\r' && (c < ' ' || c > '~')) return invalid("PROXY v1: a byte that is not printable ASCII before the CRLF");
  if (end == std::string_view::npos) {
    if (size >= kMaxV1) return invalid("PROXY v1: no CRLF in the first 107 bytes");
    return {};
  }
  std::vector<std::string_view> fields;
  std::string_view line = text.substr(0, end);
  for (size_t pos = 0;;) {
    size_t space = line.find(' ', pos);
    fields.push_back(line.substr(pos, space == std::string_view::npos ? std::string_view::npos : space - pos));
    if (space == std::string_view::npos) break;
    pos = space + 1;
  }
  Header h;
  h.status = Header::Status::kDone;
  h.version = 1;
  h.length = end + 2;
  if (fields.size() >= 2 && fields[1] == "UNKNOWN") return h;  // the rest of the line is to be ignored
  if (fields.size() != 6) return invalid("PROXY v1: expected 6 fields, got " + std::to_string(fields.size()));
  int family = fields[1] == "TCP4" ? AF_INET : fields[1] == "TCP6" ? AF_INET6 : 0;
  if (!family) return invalid("PROXY v1: unknown protocol '" + std::string(fields[1]) + "'");
  uint8_t ip[2][16];
  for (int i = 0; i < 2; ++i) {
    std::string host(fields[2 + i]);
    if (::inet_pton(family, host.c_str(), ip[i]) != 1)
      return invalid("PROXY v1: '" + host + "' is not an " + (family == AF_INET ? "IPv4" : "IPv6") + " address");
  }
  auto sport = v1_port(fields[4]), dport = v1_port(fields[5]);
  if (!sport || !dport) return invalid("PROXY v1: a port is not a decimal number 0..65535");
  h.source = make_address(family, ip[0], *sport);
  h.destination = make_address(family, ip[1], *dport);
  return h;
}

Header parse_v2(const uint8_t* data, size_t size) {
  if (size < 16) return {};
  uint8_t version = data[12] >> 4, command = data[12] & 0xf;
  uint8_t family = data[13] >> 4, protocol = data[13] & 0xf;
  size_t body = (size_t{data[14]} << 8) | data[15];
  if (version != 2) return invalid("PROXY v2: version " + std::to_string(version));
  if (command != kCommandLocal && command != kCommandProxy) return invalid("PROXY v2: unknown command " + std::to_string(command));
  if (body > kMaxV2Body) return invalid("PROXY v2: " + std::to_string(body) + " bytes of addresses and TLVs, more than 1024");
  if (family > kFamilyUnix) return invalid("PROXY v2: unknown address family " + std::to_string(family));
  if (protocol != kProtoUnspec && protocol != kProtoStream) return invalid("PROXY v2: not a stream (TCP) connection");
  size_t need = family == kFamilyInet ? 12 : family == kFamilyInet6 ? 36 : family == kFamilyUnix ? 216 : 0;
  if (command == kCommandProxy && body < need) return invalid("PROXY v2: addresses shorter than their family needs");
  if (size < 16 + body) return {};
  Header h;
  h.status = Header::Status::kDone;
  h.version = 2;
  h.length = 16 + body;
  // LOCAL (the balancer's own health check), UNSPEC and unix sockets: the connection's addresses stand.
  if (command == kCommandLocal || protocol == kProtoUnspec || (family != kFamilyInet && family != kFamilyInet6)) return h;
  const uint8_t* a = data + 16;
  size_t ip = family == kFamilyInet ? 4 : 16;
  int af = family == kFamilyInet ? AF_INET : AF_INET6;
  auto port_at = [](const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); };
  h.source = make_address(af, a, port_at(a + 2 * ip));
  h.destination = make_address(af, a + ip, port_at(a + 2 * ip + 2));
  return h;
}

}  // namespace

std::string encode_v1(const SocketAddress& source, const SocketAddress& destination) {
  if (!same_ip_family(source, destination)) return "PROXY UNKNOWN\r\n";
  return std::string("PROXY ") + (source.family() == AF_INET ? "TCP4 " : "TCP6 ") + host_text(source) + " " +
         host_text(destination) + " " + std::to_string(source.port()) + " " + std::to_string(destination.port()) + "\r\n";
}

std::string encode_v2(const SocketAddress& source, const SocketAddress& destination) {
  std::string out(kSignature, sizeof kSignature);
  if (!same_ip_family(source, destination)) {
    out += {static_cast<char>(0x20 | kCommandLocal), static_cast<char>(kFamilyUnspec << 4), '\0', '\0'};
    return out;
  }
  bool v4 = source.family() == AF_INET;
  uint16_t body = v4 ? 12 : 36;
  out += {static_cast<char>(0x20 | kCommandProxy), static_cast<char>(((v4 ? kFamilyInet : kFamilyInet6) << 4) | kProtoStream),
          static_cast<char>(body >> 8), static_cast<char>(body & 0xff)};
  for (const SocketAddress* a : {&source, &destination}) {
    if (v4) out.append(reinterpret_cast<const char*>(&reinterpret_cast<const sockaddr_in*>(a->get())->sin_addr), 4);
    else out.append(reinterpret_cast<const char*>(&reinterpret_cast<const sockaddr_in6*>(a->get())->sin6_addr), 16);
  }
  for (const SocketAddress* a : {&source, &destination}) out += {static_cast<char>(a->port() >> 8), static_cast<char>(a->port() & 0xff)};
  return out;
}

Header parse(const uint8_t* data, size_t size) {
  if (size == 0) return {};
  if (data[0] == 'P') {
    size_t n = std::min(size, kV1Prefix.size());
    if (std::memcmp(data, kV1Prefix.data(), n) != 0) return invalid("not a PROXY protocol header");
    return size < kV1Prefix.size() ? Header{} : parse_v1(data, size);
  }
  size_t n = std::min(size, sizeof kSignature);
  if (std::memcmp(data, kSignature, n) != 0) return invalid("not a PROXY protocol header");
  return parse_v2(data, size);
}

}  // namespace sp::proxy_protocol
