// The PROXY protocol header (common/proxy_protocol.*): what we send a backend, and the strict
// reader of what a load balancer in front sends us.
#include <gtest/gtest.h>

#include <string>

#include "common/address.h"
#include "common/proxy_protocol.h"

namespace sp::proxy_protocol {
namespace {

SocketAddress addr(const std::string& host, uint16_t port) {
  return resolve(HostPort{host, port}, false).front();
}

Header parse_text(const std::string& s) { return parse(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

constexpr char kSig[] = "\r\n\r\n\0\r\nQUIT\n";
std::string v2(const std::string& after_signature) { return std::string(kSig, 12) + after_signature; }

TEST(ProxyProtocol, V1AsTheSpecWritesIt) {
  EXPECT_EQ(encode_v1(addr("192.0.2.1", 51234), addr("198.51.100.2", 443)),
            "PROXY TCP4 192.0.2.1 198.51.100.2 51234 443\r\n");
  EXPECT_EQ(encode_v1(addr("2001:db8::1", 1), addr("::1", 65535)), "PROXY TCP6 2001:db8::1 ::1 1 65535\r\n");
  EXPECT_EQ(encode_v1(addr("192.0.2.1", 1), addr("::1", 2)), "PROXY UNKNOWN\r\n");
}

TEST(ProxyProtocol, V2IsTheBinaryHeaderWithTheAddresses) {
  std::string h = encode_v2(addr("192.0.2.1", 51234), addr("198.51.100.2", 443));
  ASSERT_EQ(h.size(), 28u);
  EXPECT_EQ(h.substr(0, 12), std::string(kSig, 12));
  EXPECT_EQ(static_cast<uint8_t>(h[12]), 0x21);  // version 2, PROXY
  EXPECT_EQ(static_cast<uint8_t>(h[13]), 0x11);  // AF_INET, STREAM
  EXPECT_EQ(h.substr(14, 2), std::string("\0\x0c", 2));
  EXPECT_EQ(h.substr(16, 4), std::string("\xc0\x00\x02\x01", 4));
  EXPECT_EQ(h.substr(24, 4), std::string("\xc8\x22\x01\xbb", 4));  // 51234, 443
  EXPECT_EQ(encode_v2(addr("2001:db8::1", 1), addr("::1", 2)).size(), 16u + 36u);
  EXPECT_EQ(static_cast<uint8_t>(encode_v2(addr("192.0.2.1", 1), addr("::1", 2))[12]), 0x20);  // LOCAL
}

TEST(ProxyProtocol, BothVersionsReadBackWhatWeSend) {
  for (auto [src, dst] : {std::pair{addr("192.0.2.1", 51234), addr("198.51.100.2", 443)},
                          std::pair{addr("2001:db8::7", 40000), addr("2001:db8::8", 80)}}) {
    for (const std::string& header : {encode_v1(src, dst), encode_v2(src, dst)}) {
      Header h = parse_text(header + "GET / HTTP/1.1\r\n");
      ASSERT_EQ(h.status, Header::Status::kDone) << h.error;
      EXPECT_EQ(h.length, header.size());
      ASSERT_TRUE(h.source && h.destination);
      EXPECT_EQ(h.source->to_string(), src.to_string());
      EXPECT_EQ(h.destination->to_string(), dst.to_string());
    }
  }
}

TEST(ProxyProtocol, APartialHeaderAsksForMore) {
  std::string full = "PROXY TCP4 192.0.2.1 198.51.100.2 51234 443\r\n";
  for (size_t n = 0; n < full.size(); ++n) EXPECT_EQ(parse_text(full.substr(0, n)).status, Header::Status::kNeedMore) << n;
  std::string bin = encode_v2(addr("192.0.2.1", 1), addr("192.0.2.2", 2));
  for (size_t n = 0; n < bin.size(); ++n) EXPECT_EQ(parse_text(bin.substr(0, n)).status, Header::Status::kNeedMore) << n;
}

TEST(ProxyProtocol, UnknownAndLocalKeepTheConnectionsOwnAddresses) {
  Header u = parse_text("PROXY UNKNOWN whatever follows\r\nrest");
  EXPECT_EQ(u.status, Header::Status::kDone);
  EXPECT_EQ(u.length, 32u);
  EXPECT_FALSE(u.source);
  Header l = parse_text(v2(std::string("\x20\x00\x00\x00", 4)));
  EXPECT_EQ(l.status, Header::Status::kDone);
  EXPECT_EQ(l.version, 2);
  EXPECT_FALSE(l.source);
  // TLVs after the addresses are skipped: the header is as long as it says.
  std::string with_tlv = v2(std::string("\x21\x11\x00\x10\xc0\x00\x02\x01\xc6\x33\x64\x02\x00\x01\x00\x02\x04\x00\x01x", 20));
  Header t = parse_text(with_tlv);
  ASSERT_EQ(t.status, Header::Status::kDone) << t.error;
  EXPECT_EQ(t.length, 32u);
}

TEST(ProxyProtocol, MalformedHeadersAreRefusedWithTheReason) {
  struct Case {
    std::string bytes;
    const char* says;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"GET / HTTP/1.1\r\n", "not a PROXY"},
           {"PROXX TCP4", "not a PROXY"},
           {"PROXY TCP4 192.0.2.1 198.51.100.2 51234\r\n", "6 fields"},
           {"PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n", "unknown protocol"},
           {"PROXY TCP4 ::1 ::1 1 2\r\n", "not an IPv4"},
           {"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "not an IPv6"},
           {"PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n", "port"},
           {"PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n", "port"},
           {"PROXY TCP4 1.2.3.4  1.2.3.4 1 2\r\n", "fields"},
           {"PROXY TCP4 1.2.3.4\n", "printable"},
           {"PROXY UNKNOWN \x12" "f\r\n", "printable"},  // the fuzzer's find
           {std::string("PROXY ").append(120, 'A'), "no CRLF"},
           {v2(std::string("\x11\x11\x00\x0c", 4)), "version 1"},
           {v2(std::string("\x22\x11\x00\x0c", 4)), "unknown command"},
           {v2(std::string("\x21\x12\x00\x0c", 4)), "not a stream"},
           {v2(std::string("\x21\x41\x00\x0c", 4)), "address family"},
           {v2(std::string("\x21\x21\x00\x0c", 4)), "shorter"},
           {v2(std::string("\x21\x11\x04\x01", 4)), "more than 1024"},
       }) {
    Header h = parse_text(c.bytes);
    EXPECT_EQ(h.status, Header::Status::kInvalid) << c.bytes;
    EXPECT_NE(h.error.find(c.says), std::string::npos) << c.bytes << " -> " << h.error;
  }
}

}  // namespace
}  // namespace sp::proxy_protocol
