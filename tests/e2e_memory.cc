// The memory budget end to end: many connections busy at once, each pushing bytes at a remote that
// never reads, so every client -> remote direction ends up holding what it last read. Growth past
// the lowest rung (16 KiB) must stop at --memory-budget; without the budget each direction would
// climb to the size its socket buffers absorbed (hundreds of KiB) and hold that.
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

class MemoryBudget : public ::testing::TestWithParam<std::string> {};

uint64_t held_bytes(const nlohmann::json& snap) {
  uint64_t held = 0;
  for (const auto& w : snap.value("workers", nlohmann::json::array()))
    held += w["counters"].value("buffer_bytes_held", uint64_t{0}) + w["counters"].value("pipe_bytes_held", uint64_t{0});
  return held;
}

TEST_P(MemoryBudget, BusyConnectionsHoldNoMoreThanTheBudget) {
  rlimit lim;
  ::getrlimit(RLIMIT_NOFILE, &lim);
  size_t connections = std::min<size_t>(1000, (lim.rlim_cur - 64) / 2);
  if (connections < 200) GTEST_SKIP() << "RLIMIT_NOFILE " << lim.rlim_cur << " is too low for this test";
  if (GetParam() == "sockmap")
    GTEST_SKIP() << "sockmap: the bytes wait in the kernel (bounded per session by the relay's hold: "
                    "docs/sockmap.md), not in buffers or pipes: nothing for --memory-budget to govern";

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
  // Push until every connection is held back (bounded: 20 s), so each direction has climbed as
  // far as its socket buffers let it and holds its last read.
  size_t blocked = 0;
  for (auto end = std::chrono::steady_clock::now() + 20s; blocked < connections && std::chrono::steady_clock::now() < end;) {
    blocked = 0;
    for (auto& c : clients) {
      int tries = 0;
      while (tries++ < 4 && ::send(c.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL) > 0) {}
      if (tries <= 4) ++blocked;
    }
    accept_pending();
    std::this_thread::sleep_for(20ms);
  }
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
  EXPECT_LE(held, kBudget + connections * kLowestRung) << "pumps grew past the memory budget";
  EXPECT_GT(refusals, 0u) << "the budget never said no: raise the load";
  if (GetParam() != "splice" && !kSanitized) {
    // Pipes are kernel memory; buffers are ours: held ones, plus what the pools keep idle per rung.
    EXPECT_LE(rss_growth, kBudget + connections * kLowestRung + (32u << 20));
  }
}

SP_INSTANTIATE_FOR_ALL_MODES(MemoryBudget);

}  // namespace
}  // namespace sp::test
