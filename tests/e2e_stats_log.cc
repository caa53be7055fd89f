// End-to-end: the stats socket on a unix path, and the stats log (--stats-log): one JSON line per
// interval, reopened at its path on SIGHUP (log rotation) while the proxy and tcp_ping_server keep
// serving.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/stack.h"
#include "tests/support/stats.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

TEST(StatsE2EUnix, UnixSocketWithNcAndCleanExit) {
  std::string path = temp_path("proxy.sock");
  ::unlink(path.c_str());
  ProxyStack stack("splice", {"--stats", "unix:" + path});
  auto deadline = Clock::now() + 10s;
  struct stat st {};
  while (Clock::now() < deadline && ::lstat(path.c_str(), &st) != 0) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(::lstat(path.c_str(), &st), 0) << stack.proxy->err();
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  RunResult r = sh("nc -U " + path + " </dev/null | jq -c '{mode, workers: (.workers | length)}'");
  EXPECT_EQ(r.out, "{\"mode\":\"splice\",\"workers\":2}\n") << r.err;
  RunResult w = sh("echo 'watch 100' | timeout 0.5 nc -U " + path + " | jq -c .version");
  EXPECT_GE(json_lines(w.out).size(), 3u) << w.out;
  stack.proxy->signal(SIGTERM);
  auto code = stack.proxy->wait(10s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
  EXPECT_NE(::lstat(path.c_str(), &st), 0) << "socket file left behind";
}

TEST(StatsE2ELog, ProxyLogsOneLinePerInterval) {
  std::string path = temp_path("stats.jsonl");
  ::unlink(path.c_str());
  ProxyStack stack("rw", {"--stats-log", path, "--stats-interval", "0.2"});  // socket off (ProxyStack)
  std::this_thread::sleep_for(1100ms);
  stack.proxy->signal(SIGTERM);
  ASSERT_TRUE(stack.proxy->wait(10s));
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  auto lines = json_lines(text.str());
  EXPECT_GE(lines.size(), 3u);  // 5 when the machine is idle; ticks that fall behind are skipped
  EXPECT_LE(lines.size(), 7u);
  for (const json& j : lines) {
    EXPECT_EQ(j["version"], 1);
    // Ticks keep to a fixed schedule, so the interval after a late tick is shorter.
    EXPECT_GT(j["window_s"].get<double>(), 0.0);
    EXPECT_LT(j["window_s"].get<double>(), 1.0);
  }
  ::unlink(path.c_str());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A byte through the proxy comes back.
bool one_byte_echoes(uint16_t port) {
  Fd fd = connect_to(port, 2s);
  char c = 'h';
  return send_all(fd.get(), &c, 1) && read_exact(fd.get(), &c, 1) && c == 'h';
}

TEST(StatsE2ELog, SighupReopensTheLogAtItsPathAndTheProxyKeepsServing) {
  // What logrotate does: rename the file, then SIGHUP; new snapshots must go to a new file at the
  // old path, and the proxy must neither stop nor stop serving.
  std::string path = temp_path("rotated.jsonl"), rotated = path + ".1";
  ::unlink(path.c_str());
  ::unlink(rotated.c_str());
  ProxyStack stack("rw", {"--stats-log", path, "--stats-interval", "0.1"});
  std::this_thread::sleep_for(350ms);
  ASSERT_EQ(::rename(path.c_str(), rotated.c_str()), 0);
  std::this_thread::sleep_for(150ms);  // still written through the old descriptor
  stack.proxy->signal(SIGHUP);
  std::this_thread::sleep_for(150ms);
  size_t old_size = read_file(rotated).size();
  std::this_thread::sleep_for(400ms);
  EXPECT_FALSE(stack.proxy->wait(0ms).has_value()) << "SIGHUP stopped the proxy: " << stack.proxy->err();
  EXPECT_TRUE(one_byte_echoes(stack.proxy_port));
  EXPECT_GE(json_lines(read_file(rotated)).size(), 4u) << "the lines before the rotation";
  EXPECT_EQ(read_file(rotated).size(), old_size) << "still writing to the renamed file after SIGHUP";
  auto fresh = json_lines(read_file(path));
  EXPECT_GE(fresh.size(), 2u) << "no new file at " << path << " after SIGHUP";
  for (const json& j : fresh) EXPECT_EQ(j["program"], "proxy");
  stack.proxy->signal(SIGTERM);
  auto code = stack.proxy->wait(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  ::unlink(path.c_str());
  ::unlink(rotated.c_str());
}

TEST(StatsE2ELog, PingServerSurvivesSighup) {
  uint16_t port = free_port();
  ChildProcess server({bin("tcp_ping_server"), "-s", "127.0.0.1", "-p", std::to_string(port), "-w", "1"});
  ASSERT_TRUE(wait_for_port(port)) << server.err();
  server.signal(SIGHUP);
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(server.wait(0ms).has_value()) << "SIGHUP stopped tcp_ping_server";
  EXPECT_TRUE(one_byte_echoes(port));
  server.signal(SIGTERM);
  auto code = server.wait(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace sp::test
