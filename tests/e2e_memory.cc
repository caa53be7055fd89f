// The memory budget end to end: many connections busy, each pushing bytes at a remote that never
// reads, so every client -> remote direction ends up holding what it last read. Growth past the
// lowest rung (16 KiB) must stop at --memory-budget; without the budget each direction would hold
// the largest rung it climbed to.
//
// A direction climbs only to what one turn can fill, and a turn is one round's bytes divided among
// the sessions waiting (server/paths/turn_budget.h): 1,000 connections pushed at once wait together and
// stay at 16 KiB, which no budget needs to stop. So the connections are pushed two at a time, as
// bulk uploads that arrive one after another: each climbs to a large rung (128-256 KiB), stalls and
// keeps it. With the budget check disabled, 128 of them held 20 MiB (rw, auto) and 41 MiB of pipes
// (splice) against the 8 MiB budget, and this test failed.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>
#include <vector>

#include "common/address.h"
#include "common/socket.h"
#include "tests/support/modes.h"
#include "tests/support/sanitizers.h"
#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/stack.h"
#include "tests/support/stats.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kBudget = 8 << 20;
constexpr uint64_t kLowestRung = 16 << 10;
constexpr size_t kConnections = 128;
constexpr size_t kPushedTogether = 2;  // sessions sharing a round while they climb: turns of 128 KiB

class MemoryBudget : public ::testing::TestWithParam<std::string> {};

// Buffers and pipes: in sockmap mode the buffers that move held bytes on (what that mode leaves
// queued in the kernel is bounded per direction by its hold: e2e_sockmap_budget.cc).
uint64_t held_bytes(const nlohmann::json& snap) {
  return worker_sum(snap, "buffer_bytes_held") + worker_sum(snap, "pipe_bytes_held");
}

TEST_P(MemoryBudget, BusyConnectionsHoldNoMoreThanTheBudget) {
  rlimit lim;
  ::getrlimit(RLIMIT_NOFILE, &lim);
  size_t connections = std::min<size_t>(kConnections, (lim.rlim_cur - 64) / 2);
  if (connections < kConnections) GTEST_SKIP() << "RLIMIT_NOFILE " << lim.rlim_cur << " is too low for this test";

  Fd listener = listen_tcp(resolve(HostPort{"127.0.0.1", 0}, true).front());
  uint16_t remote_port = local_address(listener.get()).port();
  uint16_t port = free_port(), stats_port = free_port();
  auto proxy = start_proxy(port, remote_port, GetParam(),
                           {"-w", "1", "--memory-budget", std::to_string(kBudget), "--stats",
                            "127.0.0.1:" + std::to_string(stats_port)});
  ASSERT_TRUE(wait_for_port(stats_port));
  std::vector<Fd> remotes;  // accepted, never read
  auto accept_pending = [&] {
    int err = 0;
    while (Fd fd = accept_nonblocking(listener.get(), &err)) remotes.push_back(std::move(fd));
  };
  std::this_thread::sleep_for(200ms);
  accept_pending();
  uint64_t rss_before = rss_bytes(proxy->pid());

  std::vector<Fd> clients;
  for (size_t i = 0; i < connections; ++i) {
    clients.push_back(connect_to(port, 5s));
    set_nonblocking(clients.back().get());
    if (i % 64 == 0) accept_pending();
  }
  auto chunk = random_bytes(64 << 10, 11);
  // One pass of sends on each connection of [from, to): true when every one of them filled its
  // socket (the proxy is holding that direction back).
  auto push = [&](size_t from, size_t to) {
    size_t blocked = 0;
    for (size_t i = from; i < to; ++i) {
      int tries = 0;
      while (tries++ < 4 && ::send(clients[i].get(), chunk.data(), chunk.size(), MSG_NOSIGNAL) > 0) {}
      if (tries <= 4) ++blocked;
    }
    accept_pending();
    return blocked == to - from;
  };
  // Push a few connections at a time until they are held back (bounded: 20 s in all), so each
  // direction climbs as far as its turns let it and holds its last read; then check them all.
  auto end = std::chrono::steady_clock::now() + 20s;
  for (size_t from = 0; from < connections; from += kPushedTogether) {
    size_t to = std::min(connections, from + kPushedTogether);
    while (!push(from, to) && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(2ms);
  }
  while (!push(0, connections) && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(20ms);
  std::this_thread::sleep_for(1500ms);  // the last sends reach the proxy; a stats tick passes
  accept_pending();
  EXPECT_EQ(remotes.size(), connections + 1) << "the proxy did not connect every session";

  nlohmann::json snap = stats_snapshot(stats_port);
  ASSERT_TRUE(snap.contains("workers"));
  uint64_t held = held_bytes(snap);
  // The pumps' budget says no to growth; the ring's pool, sized within the budget, runs dry.
  const char* refusal = GetParam() == "uring" ? "uring_enobufs" : "budget_refusals";
  uint64_t refusals = snap["workers"][0]["counters"].value(refusal, uint64_t{0});
  uint64_t rss_growth = rss_bytes(proxy->pid()) - rss_before;
  RecordProperty("connections", static_cast<int>(connections));
  RecordProperty("held_bytes", static_cast<int>(held));
  RecordProperty("rss_growth", static_cast<int>(rss_growth));
  std::printf("%zu busy connections: %.1f MiB held, RSS +%.1f MiB, %lu %s\n", connections, held / 1048576.0,
              rss_growth / 1048576.0, static_cast<unsigned long>(refusals), refusal);
  EXPECT_GT(held, connections * kLowestRung / 2) << "the directions were not holding data: the test proves nothing";
  EXPECT_LE(held, kBudget + connections * kLowestRung) << "grew past the memory budget";
  EXPECT_GT(refusals, 0u) << "the budget never said no: raise the load";
  if (GetParam() != "splice" && !kSanitized) {
    // Pipes are kernel memory; buffers are ours: held ones, plus what the pools keep idle per rung.
    EXPECT_LE(rss_growth, kBudget + connections * kLowestRung + (32u << 20));
  }
}

SP_INSTANTIATE_FOR_ALL_MODES(MemoryBudget);

}  // namespace
}  // namespace sp::test
