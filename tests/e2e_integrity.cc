// The scenarios that once handed a client a wrong byte or reset a healthy session, each run many
// times in every mode, bounded in runs and in time. Every byte is checked by tcp_ping_client.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/client_run.h"
#include "tests/support/modes.h"
#include "tests/support/net.h"
#include "tests/support/stack.h"
#include "tests/support/stats.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

uint64_t worker_sum(const nlohmann::json& snap, const char* name) {
  uint64_t sum = 0;
  for (const auto& w : snap["workers"]) sum += w["counters"].value(name, uint64_t{0});
  return sum;
}

// One worker, so that every session of a run shares it, and the stats socket.
struct IntegrityStack {
  explicit IntegrityStack(const std::string& mode)
      : stats_port(free_port()), stack(mode, {"-w", "1", "--stats", "127.0.0.1:" + std::to_string(stats_port)}) {}
  uint16_t stats_port;
  ProxyStack stack;
};

class Integrity : public ::testing::TestWithParam<std::string> {};

// The demo's bulk: one connection streams through an echo server and checks every byte it gets
// back. Through sockmap it got a repeated stretch in about one run of three (issue 21: the kernel
// relayed partly overlapping retransmissions whole), or was reset at the kernel queue's limit.
TEST_P(Integrity, BulkEchoStreamAgainAndAgain) {
  IntegrityStack s(GetParam());
  auto end = Clock::now() + 24s;
  int runs = 0;
  for (; runs < 8 && Clock::now() < end; ++runs) {
    auto r = client(s.stack.proxy_port, {"--mode", "stream", "-c", "1", "-t", "2", "-T", "2"});
    SCOPED_TRACE("run " + std::to_string(runs + 1));
    if (GetParam() == "sockmap") {
      // Until the kernel relay holds a sender back, a writer that outruns its reader is reset at
      // the queue limit (docs/sockmap.md); a byte lost or repeated without a reset never passes.
      EXPECT_EQ(r.summary["errors"]["mismatches"], 0) << describe(r);
      EXPECT_EQ(r.summary["errors"]["short_reads"], 0) << describe(r);
    } else {
      expect_clean(r);
    }
    if (HasFailure()) break;
    EXPECT_GT(r.summary["bytes_received"].get<uint64_t>(), 0u);
  }
  EXPECT_GE(runs, 3) << "too few runs in the time allowed to say anything";
  if (GetParam() != "sockmap") {
    EXPECT_EQ(worker_sum(stats_snapshot(s.stats_port), "resets"), 0u) << "the proxy counted resets no client saw";
  }
}

// Each of 100 connections streams 4 × 64 KiB, half-closes and reads the echo to its end. Through
// sockmap 6-58 of 100 sessions were reset ("Broken pipe"): the relayed FIN failed the destination.
TEST_P(Integrity, HalfClosingStreamsAgainAndAgain) {
  IntegrityStack s(GetParam());
  auto end = Clock::now() + 20s;
  int runs = 0;
  for (; runs < 5 && Clock::now() < end; ++runs) {
    auto r = client(s.stack.proxy_port, {"--mode", "stream", "-c", "100", "-n", "4", "-l", "64K", "-T", "5"});
    SCOPED_TRACE("run " + std::to_string(runs + 1));
    expect_clean(r);
    if (HasFailure()) break;
    EXPECT_EQ(r.summary["bytes_received"], 100u * 4 * 65536);
  }
  EXPECT_GE(runs, 2) << "too few runs in the time allowed to say anything";
  EXPECT_EQ(worker_sum(stats_snapshot(s.stats_port), "resets"), 0u) << "the proxy counted resets no client saw";
}

SP_INSTANTIATE_FOR_ALL_MODES(Integrity);

}  // namespace
}  // namespace sp::test
