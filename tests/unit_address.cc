#include <gtest/gtest.h>

#include <stdexcept>

#include "common/address.h"

namespace sp {
namespace {

TEST(ParseHostPort, Ipv4WithAndWithoutPort) {
  auto a = parse_host_port("127.0.0.1", 9998);
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 9998);
  auto b = parse_host_port("10.1.2.3:80", 9998);
  EXPECT_EQ(b.host, "10.1.2.3");
  EXPECT_EQ(b.port, 80);
}

TEST(ParseHostPort, BracketedAndBareIpv6) {
  auto a = parse_host_port("[::1]:9997", 1);
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 9997);
  auto b = parse_host_port("[::1]", 5);
  EXPECT_EQ(b.port, 5);
  auto c = parse_host_port("fe80::1", 7);
  EXPECT_EQ(c.host, "fe80::1");
  EXPECT_EQ(c.port, 7);
  EXPECT_EQ(a.to_string(), "[::1]:9997");
}

TEST(ParseHostPort, HostNames) {
  auto a = parse_host_port("echo-server:9999", 1);
  EXPECT_EQ(a.host, "echo-server");
  EXPECT_EQ(a.port, 9999);
}

TEST(ParseHostPort, RejectsGarbageWithAReason) {
  for (const char* bad : {"", ":80", "[::1", "[::1]x", "[nothex]:1", "host:", "host:65536", "host:-1", "host:8o",
                          "a b", "1:2:3:zz", "[::1]:99999"}) {
    EXPECT_THROW(parse_host_port(bad, 1), std::invalid_argument) << bad;
  }
  // Found by fuzz_address: a NUL let inet_pton accept a prefix of the text.
  EXPECT_THROW(parse_host_port(std::string("fe80::1\0]x", 11), 1), std::invalid_argument);
  EXPECT_THROW(parse_host_port("host\t:80", 1), std::invalid_argument);
  try {
    parse_host_port("host:70000", 1);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("70000"), std::string::npos);
  }
}

TEST(ParseHostPort, DigitsAndDotsMustBeAnIpv4Address) {
  // Never a DNS name: refused here (exit 2 at the command line) rather than waited for.
  for (const char* bad : {"999.1.1.1", "1.2.3.4.5", "256.0.0.1:80", "1..2", "."}) {
    try {
      parse_host_port(bad, 1);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("invalid IPv4 address"), std::string::npos) << e.what();
    }
  }
  // inet_aton's shorter forms are addresses that getaddrinfo takes too.
  EXPECT_EQ(parse_host_port("127.1:80", 1).host, "127.1");
  EXPECT_EQ(parse_host_port("10.1.2.3", 1).host, "10.1.2.3");
  EXPECT_EQ(parse_host_port("1e100.example", 1).host, "1e100.example");
}

TEST(Resolve, NumericAndLocalhost) {
  auto v4 = resolve(HostPort{"127.0.0.1", 80}, false);
  ASSERT_EQ(v4.size(), 1u);
  EXPECT_EQ(v4[0].to_string(), "127.0.0.1:80");
  EXPECT_TRUE(v4[0].is_loopback());
  auto v6 = resolve(HostPort{"::1", 81}, false);
  EXPECT_EQ(v6[0].to_string(), "[::1]:81");
  EXPECT_TRUE(v6[0].is_loopback());
  auto any = resolve(HostPort{"0.0.0.0", 1}, true);
  EXPECT_FALSE(any[0].is_loopback());
  EXPECT_THROW(resolve(HostPort{"no-such-host.invalid", 1}, false), std::runtime_error);
}

}  // namespace
}  // namespace sp
