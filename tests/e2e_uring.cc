// --mode uring end to end, beyond the suites every mode runs: the stats show the mode in effect
// and the ring's counters; where io_uring is refused (a seccomp filter, as Docker's default
// profile does) the proxy says so once, names the remedy, and relays with read/write.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/stack.h"
#include "tests/support/stats.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;

TEST(UringE2E, StatsShowTheModeInEffectAndTheRingsWork) {
  uint16_t stats_port = free_port();
  ProxyStack stack("uring", {"--stats", "127.0.0.1:" + std::to_string(stats_port), "-w", "1", "--stats-interval", "0.1"});
  ASSERT_TRUE(wait_for_port(stats_port));
  ASSERT_TRUE(echoes(stack.proxy_port, 4 << 20));
  std::this_thread::sleep_for(300ms);  // a sample after the traffic
  auto snap = stats_snapshot(stats_port);
  EXPECT_EQ(snap.value("mode", ""), "uring");
  EXPECT_EQ(snap.value("mode_effective", ""), "uring");
  EXPECT_EQ(snap["workers"][0].value("mode_effective", ""), "uring") << "the worker's own mode";
  const auto& c = snap["workers"][0]["counters"];
  EXPECT_GT(c.value("uring_enters", 0), 0);
  EXPECT_GT(c.value("uring_submissions", 0), 0);
  EXPECT_GT(c.value("uring_completions", 0), 0);
  EXPECT_EQ(c.value("read_calls", 1), 0) << "bytes went through the read/write pump, not the ring";
  EXPECT_GE(c.value("bytes_in", 0), 4 << 20);
}

TEST(UringE2E, RefusedIoUringFallsBackToReadWriteAndSaysWhyOnce) {
  RefusedSyscallStack stack("io_uring_setup", "uring");
  ChildProcess& proxy = *stack.proxy;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(echoes(stack.proxy_port, 1 << 20));
  std::this_thread::sleep_for(300ms);
  auto snap = stats_snapshot(stack.stats_port);
  EXPECT_EQ(snap.value("mode", ""), "uring");
  EXPECT_EQ(snap.value("mode_effective", ""), "rw");
  for (const auto& w : snap["workers"]) EXPECT_EQ(w.value("mode_effective", ""), "rw") << "a worker's own mode";
  uint64_t reads = 0;
  for (const auto& w : snap["workers"]) reads += w["counters"].value("read_calls", uint64_t{0});
  EXPECT_GT(reads, 0u);
  proxy.signal(SIGTERM);
  ASSERT_EQ(proxy.wait(10s), 0);
  std::string err = proxy.err();
  EXPECT_EQ(occurrences(err, "--mode uring: io_uring_setup: "), 1u) << err;
  EXPECT_NE(err.find("relaying with read/write"), std::string::npos) << err;
  EXPECT_NE(err.find("seccomp profile"), std::string::npos) << "no remedy named: " << err;
}

TEST(UringE2E, BusyPollIsRefusedWithUring) {
  auto r = run({bin("proxy"), "--mode", "uring", "--busy-poll", "50"}, 5s);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--busy-poll does not apply to --mode uring"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sp::test
