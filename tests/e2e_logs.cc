// The logs end to end (issue 25): every line stamped (RFC 3339, ms) or, under systemd, prefixed
// with the journal's priority; --log-format json; and the session log line, whose fields are
// checked for a normal end, a reset from either side and a connect failure, in text and in JSON.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "common/socket.h"
#include "tests/support/modes.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;
using Fields = std::map<std::string, std::string>;  // numbers as their decimal text

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// key=value pairs after the message of a text line; a quoted value is a JSON string.
Fields text_fields(const std::string& rest) {
  Fields f;
  size_t i = 0;
  while (i < rest.size()) {
    size_t eq = rest.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = rest.substr(i, eq - i);
    size_t end = eq + 1;
    std::string value;
    if (end < rest.size() && rest[end] == '"') {
      for (++end; end < rest.size() && rest[end] != '"'; ++end)
        if (rest[end] == '\\') ++end;
      ++end;
      value = nlohmann::json::parse(rest.substr(eq + 1, end - eq - 1)).get<std::string>();
    } else {
      end = rest.find(' ', end);
      if (end == std::string::npos) end = rest.size();
      value = rest.substr(eq + 1, end - eq - 1);
    }
    f[key] = value;
    i = end + 1;
  }
  return f;
}

// The fields of every line whose message is `msg` (text: "proxy: LEVEL: msg key=value...").
std::vector<Fields> lines_with(const std::string& log, const std::string& format, const std::string& msg) {
  std::vector<Fields> out;
  for (const std::string& line : lines_of(log)) {
    if (format == "json") {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || j.value("msg", "") != msg) continue;
      Fields f;
      for (auto& [k, v] : j.items()) f[k] = v.is_string() ? v.get<std::string>() : v.dump();
      out.push_back(f);
      continue;
    }
    static const std::regex shape(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z proxy: (\w+): (.*)$)");
    std::smatch m;
    if (!std::regex_match(line, m, shape)) continue;
    std::string rest = m[2];
    if (rest.rfind(msg + " ", 0) != 0) continue;
    Fields f = text_fields(rest.substr(msg.size() + 1));
    f["level"] = m[1];
    out.push_back(f);
  }
  return out;
}

// Waits (bounded) for the proxy to have logged `count` session lines.
std::vector<Fields> sessions(ChildProcess& proxy, const std::string& format, size_t count = 1) {
  std::vector<Fields> found;
  for (int i = 0; i < 250; ++i) {
    found = lines_with(proxy.err(), format, "session");
    if (found.size() >= count) break;
    std::this_thread::sleep_for(20ms);
  }
  return found;
}

std::string loopback(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// A proxy on `port` to 127.0.0.1:remote, waited for by its start line rather than with a probe
// connection (wait_for_port's): a probe would be a session with a line of its own, and its connect
// failure would take the once-a-second warning.
std::unique_ptr<ChildProcess> quiet_proxy(uint16_t port, uint16_t remote, const std::vector<std::string>& extra) {
  auto proxy = std::make_unique<ChildProcess>(
      with_args({bin("proxy"), "-s", loopback(port), "-r", loopback(remote), "--mode", "rw", "-w", "1", "--stats", "off"},
                extra));
  for (int i = 0; i < 500 && proxy->err().find("listening on") == std::string::npos; ++i)
    std::this_thread::sleep_for(20ms);
  if (proxy->err().find("listening on") == std::string::npos)
    throw std::runtime_error("proxy did not start: " + proxy->err());
  return proxy;
}

// An echo server and a quiet proxy in front of it.
struct EchoStack {
  explicit EchoStack(const std::vector<std::string>& proxy_args, const std::vector<std::string>& server_args = {}) {
    server = std::make_unique<ChildProcess>(
        with_args({bin("tcp_ping_server"), "-s", loopback(server_port), "-w", "1"}, server_args));
    if (!wait_for_port(server_port)) throw std::runtime_error("tcp_ping_server did not start: " + server->err());
    proxy = quiet_proxy(proxy_port, server_port, proxy_args);
  }
  uint16_t server_port = free_port();
  uint16_t proxy_port = free_port();
  std::unique_ptr<ChildProcess> server;
  std::unique_ptr<ChildProcess> proxy;
};

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
  Fd c = connect_to(port);
  std::string client = local_address(c.get()).to_string();
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

// -v logs sessions (as -h always said); without it or --log-sessions there are none.
TEST(Logs, SessionLinesOnWithVerboseOffByDefault) {
  EchoStack quiet({});
  EchoStack verbose({"-v"});
  for (EchoStack* s : {&quiet, &verbose}) ASSERT_TRUE(echoes(s->proxy_port, 1000));
  EXPECT_EQ(sessions(*verbose.proxy, "text").size(), 1u) << verbose.proxy->err();
  EXPECT_EQ(lines_with(quiet.proxy->err(), "text", "session").size(), 0u) << quiet.proxy->err();
  // Every line is stamped: the start line too.
  std::string first = lines_of(quiet.proxy->err()).at(0);
  EXPECT_TRUE(std::regex_search(first, std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z proxy: info: listening on )")))
      << first;
}

// --log-format json: every line an object; the ping server shares the flag.
TEST(Logs, JsonEveryLineAnObject) {
  EchoStack stack({"--log-format", "json"}, {"--log-format", "json"});
  for (ChildProcess* p : {stack.proxy.get(), stack.server.get()}) {
    auto lines = lines_of(p->err());
    ASSERT_FALSE(lines.empty());
    for (const auto& line : lines) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      ASSERT_TRUE(j.is_object()) << line;
      EXPECT_TRUE(j.contains("ts") && j.contains("level") && j.contains("program") && j.contains("msg")) << line;
    }
  }
  EXPECT_EQ(nlohmann::json::parse(lines_of(stack.server->err()).at(0))["program"], "tcp_ping_server");
}

// Under systemd (JOURNAL_STREAM names stderr's device and inode) text lines carry the journal's
// priority instead of a time; a JOURNAL_STREAM that names another file changes nothing.
TEST(Logs, JournalPrefixWhenStderrIsTheJournalStream) {
  char dir_template[] = "/tmp/e2e_logs_XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  std::string dir = dir_template;
  uint16_t nothing = free_port();
  for (bool matching : {true, false}) {
    uint16_t port = free_port();
    std::string log = dir + (matching ? "/journal" : "/other");
    std::string stream = matching ? "$(stat -c %d:%i " + log + ")" : "1:1";
    ChildProcess proxy({"/bin/sh", "-c",
                        "exec 2>" + log + "; JOURNAL_STREAM=" + stream + " exec " + bin("proxy") + " -s 127.0.0.1:" +
                            std::to_string(port) + " -r 127.0.0.1:" + std::to_string(nothing) + " --stats off -w 1"});
    ASSERT_TRUE(wait_for_port(port));
    Fd c = connect_to(port);
    read_to_eof(c.get());  // a connect failure: one warning
    std::string text;
    for (int i = 0; i < 250 && text.find("warn") == std::string::npos; ++i) {
      std::this_thread::sleep_for(20ms);
      std::ifstream in(log);
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    if (matching) {
      EXPECT_EQ(text.rfind("<6>proxy: info: listening on ", 0), 0u) << text;
      EXPECT_NE(text.find("\n<4>proxy: warn: connect "), std::string::npos) << text;
    } else {
      EXPECT_TRUE(std::regex_search(text, std::regex(R"(^\d{4}-\d\d-\d\dT[\d:.]+Z proxy: info: listening)"))) << text;
    }
    ::unlink(log.c_str());
  }
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace sp::test
