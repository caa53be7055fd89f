// End-to-end: source rules (--deny, --allow, --max-per-source, --rate-per-source) in every mode,
// with clients bound to different loopback addresses (127.0.0.1, .2, .3 are all this machine). A
// refused client is accepted and closed at once; an admitted one gets its bytes echoed; each
// refusal is counted per listener by its reason. With --reuseport the workers admit on their own.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/address.h"
#include "common/socket.h"
#include "tests/support/modes.h"
#include "tests/support/net.h"
#include "tests/support/stack.h"
#include "tests/support/stats.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;

// A connection from `source` to the proxy: admitted means it echoes "ping".
Fd connect_from(const std::string& source, uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  SocketAddress from = resolve(HostPort{source, 0}, false).at(0), to = resolve(HostPort{"127.0.0.1", port}, false).at(0);
  if (::bind(fd.get(), from.get(), from.length) != 0 || ::connect(fd.get(), to.get(), to.length) != 0)
    throw std::runtime_error("connect from " + source + " failed");
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

bool echoes_ping(int fd) {
  char reply[4] = {};
  return send_all(fd, "ping", 4) && read_exact(fd, reply, 4) && std::string(reply, 4) == "ping";
}

bool admitted(const std::string& source, uint16_t port) {
  Fd fd = connect_from(source, port);
  return echoes_ping(fd.get());
}

struct RulesStack {
  RulesStack(const std::string& mode, std::vector<std::string> rules) : stats(free_port()) {
    rules.insert(rules.end(), {"-w", "2", "--stats", "127.0.0.1:" + std::to_string(stats), "--stats-interval", "0.1"});
    stack = std::make_unique<ProxyStack>(mode, rules);
  }
  // The stats are sampled every 0.1 s: read after the next sample.
  uint64_t listener(const char* counter) {
    std::this_thread::sleep_for(250ms);
    return stats_snapshot(stats)["listeners"][0].value(counter, uint64_t{0});
  }
  uint16_t stats;
  std::unique_ptr<ProxyStack> stack;
};

class SourceRulesE2E : public ::testing::TestWithParam<std::string> {};

TEST_P(SourceRulesE2E, ADeniedSourceIsRefusedAndCountedOthersAreServed) {
  for (bool reuseport : {false, true}) {
    SCOPED_TRACE(reuseport ? "--reuseport" : "acceptor thread");
    std::vector<std::string> rules = {"--deny", "127.0.0.2/32", "--deny", "::ffff:127.0.0.4/128"};
    if (reuseport) rules.push_back("--reuseport");
    RulesStack s(GetParam(), rules);
    EXPECT_TRUE(admitted("127.0.0.1", s.stack->proxy_port));
    EXPECT_FALSE(admitted("127.0.0.2", s.stack->proxy_port));
    EXPECT_FALSE(admitted("127.0.0.4", s.stack->proxy_port));
    EXPECT_TRUE(admitted("127.0.0.3", s.stack->proxy_port));
    EXPECT_EQ(s.listener("denied"), 2u);
    EXPECT_EQ(s.listener("refused"), 2u);
    EXPECT_EQ(s.listener("accepted"), 5u);  // with the probe that saw the proxy listening
  }
}

TEST_P(SourceRulesE2E, OnlyAllowedSourcesAreServed) {
  RulesStack s(GetParam(), {"--allow", "127.0.0.0/31"});  // .0 and .1
  EXPECT_TRUE(admitted("127.0.0.1", s.stack->proxy_port));
  EXPECT_FALSE(admitted("127.0.0.2", s.stack->proxy_port));
  EXPECT_EQ(s.listener("denied"), 1u);
}

// From addresses other than 127.0.0.1, which the probe that waits for the proxy to listen uses.
// Two live connections per address: the third from the same address is refused while they live,
// another address is not, and a slot comes back when a session ends.
TEST_P(SourceRulesE2E, ACapOnLiveConnectionsPerSource) {
  RulesStack s(GetParam(), {"--max-per-source", "2"});
  uint16_t port = s.stack->proxy_port;
  Fd first = connect_from("127.0.0.5", port), second = connect_from("127.0.0.5", port);
  ASSERT_TRUE(echoes_ping(first.get()));
  ASSERT_TRUE(echoes_ping(second.get()));
  EXPECT_FALSE(admitted("127.0.0.5", port));
  Fd other = connect_from("127.0.0.6", port);
  EXPECT_TRUE(echoes_ping(other.get()));
  first.reset();
  bool again = false;
  for (int i = 0; i < 50 && !again; ++i) {  // the session ends a moment after the client closes
    std::this_thread::sleep_for(20ms);
    again = admitted("127.0.0.5", port);
  }
  EXPECT_TRUE(again) << "the slot of a closed session was not given back";
  EXPECT_GE(s.listener("over_source_cap"), 1u);
}

// At 5 a second with a burst of 5: ten connects in a row let five through, plus the tokens that
// refilled while they were made (one per 0.2 s), and after a second there is room again.
TEST_P(SourceRulesE2E, ARateOfNewConnectionsPerSource) {
  RulesStack s(GetParam(), {"--rate-per-source", "5"});
  int served = 0;
  auto begun = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) served += admitted("127.0.0.5", s.stack->proxy_port);
  double took_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - begun).count();
  EXPECT_GE(served, 5);
  EXPECT_LE(served, 5 + static_cast<int>(took_s * 5) + 1) << "in " << took_s << " s";
  EXPECT_EQ(s.listener("over_source_rate"), static_cast<uint64_t>(10 - served));
  std::this_thread::sleep_for(1100ms);
  EXPECT_TRUE(admitted("127.0.0.5", s.stack->proxy_port));
}

SP_INSTANTIATE_FOR_ALL_MODES(SourceRulesE2E);

}  // namespace
}  // namespace sp::test
