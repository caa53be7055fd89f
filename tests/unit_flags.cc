#include <gtest/gtest.h>

#include <sstream>
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
  EXPECT_EQ(c.remotes.at(0).where.to_string(), "127.0.0.1:9999");
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
  EXPECT_EQ(c.remotes.at(0).where.to_string(), "10.0.0.2:9999");
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
  EXPECT_EQ(c.remotes.at(0).where.to_string(), "backend:81");
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
  EXPECT_NE(u.find("Usage: x [options] [WHERE]"), std::string::npos) << u;
  EXPECT_NE(u.find("where to look (default: 127.0.0.1:9997)"), std::string::npos) << u;
  // Without an operand declared, one is still an error.
  FlagParser plain("x", "summary");
  const char* stray[] = {"x", "a"};
  EXPECT_EQ(plain.try_parse(2, stray).value_or(""), "unexpected argument 'a'");
}

TEST(ProxyFlags, AValueGivenTwiceIsAnErrorUnlessTheFlagCollects) {
  auto error = [](std::vector<const char*> args) {
    auto r = parse(args);
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : std::string("accepted");
  };
  EXPECT_EQ(error({"--mode", "rw", "--mode=rw"}), "option '--mode' given twice");  // even the same value
  EXPECT_EQ(error({"--mode", "rw", "--mode", "splice"}), "option '--mode' given twice");
  EXPECT_EQ(error({"-w2", "-w", "3"}), "option '-w/--workers' given twice");
  // -s collects one address per NIC, -r one remote per backend; switches set the same thing again or count.
  auto pool = parse({"-r", "10.0.0.1:80,weight=3", "-r", "10.0.0.2", "-c", "81", "-r", "[::1]:82,weight=0"});
  ASSERT_TRUE(std::holds_alternative<ProxyConfig>(pool)) << std::get<std::string>(pool);
  const auto& remotes = std::get<ProxyConfig>(pool).remotes;
  ASSERT_EQ(remotes.size(), 3u);
  EXPECT_EQ(remotes[0].where.to_string() + " " + std::to_string(remotes[0].weight), "10.0.0.1:80 3");
  EXPECT_EQ(remotes[1].where.to_string() + " " + std::to_string(remotes[1].weight), "10.0.0.2:81 1");
  EXPECT_EQ(remotes[2].where.to_string() + " " + std::to_string(remotes[2].weight), "[::1]:82 0");
  EXPECT_EQ(error({"-r", "10.0.0.1,weight=x"}), "-r: 10.0.0.1,weight=x: the weight is not a number from 0 to 1000");
  EXPECT_EQ(error({"-r", "10.0.0.1,backup"}), "-r: 10.0.0.1,backup: unknown option 'backup' (weight=N)");
  auto r = parse({"-s", "127.0.0.1", "-s", "127.0.0.2", "-z", "--splice", "-vv", "-v"});
  ASSERT_TRUE(std::holds_alternative<ProxyConfig>(r)) << std::get<std::string>(r);
  EXPECT_EQ(std::get<ProxyConfig>(r).server.listen.size(), 2u);
  EXPECT_EQ(std::get<ProxyConfig>(r).verbosity, 3);
}

TEST(ProxyFlags, RemotePortZeroIsAnError) {
  for (std::vector<const char*> args : {std::vector<const char*>{"-r", "127.0.0.1:0"}, {"-c", "0"}, {"-r", "[::1]:0"}}) {
    auto r = parse(args);
    ASSERT_TRUE(std::holds_alternative<std::string>(r)) << args[1];
    EXPECT_NE(std::get<std::string>(r).find("remote port 0"), std::string::npos) << std::get<std::string>(r);
  }
  auto listen_anywhere = parse({"-p", "0", "-r", "backend:0", "-c", "80"});  // -r's own port wins, and is 0
  EXPECT_TRUE(std::holds_alternative<std::string>(listen_anywhere));
  auto ephemeral = parse({"-p", "0"});  // a listen port of 0 is the kernel's choice: fine
  ASSERT_TRUE(std::holds_alternative<ProxyConfig>(ephemeral)) << std::get<std::string>(ephemeral);
  EXPECT_EQ(std::get<ProxyConfig>(ephemeral).server.listen[0].port, 0);
}

TEST(FlagParser, ABadFlagPrintsTheReasonAndWhereHelpIsNotTheUsage) {
  FlagParser p("x", "summary");
  p.add({'l', "level", "N", "how much", "7", [](const std::string& v) { parse_int(v, 0, 9); }});
  const char* bad[] = {"x", "-l", "10"};
  testing::internal::CaptureStderr();
  testing::internal::CaptureStdout();
  EXPECT_EQ(p.parse(3, bad), 2);
  EXPECT_EQ(testing::internal::GetCapturedStdout(), "");
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "x: -l: invalid value '10' (expected an integer 0-9)\nTry 'x --help' for more information.\n");
}

// Every line within kHelpWidth, descriptions hanging under kHelpColumn, nothing lost or reordered.
TEST(FlagParser, HelpIsWrappedUnderTheDescriptionColumn) {
  std::string long_help;
  for (int i = 0; i < 40; ++i) long_help += "word" + std::to_string(i) + " ";
  FlagParser p("x", long_help + "summary-end");
  p.add({'a', "alpha", "N", long_help + "alpha-end", "a default that fits on one line", nullptr});
  p.add({0, "a-very-long-flag-name", "rw|splice|auto|uring", "short", "1", nullptr});
  p.add({0, "path", "FILE", "a path too wide to break: /" + std::string(90, 'p'), "", nullptr});
  std::string u = p.usage();
  std::stringstream in(u);
  std::string flat;
  for (std::string line; std::getline(in, line);) {
    if (line.find("/ppp") == std::string::npos) {
      EXPECT_LE(line.size(), kHelpWidth) << line;
    }
    if (line.rfind(std::string(kHelpColumn, ' '), 0) == 0) {
      EXPECT_NE(line[kHelpColumn], ' ') << line;
    }
    flat += line + " ";
  }
  // Words in order: the lines only moved them.
  auto squeeze = [](const std::string& text) {
    std::string out;
    for (char c : text)
      if (c != ' ' || (!out.empty() && out.back() != ' ')) out += c;
    return out;
  };
  std::string unwrapped = squeeze(flat);
  EXPECT_NE(unwrapped.find(squeeze(long_help + "summary-end")), std::string::npos) << u;
  EXPECT_NE(unwrapped.find(squeeze("-a, --alpha N " + long_help + "alpha-end (default: a default")), std::string::npos) << u;
  EXPECT_NE(u.find("(default: a default that fits on one line)"), std::string::npos) << u;
  // A left part reaching the column gets a line of its own.
  EXPECT_NE(u.find("--a-very-long-flag-name rw|splice|auto|uring\n" + std::string(kHelpColumn, ' ') + "short (default: 1)\n"),
            std::string::npos)
      << u;
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
