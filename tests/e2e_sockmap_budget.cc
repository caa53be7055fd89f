// --mode sockmap keeps what its sessions queue in the kernel within --memory-budget: the program
// holds a direction once its queue reaches the worker's threshold, which the worker lowers as its
// sessions share the budget (server/paths/sockmap_budget.h), and the stats show both.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/socket.h"
#include "tests/support/net.h"
#include "tests/support/sockmap_stack.h"
#include "tests/support/stats.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Session {
  Fd client;
  Fd remote;
  uint64_t sent = 0;
  Clock::time_point moved_at = Clock::now();
  int err = 0;
};

// Sends on every session whose client is not held back yet, until each has been stalled for a
// second (or 20 s passed).
void push_until_every_client_stalls(std::vector<Session>& sessions) {
  constexpr size_t kChunk = 64 << 10;
  for (auto end = Clock::now() + 20s; Clock::now() < end;) {
    bool any_moving = false;
    for (Session& s : sessions) {
      if (s.err || Clock::now() - s.moved_at > 1s) continue;
      any_moving = true;
      auto chunk = stream_bytes(s.sent, kChunk);
      ssize_t n = ::send(s.client.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
      if (n > 0) {
        s.sent += static_cast<uint64_t>(n);
        s.moved_at = Clock::now();
      } else if (errno != EAGAIN) {
        s.err = errno;
      }
    }
    if (!any_moving) return;
    std::this_thread::sleep_for(1ms);
  }
}

bool arrives_in_order(int remote, uint64_t sent) {
  constexpr size_t kChunk = 256 << 10;
  std::vector<uint8_t> got(kChunk);
  for (uint64_t at = 0; at < sent; at += kChunk) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, sent - at));
    if (!read_exact(remote, got.data(), want)) return false;
    auto expected = stream_bytes(at, want);
    if (!std::equal(expected.begin(), expected.end(), got.begin())) return false;
  }
  return true;
}

// Eight sessions whose remote never reads, on one worker with a 4 MiB budget: the threshold is at
// most 4 MiB / 16 directions = 256 KiB (less once the buffers that move held bytes on are taken
// from the budget), so the kernel queues at most that and the segment that crossed it per
// direction (2.5 MiB in all) instead of 2 MiB per direction (16 MiB, which is what this test sees
// with the worker's threshold ignored).
TEST(SockmapE2E, WhatSessionsQueueInTheKernelStaysWithinTheBudget) {
  constexpr uint64_t kSessions = 8, kBudget = 4 << 20, kSegment = 64 << 10, kFloor = 64 << 10;
  uint16_t stats_port = free_port();
  ProxyToListener stack(stats_port, {"--memory-budget", "4M"});
  std::vector<Session> sessions(kSessions);
  for (Session& s : sessions) {
    s.client = connect_to(stack.port, 10s);
    s.remote = accept_remote(stack.listener.get());  // not read until every client stalled
    ASSERT_TRUE(s.client && s.remote);
    set_nonblocking(s.client.get());
  }
  push_until_every_client_stalls(sessions);
  for (const Session& s : sessions) ASSERT_EQ(s.err, 0) << "a client was reset: " << std::strerror(s.err);
  std::this_thread::sleep_for(1500ms);  // the worker measures the kernel's queues once a second

  nlohmann::json snap = stats_snapshot(stats_port);
  // The buffers that move held bytes on are paid first; the queues share the rest.
  uint64_t buffers = worker_sum(snap, "buffer_bytes_held") + worker_sum(snap, "pipe_bytes_held");
  const uint64_t share = kBudget / (2 * kSessions);  // before any buffer was taken: the most
  EXPECT_EQ(worker_sum(snap, "sockmap_hold_at_bytes"), std::max<uint64_t>((kBudget - std::min(buffers, kBudget)) / (2 * kSessions), kFloor))
      << snap.dump();
  uint64_t queued = worker_sum(snap, "sockmap_kernel_queued_bytes");
  EXPECT_LE(queued, kSessions * (share + kSegment)) << "queued in the kernel past the budget";
  EXPECT_LE(queued + buffers, kBudget + kSessions * kSegment) << "queues and buffers together past the budget";
  EXPECT_GE(queued, kSessions * kSegment) << "every session holds with a full queue: the gauge missed it";
  EXPECT_GE(worker_sum(snap, "sockmap_holds"), kSessions);

  for (size_t i = 0; i < sessions.size(); i++)
    EXPECT_TRUE(arrives_in_order(sessions[i].remote.get(), sessions[i].sent)) << "session " << i << " of " << sessions[i].sent << " bytes";
  snap = stats_snapshot(stats_port);
  EXPECT_EQ(worker_sum(snap, "resets"), 0u);
  EXPECT_EQ(worker_sum(snap, "sockmap_overflows"), 0u);
  EXPECT_TRUE(echoes_through(stack.port, stack.listener.get()));
}

}  // namespace
}  // namespace sp::test
