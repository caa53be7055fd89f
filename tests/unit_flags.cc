#include <gtest/gtest.h>

#include <vector>

#include "common/flags.h"
#include "server/proxy/proxy_config.h"

namespace sp {
namespace {

std::variant<ProxyConfig, std::string> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "proxy");
  return try_parse_proxy_command_line(static_cast<int>(args.size()), args.data());
}

TEST(ProxyFlags, SeedDefaults) {
  auto r = parse({});
  ASSERT_TRUE(std::holds_alternative<ProxyConfig>(r));
  auto& c = std::get<ProxyConfig>(r);
  ASSERT_EQ(c.server.listen.size(), 1u);
  EXPECT_EQ(c.server.listen[0].to_string(), "0.0.0.0:9998");
  EXPECT_EQ(c.remote.to_string(), "127.0.0.1:9999");
  EXPECT_EQ(c.paths.mode, DataPath::kReadWrite);
  EXPECT_EQ(c.paths.pumps.pipe_size, 1u << 20);
  EXPECT_GE(c.server.workers, 1);
  EXPECT_EQ(c.stats, "127.0.0.1:9997");
}

TEST(ProxyFlags, SeedCommandLine) {
  auto r = parse({"-s", "127.0.0.1", "-z", "-r", "10.0.0.2", "-v"});
  ASSERT_TRUE(std::holds_alternative<ProxyConfig>(r)) << std::get<std::string>(r);
  auto& c = std::get<ProxyConfig>(r);
  EXPECT_EQ(c.server.listen[0].to_string(), "127.0.0.1:9998");
  EXPECT_EQ(c.remote.to_string(), "10.0.0.2:9999");
  EXPECT_EQ(c.paths.mode, DataPath::kSplice);
  EXPECT_EQ(c.verbosity, 1);
}

TEST(ProxyFlags, PortsApplyToAddressesWithoutOne) {
  auto r = parse({"-s", "127.0.0.1", "-s", "[::1]:7000", "-p", "8000", "-r", "backend", "-c", "81"});
  ASSERT_TRUE(std::holds_alternative<ProxyConfig>(r)) << std::get<std::string>(r);
  auto& c = std::get<ProxyConfig>(r);
  ASSERT_EQ(c.server.listen.size(), 2u);
  EXPECT_EQ(c.server.listen[0].to_string(), "127.0.0.1:8000");
  EXPECT_EQ(c.server.listen[1].to_string(), "[::1]:7000");
  EXPECT_EQ(c.remote.to_string(), "backend:81");
}

