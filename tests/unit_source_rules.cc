// Source rules: address prefixes (common/cidr.*) and the per-source decisions
// (server/shell/source_rules.*) with the clock passed in.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "common/address.h"
#include "common/cidr.h"
#include "server/shell/source_rules.h"

namespace sp {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

AddressBytes ip(const std::string& host) { return address_bytes(resolve(HostPort{host, 1}, false).front()); }

TEST(Cidr, ParsesPrefixesAndSingleAddressesOfBothFamilies) {
  EXPECT_EQ(parse_cidr("10.0.0.0/8").to_string(), "10.0.0.0/8");
  EXPECT_EQ(parse_cidr("192.0.2.7").to_string(), "192.0.2.7/32");
  EXPECT_EQ(parse_cidr("2001:db8::/32").to_string(), "2001:db8::/32");
  EXPECT_EQ(parse_cidr("::1").to_string(), "::1/128");
  EXPECT_EQ(parse_cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
  EXPECT_EQ(parse_cidr("::/0").to_string(), "::/0");
}

TEST(Cidr, RefusesWhatIsNotAPrefixAndSaysWhy) {
  auto why = [](const char* text) {
    try {
      parse_cidr(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(why("10.0.0.0/33"), "10.0.0.0/33: prefix length over 32");
  EXPECT_EQ(why("2001:db8::/129"), "2001:db8::/129: prefix length over 128");
  EXPECT_EQ(why("10.1.2.3/8"), "10.1.2.3/8: host bits set (did you mean 10.0.0.0/8?)");
  EXPECT_EQ(why("10.0.0.0/"), "10.0.0.0/: the prefix length is not a number");
  EXPECT_EQ(why("10.0.0.0/8x"), "10.0.0.0/8x: the prefix length is not a number");
  EXPECT_EQ(why("example.com"), "example.com: not an IPv4 or IPv6 address (names are not resolved here)");
  EXPECT_EQ(why(""), ": not an IPv4 or IPv6 address (names are not resolved here)");
}

TEST(Cidr, ContainsExactlyItsRangeAndIPv4MatchesMappedToo) {
  Cidr net = parse_cidr("10.20.0.0/14");  // 10.20.0.0 - 10.23.255.255: a boundary inside a byte
  EXPECT_TRUE(net.contains(ip("10.20.0.0")));
  EXPECT_TRUE(net.contains(ip("10.23.255.255")));
  EXPECT_FALSE(net.contains(ip("10.24.0.0")));
  EXPECT_FALSE(net.contains(ip("10.19.255.255")));
  EXPECT_TRUE(net.contains(ip("::ffff:10.21.1.1")));  // a dual-stack listener's view of an IPv4 client
  EXPECT_FALSE(net.contains(ip("2001:db8::1")));
  EXPECT_TRUE(parse_cidr("0.0.0.0/0").contains(ip("203.0.113.9")));
  EXPECT_FALSE(parse_cidr("0.0.0.0/0").contains(ip("2001:db8::1")));
  EXPECT_TRUE(parse_cidr("::/0").contains(ip("203.0.113.9")));
  EXPECT_TRUE(parse_cidr("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
  EXPECT_FALSE(parse_cidr("2001:db8::/32").contains(ip("2001:db9::1")));
}

TEST(SourceRules, DenyIsCheckedBeforeAllow) {
  SourceRuleOptions o;
  o.allow = {parse_cidr("10.0.0.0/8")};
  o.deny = {parse_cidr("10.6.6.0/24")};
  SourceRules rules(o);
  EXPECT_EQ(rules.admit(ip("10.1.1.1"), 0), SourceRules::Verdict::kAdmitted);
  EXPECT_EQ(rules.admit(ip("10.6.6.6"), 0), SourceRules::Verdict::kDenied);
  EXPECT_EQ(rules.admit(ip("192.0.2.1"), 0), SourceRules::Verdict::kDenied);  // not allowed
  EXPECT_EQ(rules.tracked(), 0u) << "no cap and no rate: nothing is kept per source";
}

TEST(SourceRules, ACapCountsLiveConnectionsPerAddress) {
  SourceRuleOptions o;
  o.max_per_source = 2;
  SourceRules rules(o);
  AddressBytes a = ip("192.0.2.1"), b = ip("192.0.2.2");
  EXPECT_EQ(rules.admit(a, 0), SourceRules::Verdict::kAdmitted);
  EXPECT_EQ(rules.admit(a, 0), SourceRules::Verdict::kAdmitted);
  EXPECT_EQ(rules.admit(a, 0), SourceRules::Verdict::kOverSourceCap);
  EXPECT_EQ(rules.admit(b, 0), SourceRules::Verdict::kAdmitted);
  rules.release(a);
  EXPECT_EQ(rules.admit(a, 0), SourceRules::Verdict::kAdmitted);
  rules.release(a);
  rules.release(a);
  rules.release(b);
  EXPECT_EQ(rules.tracked(), 0u) << "an address with no live connection is forgotten";
}

TEST(SourceRules, ARateIsATokenBucketOfThatSize) {
  SourceRuleOptions o;
  o.rate_per_source = 4;
  SourceRules rules(o);
  AddressBytes a = ip("192.0.2.1");
  int admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += rules.admit(a, kSecond) == SourceRules::Verdict::kAdmitted;
  EXPECT_EQ(admitted, 4) << "a burst of the rate";
  EXPECT_EQ(rules.admit(a, kSecond + kSecond / 8), SourceRules::Verdict::kOverSourceRate) << "half a token";
  EXPECT_EQ(rules.admit(a, kSecond + kSecond / 4), SourceRules::Verdict::kAdmitted) << "one token";
  EXPECT_EQ(rules.admit(ip("192.0.2.2"), kSecond), SourceRules::Verdict::kAdmitted) << "per address";
}

TEST(SourceRules, TheMapForgetsIdleSourcesSoManyAddressesCannotGrowIt) {
  SourceRuleOptions o;
  o.rate_per_source = 10;
  SourceRules rules(o);
  for (int i = 0; i < 20'000; ++i) {
    std::string host = "2001:db8::" + std::to_string(i % 10) + ":" + std::to_string(i / 10 + 1);
    rules.admit(ip(host), kSecond + int64_t{i} * kSecond / 10);  // 10 new addresses every 0.1 s
  }
  EXPECT_LT(rules.tracked(), 8192u) << "only the sources of about the last second (and 4096 between sweeps)";
}

}  // namespace
}  // namespace sp
