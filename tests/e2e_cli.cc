// End-to-end: the command line of all four programs follows habit. A bad flag prints its reason
// and a pointer to --help (GNU's two lines), exit 2; a value flag given twice is refused; -h fits
// 80 columns and still names every flag with its default. The proxy's listening line is there
// without -v, with the port -p 0 got.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/net.h"
#include "tests/support/process.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;

const char* const kPrograms[] = {"proxy", "tcp_ping_server", "tcp_ping_client", "proxy-top"};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

RunResult run_program(const std::string& program, std::vector<std::string> args) {
  args.insert(args.begin(), bin(program));
  return run(args, 10s);
}

void expect_two_line_error(const std::string& program, const RunResult& r, const std::string& reason) {
  EXPECT_EQ(r.code, 2) << program;
  EXPECT_TRUE(r.out.empty()) << r.out;
  auto lines = lines_of(r.err);
  ASSERT_EQ(lines.size(), 2u) << r.err;
  EXPECT_EQ(lines[0].rfind(program + ": ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(reason), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1], "Try '" + program + " --help' for more information.");
}

TEST(Cli, ABadFlagPrintsItsReasonAndWhereHelpIs) {
  for (const char* program : kPrograms) {
    SCOPED_TRACE(program);
    expect_two_line_error(program, run_program(program, {"--bogus"}), "unknown option '--bogus'");
  }
  expect_two_line_error("proxy", run_program("proxy", {"--mode", "zero"}), "--mode: invalid mode 'zero'");
  expect_two_line_error("tcp_ping_client", run_program("tcp_ping_client", {"-n", "10", "-t", "1"}),
                        "-n and -t cannot go together");
  expect_two_line_error("proxy-top", run_program("proxy-top", {"--interval", "0"}), "--interval");
}

TEST(Cli, AValueFlagGivenTwiceIsRefused) {
  expect_two_line_error("proxy", run_program("proxy", {"--mode", "rw", "--mode", "splice"}), "option '--mode' given twice");
  expect_two_line_error("tcp_ping_server", run_program("tcp_ping_server", {"-p", "1", "--port=2"}),
                        "option '-p/--port' given twice");
  expect_two_line_error("tcp_ping_client", run_program("tcp_ping_client", {"-c", "1", "-c", "1"}),
                        "option '-c/--connections' given twice");
  expect_two_line_error("proxy-top", run_program("proxy-top", {"-i", "1", "-i", "2"}), "option '-i/--interval' given twice");
}

TEST(Cli, RemotePortZeroIsRefused) {
  expect_two_line_error("proxy", run_program("proxy", {"-r", "127.0.0.1:0"}), "remote port 0");
  expect_two_line_error("proxy", run_program("proxy", {"-c", "0"}), "remote port 0");
}

// Each flag (long name) and the default its help must still show, as declared.
const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> kHelp = {
    {"proxy",
     {{"--listen", "0.0.0.0"}, {"--port", "9998"}, {"--remote", "127.0.0.1"}, {"--remote-port", "9999"},
      {"--splice", ""}, {"--mode", "rw"}, {"--pipe-size", "1M"}, {"--buffer-size", "1M"}, {"--memory-budget", "64M"},
      {"--connect-timeout", "5"}, {"--idle-timeout", "0"}, {"--max-connections", "0"}, {"--balance", "round-robin"},
      {"--reuseport", ""}, {"--pin", "not pinned"}, {"--busy-poll", "0"}, {"--workers", "online CPUs ("},
      {"--grace", "5"}, {"--stats", "127.0.0.1:9997"}, {"--stats-interval", "1"}, {"--stats-log", "none"},
      {"--stats-prom", "none"}, {"--verbose", ""}, {"--help", ""}, {"--version", ""}}},
    {"tcp_ping_server",
     {{"--listen", "0.0.0.0"}, {"--port", "9999"}, {"--sink", ""}, {"--source", ""}, {"--splice", ""},
      {"--workers", "online CPUs ("}, {"--grace", "5"}, {"--stats", "off"}, {"--stats-interval", "1"},
      {"--stats-log", "none"}, {"--stats-prom", "none"}, {"--verbose", ""}}},
    {"tcp_ping_client",
     {{"--server", "127.0.0.1"}, {"--port", "9999"}, {"--mode", "pingpong"}, {"--no-echo", ""}, {"--bidir", ""},
      {"--download", ""}, {"--connections", "1"}, {"--threads", "1"},
      {"--length", "1024 for pingpong, 64K for stream and download"}, {"--count", "100000 for pingpong"},
      {"--duration", "10 for stream and download"}, {"--rate", "unlimited"}, {"--stall", "1"}, {"--warmup", "0"},
      {"--interval", "0"}, {"--json", ""}, {"--no-verify", ""}, {"--verbose", ""}}},
    {"proxy-top",
     {{"WHERE", "127.0.0.1:9997, the proxy's default --stats"}, {"--interval", "1"}, {"--retry-max", "5"},
      {"--once", ""}}},
};

// The help's entries, each with its continuation lines joined by one space.
std::vector<std::string> entries(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  for (const std::string& line : lines) {
    bool continuation = line.size() > 30 && line.find_first_not_of(' ') == 30;
    // append, not " " + substr: GCC 12's -Wrestrict misfires on the latter.
    if (continuation && !out.empty()) out.back().append(" ").append(line, 30);
    else if (line.rfind("  ", 0) == 0) out.push_back(line.substr(line.find_first_not_of(' ')));
  }
  return out;
}

TEST(Cli, HelpFitsEightyColumnsAndNamesEveryFlagWithItsDefault) {
  for (const auto& [program, flags] : kHelp) {
    SCOPED_TRACE(program);
    RunResult r = run_program(program, {"-h"});
    EXPECT_EQ(r.code, 0);
    auto lines = lines_of(r.out);
    for (const std::string& line : lines) EXPECT_LE(line.size(), 80u) << line;
    auto all = entries(lines);
    for (const auto& [flag, default_text] : flags) {
      auto it = std::find_if(all.begin(), all.end(), [&](const std::string& e) {
        size_t at = e.find(flag);
        return at != std::string::npos && (at == 0 || e.rfind("-", 0) == 0) && at < 8 &&
               (at + flag.size() == e.size() || e[at + flag.size()] == ' ');
      });
      ASSERT_NE(it, all.end()) << flag << "\n" << r.out;
      if (!default_text.empty()) {
        EXPECT_NE(it->find("(default: " + default_text), std::string::npos) << *it;
      }
    }
  }
}

TEST(Cli, TheProxySaysWhereItListensWithoutVerbose) {
  uint16_t stats = free_port();
  ChildProcess proxy({bin("proxy"), "-s", "127.0.0.1", "-p", "0", "--stats", "127.0.0.1:" + std::to_string(stats)});
  ASSERT_TRUE(wait_for_port(stats)) << proxy.err();
  std::string err;
  for (int i = 0; i < 50 && (err = proxy.err()).find("listening on") == std::string::npos; ++i)
    std::this_thread::sleep_for(100ms);
  const std::string said = "proxy: info: listening on 127.0.0.1:";
  size_t at = err.find(said);
  ASSERT_NE(at, std::string::npos) << err;
  int port = std::atoi(err.c_str() + at + said.size());
  EXPECT_GT(port, 0) << "the port -p 0 got, not 0: " << err;
  EXPECT_TRUE(wait_for_port(static_cast<uint16_t>(port)));
  proxy.signal(SIGTERM);
  EXPECT_EQ(proxy.wait(10s), 0);
}

}  // namespace
}  // namespace sp::test
