// The logs end to end (issue 25): every line stamped (RFC 3339, ms) or, under systemd, prefixed
// with the journal's priority; --log-format json on both servers; -v turns the session log on.
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

// -v logs sessions (as -h always said); without it or --log-sessions there are none.
TEST(Logs, SessionLinesOnWithVerboseOffByDefault) {
  EchoStack quiet({});
  EchoStack verbose({"-v"});
  for (EchoStack* s : {&quiet, &verbose}) ASSERT_TRUE(echoes(s->proxy_port, 1000));
  EXPECT_EQ(sessions(*verbose.proxy, "text").size(), 1u) << verbose.proxy->err();
  EXPECT_EQ(lines_with(quiet.proxy->err(), "text", "session").size(), 0u) << quiet.proxy->err();
  // Every line is stamped: the start line too.
  std::string first = lines_of(quiet.proxy->err()).at(0);
  EXPECT_TRUE(starts_with_timestamp(first) && first.compare(kTimestampLength, 26, "proxy: info: listening on ") == 0)
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
    std::string client;
    Fd c = connect_bound(port, &client);
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
      EXPECT_TRUE(starts_with_timestamp(text) && text.compare(kTimestampLength, 22, "proxy: info: listening") == 0) << text;
    }
    ::unlink(log.c_str());
  }
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace sp::test
