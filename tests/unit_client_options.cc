#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "client/options.h"

namespace sp::client {
namespace {

std::variant<Options, std::string> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "tcp_ping_client");
  return try_parse_command_line(static_cast<int>(args.size()), args.data());
}

Options ok(std::vector<const char*> args) {
  auto r = parse(args);
  if (auto* err = std::get_if<std::string>(&r)) ADD_FAILURE() << *err;
  return std::holds_alternative<Options>(r) ? std::get<Options>(r) : Options{};
}

std::string error(std::vector<const char*> args) {
  auto r = parse(args);
  if (std::holds_alternative<Options>(r)) {
    ADD_FAILURE() << "accepted";
    return "";
  }
  return std::get<std::string>(r);
}

TEST(ClientOptions, SeedDefaults) {
  Options o = ok({});
  EXPECT_EQ(o.server.to_string(), "127.0.0.1:9999");
  EXPECT_EQ(o.mode, Mode::kPingPong);
  EXPECT_EQ(o.count, 100000u);
  EXPECT_FALSE(o.timed());
  EXPECT_EQ(o.length, 1024u);
  EXPECT_EQ(o.connections, 1);
  EXPECT_EQ(o.threads, 1);
  EXPECT_TRUE(o.verify);
}

TEST(ClientOptions, SeedCommandLine) {
  Options o = ok({"-p", "9998", "-s", "127.0.0.1", "-n", "10000"});
  EXPECT_EQ(o.server.to_string(), "127.0.0.1:9998");
  EXPECT_EQ(o.count, 10000u);
  o = ok({"-s", "[::1]:7000", "-p", "8000", "-n", "0"});
  EXPECT_EQ(o.server.to_string(), "[::1]:7000");
  EXPECT_EQ(o.count, 0u);  // until signalled
}

TEST(ClientOptions, StreamDefaultsToTenSecondsOf64KWrites) {
  Options o = ok({"--mode", "stream"});
  EXPECT_TRUE(o.timed());
  EXPECT_EQ(o.duration_ns, 10'000'000'000);
  EXPECT_EQ(o.length, 65536u);
  EXPECT_TRUE(o.echo());
  o = ok({"--no-echo"});  // implies stream
  EXPECT_EQ(o.mode, Mode::kStream);
  EXPECT_FALSE(o.echo());
  EXPECT_FALSE(o.receives());
  o = ok({"--download", "-l", "1M", "-n", "5"});
  EXPECT_EQ(o.mode, Mode::kDownload);
  EXPECT_EQ(o.length, 1u << 20);
  EXPECT_EQ(o.count, 5u);
  EXPECT_FALSE(o.sends());
  o = ok({"--bidir", "-c", "4", "-T", "8"});
  EXPECT_EQ(o.mode, Mode::kStream);
  EXPECT_TRUE(o.bidir);
  EXPECT_EQ(o.threads, 4);  // never more threads than connections
}

TEST(ClientOptions, EveryFlag) {
  Options o = ok({"-c", "64", "-T", "2", "-l", "512", "-t", "2.5s", "--rate", "10000", "--warmup", "500ms", "-i", "1",
                  "--json", "--no-verify", "-v", "--stall", "250ms"});
  EXPECT_EQ(o.connections, 64);
  EXPECT_EQ(o.threads, 2);
  EXPECT_EQ(o.length, 512u);
  EXPECT_EQ(o.duration_ns, 2'500'000'000);
  EXPECT_EQ(o.count, 0u);
  EXPECT_DOUBLE_EQ(o.rate, 10000);
  EXPECT_EQ(o.warmup_ns, 500'000'000);
  EXPECT_EQ(o.interval_ns, 1'000'000'000);
  EXPECT_TRUE(o.json);
  EXPECT_FALSE(o.verify);
  EXPECT_EQ(o.verbosity, 1);
  EXPECT_EQ(o.stall_ns, 250'000'000);
}

TEST(ClientOptions, ImpossibleCombinationsAreRefused) {
  EXPECT_NE(error({"-n", "10", "-t", "1"}).find("-n and -t"), std::string::npos);
  EXPECT_NE(error({"--mode", "stream", "--rate", "100"}).find("--rate"), std::string::npos);
  EXPECT_NE(error({"--download", "--rate", "100"}).find("--rate"), std::string::npos);
  EXPECT_NE(error({"--length", "0"}).find("--length"), std::string::npos);
  EXPECT_NE(error({"--mode", "pingpong", "--no-echo"}).find("--no-echo"), std::string::npos);
  EXPECT_NE(error({"--download", "--no-echo"}).find("--no-echo"), std::string::npos);
  EXPECT_NE(error({"--bidir", "--no-echo"}).find("--bidir"), std::string::npos);
  EXPECT_NE(error({"--download", "--mode", "stream"}).find("--download"), std::string::npos);
  EXPECT_NE(error({"--mode", "stream", "-n", "10", "--warmup", "1"}).find("--warmup"), std::string::npos);
  EXPECT_NE(error({"--mode", "bogus"}).find("bogus"), std::string::npos);
  EXPECT_NE(error({"-c", "0"}).find("-c"), std::string::npos);
  EXPECT_NE(error({"-T", "0"}).find("-T"), std::string::npos);
  EXPECT_NE(error({"--rate", "0"}).find("--rate"), std::string::npos);
  EXPECT_NE(error({"-t", "0"}).find("-t"), std::string::npos);
  EXPECT_NE(error({"-p", "70000"}).find("-p"), std::string::npos);
  EXPECT_NE(error({"extra"}).find("extra"), std::string::npos);
}

TEST(ClientOptions, AValueGivenTwiceIsRefusedASwitchMayRepeat) {
  EXPECT_EQ(error({"-c", "1", "-c", "2"}), "option '-c/--connections' given twice");
  EXPECT_EQ(error({"--mode", "stream", "--mode=stream"}), "option '--mode' given twice");
  Options o = ok({"-v", "-v", "--json", "--json"});
  EXPECT_EQ(o.verbosity, 2);
  EXPECT_TRUE(o.json);
}

TEST(ClientOptions, HelpShowsEveryFlagWithItsDefault) {
  std::string usage = error({"-h"});
  for (const char* flag : {"--server", "--port", "--mode", "--no-echo", "--bidir", "--download", "--connections",
                           "--threads", "--length", "--count", "--duration", "--rate", "--warmup", "--interval",
                           "--json", "--no-verify"})
    EXPECT_NE(usage.find(flag), std::string::npos) << flag;
  EXPECT_NE(usage.find("(default: 9999)"), std::string::npos);
  EXPECT_NE(usage.find("(default: 100000 for pingpong)"), std::string::npos);
}

}  // namespace
}  // namespace sp::client
