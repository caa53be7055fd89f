// The session log end to end (issue 25): the line's fields for a normal end, a reset from either
// side, a connect failure and timeout, a refusal, the idle timeout and the drain, in text and in
// JSON; a normal end in every mode.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/socket.h"
#include "tests/support/log_lines.h"
#include "tests/support/modes.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;
using Fields = LogFields;

class SessionLogs : public ::testing::TestWithParam<std::string> {
 protected:
  std::string format() const { return GetParam(); }
  std::vector<std::string> args() const { return {"-w", "1", "--log-sessions", "--log-format", format()}; }
};

TEST_P(SessionLogs, NormalEndNamesWhoClosedFirstAndCountsBothWays) {
  EchoStack stack(args());
  Fd c = connect_to(stack.proxy_port);
  std::string client = local_address(c.get()).to_string();
  std::vector<uint8_t> data = random_bytes(100'000, 1);
  ASSERT_TRUE(send_all(c.get(), data.data(), data.size()));
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(read_exact(c.get(), back.data(), back.size()));
  ::shutdown(c.get(), SHUT_WR);  // the client closes first; the echo server follows
  bool clean = false;
  read_to_eof(c.get(), &clean);
  EXPECT_TRUE(clean);
  auto found = sessions(*stack.proxy, format());
  ASSERT_EQ(found.size(), 1u) << stack.proxy->err();
  Fields s = found[0];
  EXPECT_EQ(s["level"], "info");
  EXPECT_EQ(s["client"], client);
  EXPECT_EQ(s["listener"], loopback(stack.proxy_port));
  EXPECT_EQ(s["remote"], loopback(stack.server_port));
  EXPECT_EQ(s["mode"], "rw");
  EXPECT_EQ(s["bytes_to_remote"], "100000");
  EXPECT_EQ(s["bytes_to_client"], "100000");
  EXPECT_GE(std::stoll(s["duration_ms"]), 0);
  EXPECT_EQ(s["end"], "client-eof") << stack.proxy->err();
  EXPECT_EQ(s.count("error"), 0u);
}

TEST_P(SessionLogs, ClientResetIsTheClients) {
  EchoStack stack(args());
  Fd c = connect_to(stack.proxy_port);
  std::string client = local_address(c.get()).to_string();
  ASSERT_TRUE(send_all(c.get(), "ping", 4));
  char back[4];
  ASSERT_TRUE(read_exact(c.get(), back, 4));
  set_reset_on_close(c.get());
  c.reset();  // RST
  auto found = sessions(*stack.proxy, format());
  ASSERT_EQ(found.size(), 1u) << stack.proxy->err();
  EXPECT_EQ(found[0]["client"], client);
  EXPECT_EQ(found[0]["end"], "client-reset") << stack.proxy->err();
  EXPECT_EQ(found[0]["bytes_to_remote"], "4");
  EXPECT_EQ(found[0]["bytes_to_client"], "4");
  EXPECT_FALSE(found[0]["error"].empty());
}

TEST_P(SessionLogs, RemoteResetIsTheRemotes) {
  // The test is the remote: it accepts, answers, then resets.
  Fd listener = listen_tcp(resolve({"127.0.0.1", 0}, true).at(0));
  set_nonblocking(listener.get(), false);
  uint16_t port = free_port();
  auto proxy = quiet_proxy(port, local_address(listener.get()).port(), args());
  Fd c = connect_to(port);
  ASSERT_TRUE(send_all(c.get(), "hello", 5));
  Fd r(::accept(listener.get(), nullptr, nullptr));
  ASSERT_TRUE(r);
  char got[5];
  ASSERT_TRUE(read_exact(r.get(), got, 5));
  ASSERT_TRUE(send_all(r.get(), "hi", 2));
  char back[2];
  ASSERT_TRUE(read_exact(c.get(), back, 2));
  set_reset_on_close(r.get());
  r.reset();
  bool clean = true;
  read_to_eof(c.get(), &clean);
  EXPECT_FALSE(clean);  // the reset is passed on to the client
  auto found = sessions(*proxy, format());
  ASSERT_EQ(found.size(), 1u) << proxy->err();
  EXPECT_EQ(found[0]["end"], "remote-reset") << proxy->err();
  EXPECT_EQ(found[0]["remote"], loopback(local_address(listener.get()).port()));
  EXPECT_EQ(found[0]["bytes_to_remote"], "5");
  EXPECT_EQ(found[0]["bytes_to_client"], "2");
}

TEST_P(SessionLogs, ConnectFailureNamesTheErrorAndTheClient) {
  uint16_t nothing = free_port();  // nobody listens there
  uint16_t port = free_port();
  auto proxy = quiet_proxy(port, nothing, args());
  std::string client;
  Fd c = connect_bound(port, &client);
  bool clean = true;
  read_to_eof(c.get(), &clean);
  EXPECT_FALSE(clean);  // reset: the remote could not be reached
  auto found = sessions(*proxy, format());
  ASSERT_EQ(found.size(), 1u) << proxy->err();
  Fields s = found[0];
  EXPECT_EQ(s["client"], client);
  EXPECT_EQ(s["listener"], loopback(port));
  EXPECT_EQ(s["remote"], loopback(nothing));
  EXPECT_EQ(s["end"], "connect-failed");
  EXPECT_EQ(s["error"], "Connection refused");
  EXPECT_EQ(s["bytes_to_remote"], "0");
  EXPECT_EQ(s["bytes_to_client"], "0");
  // The warning says which client it closed.
  auto warnings = lines_with(proxy->err(), format(), "connect " + loopback(nothing) + ": Connection refused; closing the client");
  ASSERT_EQ(warnings.size(), 1u) << proxy->err();
  EXPECT_EQ(warnings[0]["level"], "warn");
  EXPECT_EQ(warnings[0]["client"], client);
}

TEST_P(SessionLogs, ConnectTimeout) {
  // A remote whose accept backlog is full drops new SYNs: the connect hangs until the timeout.
  Fd listener = listen_tcp(resolve({"127.0.0.1", 0}, true).at(0), 0);
  uint16_t remote = local_address(listener.get()).port();
  std::vector<Fd> fillers;
  for (int i = 0; i < 4; ++i) {
    int err = 0;
    fillers.push_back(connect_nonblocking(resolve({"127.0.0.1", remote}, false).at(0), &err));
  }
  std::this_thread::sleep_for(200ms);
  std::vector<std::string> a = args();
  a.insert(a.end(), {"--connect-timeout", "300ms"});
  uint16_t port = free_port();
  auto proxy = quiet_proxy(port, remote, a);
  Fd c = connect_to(port, 10s);
  read_to_eof(c.get());
  auto found = sessions(*proxy, format());
  ASSERT_EQ(found.size(), 1u) << proxy->err();
  EXPECT_EQ(found[0]["end"], "connect-timeout");
  EXPECT_EQ(found[0]["error"], "Connection timed out");
  EXPECT_EQ(found[0]["remote"], loopback(remote));
  EXPECT_GE(std::stoll(found[0]["duration_ms"]), 250);
}

// Behind a balancer (--accept-proxy) the client is the one the PROXY header names.
TEST_P(SessionLogs, AcceptProxyLogsTheCarriedClient) {
  std::vector<std::string> a = args();
  a.push_back("--accept-proxy");
  EchoStack stack(a);
  Fd c = connect_to(stack.proxy_port);
  std::string header = "PROXY TCP4 192.0.2.7 127.0.0.1 40001 " + std::to_string(stack.proxy_port) + "\r\nping";
  ASSERT_TRUE(send_all(c.get(), header.data(), header.size()));
  char back[4];
  ASSERT_TRUE(read_exact(c.get(), back, 4));
  ::shutdown(c.get(), SHUT_WR);
  read_to_eof(c.get());
  auto found = sessions(*stack.proxy, format());
  ASSERT_EQ(found.size(), 1u) << stack.proxy->err();
  EXPECT_EQ(found[0]["client"], "192.0.2.7:40001");
  EXPECT_EQ(found[0]["listener"], loopback(stack.proxy_port));
  EXPECT_EQ(found[0]["bytes_to_remote"], "4");
  EXPECT_EQ(found[0]["end"], "client-eof");
}

TEST_P(SessionLogs, RefusedOverMaxConnections) {
  std::vector<std::string> a = args();
  a.insert(a.end(), {"--max-connections", "1"});
  EchoStack stack(a);
  Fd first = connect_to(stack.proxy_port);
  ASSERT_TRUE(send_all(first.get(), "x", 1));
  char back;
  ASSERT_TRUE(read_exact(first.get(), &back, 1));  // admitted and relaying
  Fd second = connect_to(stack.proxy_port);
  std::string client = local_address(second.get()).to_string();
  read_to_eof(second.get());
  auto found = sessions(*stack.proxy, format());
  ASSERT_EQ(found.size(), 1u) << stack.proxy->err();
  EXPECT_EQ(found[0]["end"], "refused");
  EXPECT_EQ(found[0]["error"], "over-capacity");  // which rule: the listener counter's name
  EXPECT_EQ(found[0]["client"], client);
  EXPECT_EQ(found[0]["listener"], loopback(stack.proxy_port));
}

// The proxy's own ends: a session quiet for --idle-timeout, and one still live when SIGTERM's
// grace period runs out.
TEST_P(SessionLogs, IdleTimeoutAndDrain) {
  std::vector<std::string> a = args();
  a.insert(a.end(), {"--idle-timeout", "0.4", "--grace", "0.1"});  // the grace ends first
  EchoStack stack(a);
  Fd idle = connect_to(stack.proxy_port);
  std::string idle_client = local_address(idle.get()).to_string();
  read_to_eof(idle.get());  // the proxy closes it after 0.4 s of silence
  Fd busy = connect_to(stack.proxy_port);
  std::string busy_client = local_address(busy.get()).to_string();
  ASSERT_TRUE(send_all(busy.get(), "x", 1));
  char back;
  ASSERT_TRUE(read_exact(busy.get(), &back, 1));
  stack.proxy->signal(SIGTERM);
  ASSERT_TRUE(stack.proxy->wait(5s).has_value());
  auto found = lines_with(stack.proxy->err(), format(), "session");
  ASSERT_EQ(found.size(), 2u) << stack.proxy->err();
  EXPECT_EQ(found[0]["client"], idle_client);
  EXPECT_EQ(found[0]["end"], "idle-timeout");
  EXPECT_EQ(found[1]["client"], busy_client);
  EXPECT_EQ(found[1]["end"], "drain");
  EXPECT_EQ(found[1]["bytes_to_client"], "1");
}

INSTANTIATE_TEST_SUITE_P(Formats, SessionLogs, ::testing::Values("text", "json"),
                         [](const auto& info) { return info.param; });

// Every mode reports the bytes it moved and who closed first (the kernel relay cannot say who).
class SessionLogsModes : public ::testing::TestWithParam<std::string> {};

TEST_P(SessionLogsModes, NormalEnd) {
  EchoStack stack({"--mode", GetParam(), "--log-sessions"});
  Fd c = connect_to(stack.proxy_port);
  std::vector<uint8_t> data = random_bytes(300'000, 2);
  ASSERT_TRUE(send_all(c.get(), data.data(), data.size()));
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(read_exact(c.get(), back.data(), back.size()));
  ::shutdown(c.get(), SHUT_WR);
  read_to_eof(c.get());
  auto found = sessions(*stack.proxy, "text");
  ASSERT_EQ(found.size(), 1u) << stack.proxy->err();
  Fields s = found[0];
  EXPECT_EQ(s["bytes_to_remote"], "300000");
  EXPECT_EQ(s["bytes_to_client"], "300000");
  if (s["mode"] == "sockmap") EXPECT_EQ(s["end"], "eof");
  else EXPECT_EQ(s["end"], "client-eof") << stack.proxy->err();
}

SP_INSTANTIATE_FOR_ALL_MODES(SessionLogsModes);

}  // namespace
}  // namespace sp::test
