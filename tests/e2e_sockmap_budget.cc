// --mode sockmap, what its sessions hold: in the kernel, each direction queues at most the hold
// threshold (2 MiB) and the segment that crossed it, and the stats show the sum; in the proxy, the
// buffers that move held bytes on come from the worker's pool within --memory-budget.
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

// Empty when every byte sent arrived, in order; else what went wrong, and where. *longest_gap: the
// longest wait for a chunk.
std::string arrival_error(int remote, uint64_t sent, Clock::duration* longest_gap = nullptr) {
  constexpr size_t kChunk = 256 << 10;
  std::vector<uint8_t> got(kChunk);
  for (uint64_t at = 0; at < sent; at += kChunk) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, sent - at));
    auto asked = Clock::now();
    if (!read_exact(remote, got.data(), want)) return "nothing for 10 s, or the end, at byte " + std::to_string(at);
    if (longest_gap) *longest_gap = std::max(*longest_gap, Clock::now() - asked);
    auto expected = stream_bytes(at, want);
    auto diff = std::mismatch(expected.begin(), expected.end(), got.begin());
    if (diff.first != expected.end()) return "wrong byte at " + std::to_string(at + (diff.first - expected.begin()));
  }
  return "";
}

// Eight sessions whose remote never reads, on one worker with a 1 MiB budget. Each direction
// holds once 2 MiB wait in the kernel for its destination: the gauge shows 8 × 2 MiB and at most a
// segment more each (16.8 MB measured; 0 without the measurement). Each held direction reads into
// a move buffer: 256 KiB while the budget allows, then 16 KiB (2 MiB of them without the budget).
TEST(SockmapE2E, TheKernelQueuesAHoldPerDirectionAndHeldBytesMoveWithinTheBudget) {
  constexpr uint64_t kSessions = 8, kBudget = 1 << 20, kHold = 2 << 20, kSegment = 64 << 10, kSmallest = 16 << 10;
  uint16_t stats_port = free_port();
  ProxyToListener stack(stats_port, {"--memory-budget", "1M"});
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
  EXPECT_GE(worker_sum(snap, "sockmap_holds"), kSessions);
  uint64_t queued = worker_sum(snap, "sockmap_kernel_queued_bytes");
  EXPECT_GE(queued, kSessions * kHold) << "every direction holds with a full queue: the gauge missed it";
  EXPECT_LE(queued, kSessions * (kHold + kSegment)) << "queued in the kernel past the hold";
  uint64_t buffers = worker_sum(snap, "buffer_bytes_held");
  EXPECT_GE(buffers, kSessions * kSmallest) << "held directions move their bytes through pool buffers";
  EXPECT_LE(buffers, kBudget + kSessions * kSmallest) << "move buffers past the budget";
  EXPECT_GT(worker_sum(snap, "budget_refusals"), 0u);

  // Every remote reads at once. (One after another, under TSan, the later sessions' senders sat in
  // TCP's zero-window probing with a 21 s backoff by the time their remote read, and the reads
  // timed out: a finding of its own, in docs/sockmap.md.)
  std::vector<std::string> errors(kSessions);
  std::vector<std::thread> readers;
  for (size_t i = 0; i < kSessions; i++)
    readers.emplace_back([&, i] { errors[i] = arrival_error(sessions[i].remote.get(), sessions[i].sent); });
  for (std::thread& reader : readers) reader.join();
  for (size_t i = 0; i < kSessions; i++) EXPECT_EQ(errors[i], "") << "session " << i << " of " << sessions[i].sent << " bytes";
  snap = stats_snapshot(stats_port);
  EXPECT_EQ(worker_sum(snap, "resets"), 0u);
  EXPECT_EQ(worker_sum(snap, "sockmap_overflows"), 0u);
  EXPECT_TRUE(echoes_through(stack.port, stack.listener.get()));
}

// Four held sessions whose remotes start reading 2 s apart: each sender resumes at once, however
// long it was held. Reopening the window raised TCP's rcv_ssthresh only to the window last
// advertised, the minimum after a hold, so no update went out and each sender waited for its next
// zero-window probe, whose backoff had grown with the hold: the later sessions' longest waits were
// 1.6–6.7 s (bench/repro/sockmap-long-hold.py); reopened wide (server/paths/sockmap_window.h), 0.01 s.
TEST(SockmapE2E, AHeldSenderResumesAtOnceHoweverLongItWasHeld) {
  constexpr size_t kSessions = 4;
  uint16_t stats_port = free_port();
  ProxyToListener stack(stats_port);
  std::vector<Session> sessions(kSessions);
  for (Session& s : sessions) {
    s.client = connect_to(stack.port, 10s);
    s.remote = accept_remote(stack.listener.get());
    ASSERT_TRUE(s.client && s.remote);
    set_nonblocking(s.client.get());
  }
  push_until_every_client_stalls(sessions);
  for (const Session& s : sessions) ASSERT_EQ(s.err, 0) << "a client was reset: " << std::strerror(s.err);
  for (size_t i = 0; i < kSessions; i++) {
    if (i) std::this_thread::sleep_for(2s);
    Clock::duration gap{};
    EXPECT_EQ(arrival_error(sessions[i].remote.get(), sessions[i].sent, &gap), "") << "session " << i;
    EXPECT_LT(gap, 1s) << "session " << i << ", held " << 2 * i
                       << " s longer than the first, waited this long for its sender";
  }
  auto snap = stats_snapshot(stats_port);
  EXPECT_GE(worker_sum(snap, "sockmap_holds"), kSessions);
  EXPECT_EQ(worker_sum(snap, "resets"), 0u);
}

}  // namespace
}  // namespace sp::test