TEST(ProxyFlags, LongFormsAndUnits) {
  auto r = parse({"--mode=splice", "--workers", "3", "--pipe-size", "256K", "--buffer-size=16K",
                  "--connect-timeout", "250ms", "--grace", "1.5s", "--balance", "least-connections",
                  "--pin", "0,2-3", "--max-connections", "100", "--stats-prom", "/var/lib/node/sp.prom"});
  ASSERT_TRUE(std::holds_alternative<ProxyConfig>(r)) << std::get<std::string>(r);
  auto& c = std::get<ProxyConfig>(r);
  EXPECT_EQ(c.paths.mode, DataPath::kSplice);
  EXPECT_EQ(c.server.workers, 3);
  EXPECT_EQ(c.paths.pumps.pipe_size, 256u << 10);
  EXPECT_EQ(c.paths.pumps.buffer_size, 16u << 10);
  EXPECT_EQ(c.session.connect_timeout_ns, 250'000'000);
  EXPECT_EQ(c.grace_ns, 1'500'000'000);
  EXPECT_EQ(c.server.balance, Balance::kLeastConnections);
  EXPECT_EQ(c.server.pin_cpus, (std::vector<int>{0, 2, 3}));
  EXPECT_EQ(c.server.max_connections, 100u);
  EXPECT_EQ(c.stats_prom, "/var/lib/node/sp.prom");
}

TEST(ProxyFlags, SendProxyVersions) {
  EXPECT_EQ(std::get<ProxyConfig>(parse({})).session.send_proxy, 0);
  EXPECT_EQ(std::get<ProxyConfig>(parse({"--send-proxy"})).session.send_proxy, 1);
  EXPECT_EQ(std::get<ProxyConfig>(parse({"--send-proxy-v2"})).session.send_proxy, 2);
}

TEST(ProxyFlags, BadInputNamesTheFlag) {
  struct Case {
    std::vector<const char*> args;
    const char* expect;
  };
  for (const Case& k : std::vector<Case>{{{"-w", "0"}, "-w"},
                                         {{"--workers", "many"}, "--workers"},
                                         {{"--mode", "zero"}, "--mode"},
                                         {{"-p", "99999"}, "-p"},
                                         {{"-x"}, "unknown option '-x'"},
                                         {{"--nope"}, "unknown option '--nope'"},
                                         {{"-s"}, "-s needs a value"},
                                         {{"--pipe-size", "1T"}, "--pipe-size"},
                                         {{"-z=1"}, "unknown option '-='"},
                                         {{"--splice=1"}, "takes no value"},
                                         {{"stray"}, "unexpected argument"},
                                         {{"-r", "a b"}, "-r"},
                                         {{"--stats-prom", "-"}, "--stats-prom: expected a file path"},
                                         {{"--stats-prom", "dir/"}, "--stats-prom: expected a file path"},
                                         {{"--send-proxy", "--send-proxy-v2"}, "exclude each other"},
                                         {{"--send-proxy-v2", "--send-proxy"}, "exclude each other"}}) {
    auto r = parse(k.args);
    ASSERT_TRUE(std::holds_alternative<std::string>(r)) << k.expect;
    EXPECT_NE(std::get<std::string>(r).find(k.expect), std::string::npos) << std::get<std::string>(r);
  }
}

TEST(FlagParser, UsageListsEveryFlagWithItsDefault) {
  ProxyConfig c;
  FlagParser p("x", "summary");
  p.add({'q', "quiet", "", "be quiet", "", [](const std::string&) {}});
  p.add({0, "level", "N", "how much", "7", [](const std::string&) {}});
  std::string u = p.usage();
  EXPECT_NE(u.find("-q, --quiet"), std::string::npos);
  EXPECT_NE(u.find("--level N"), std::string::npos);
  EXPECT_NE(u.find("(default: 7)"), std::string::npos);
  EXPECT_NE(u.find("-h, --help"), std::string::npos);
}

TEST(FlagParser, OneOptionalOperand) {
  std::string where = "default", level;
  auto parser = [&] {
    FlagParser p("x", "summary");
    p.operand({0, "WHERE", "", "where to look", "127.0.0.1:9997", [&](const std::string& v) {
                 if (v == "bad") throw std::invalid_argument("not a place");
                 where = v;
               }});
    p.add({'l', "level", "N", "how much", "7", [&](const std::string& v) { level = v; }});
    return p;
  };
  const char* none[] = {"x", "-l", "3"};
  EXPECT_EQ(parser().try_parse(3, none), std::nullopt);
  EXPECT_EQ(where, "default");
  const char* one[] = {"x", "-l", "3", "unix:/run/p"};
  EXPECT_EQ(parser().try_parse(4, one), std::nullopt);
  EXPECT_EQ(where, "unix:/run/p");
  EXPECT_EQ(level, "3");
  const char* first[] = {"x", "9000", "--level=4"};
  EXPECT_EQ(parser().try_parse(3, first), std::nullopt);
  EXPECT_EQ(where, "9000");
  const char* two[] = {"x", "a", "b"};
  EXPECT_EQ(parser().try_parse(3, two).value_or(""), "unexpected argument 'b'");
  const char* bad[] = {"x", "bad"};
  EXPECT_EQ(parser().try_parse(2, bad).value_or(""), "WHERE: not a place");
  std::string u = parser().usage();
  EXPECT_NE(u.find("usage: x [options] [WHERE]"), std::string::npos) << u;
  EXPECT_NE(u.find("where to look (default: 127.0.0.1:9997)"), std::string::npos) << u;
  // Without an operand declared, one is still an error.
  FlagParser plain("x", "summary");
  const char* stray[] = {"x", "a"};
  EXPECT_EQ(plain.try_parse(2, stray).value_or(""), "unexpected argument 'a'");
}

TEST(ValueParsers, SizesDurationsIntegers) {
  EXPECT_EQ(parse_size("1M", 1, 1ULL << 40), 1u << 20);
  EXPECT_EQ(parse_size("64KiB", 1, 1ULL << 40), 64u << 10);
  EXPECT_EQ(parse_size("4096", 1, 1ULL << 40), 4096u);
  EXPECT_THROW(parse_size("M", 1, 100), std::invalid_argument);
  EXPECT_THROW(parse_size("99999999999999999999G", 1, ~0ULL), std::invalid_argument);
  EXPECT_EQ(parse_duration_ns("2", 0, 10'000'000'000), 2'000'000'000);
  EXPECT_EQ(parse_duration_ns("20ms", 0, 10'000'000'000), 20'000'000);
  EXPECT_THROW(parse_duration_ns("abc", 0, 10), std::invalid_argument);
  EXPECT_THROW(parse_duration_ns("nan", 0, 10), std::invalid_argument);
  EXPECT_EQ(parse_int("-5", -10, 10), -5);
  EXPECT_THROW(parse_int("11", -10, 10), std::invalid_argument);
}

}  // namespace
}  // namespace sp
