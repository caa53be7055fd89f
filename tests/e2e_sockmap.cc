// --mode sockmap end to end, beyond the suites every mode runs: the kernel does the relaying (the
// stats show it and no pump ran), bytes that arrive before the sockets enter the maps come first,
// a half-close waits for what the kernel still queues, a remote that never reads stalls its client
// (the relay holds the sender back) and loses nothing, both destinations get a wide send buffer
// within the memory budget, 2,000 echoes at once all finish, new sessions go to splice past
// --sockmap-tcp-memory, and where bpf(2) is refused the proxy says so once, names the remedy and relays with splice.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/address.h"
#include "common/socket.h"
#include "metrics/proc.h"
#include "tests/support/client_run.h"
#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/sockmap_stack.h"
#include "tests/support/stack.h"
#include "tests/support/stats.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;

TEST(SockmapE2E, TheKernelRelaysAndTheStatsCountItsBytes) {
  uint16_t stats_port = free_port();
  ProxyStack stack("sockmap", {"--stats", "127.0.0.1:" + std::to_string(stats_port), "-w", "1", "--stats-interval", "0.1"});
  ASSERT_TRUE(wait_for_port(stats_port));
  // wait_for_port's probe closed before the proxy's connect completed: a socket past ESTABLISHED
  // cannot enter a sockmap, so that session fell back to splice. Count from after it.
  std::this_thread::sleep_for(300ms);
  auto before = stats_snapshot(stats_port);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(echoes(stack.proxy_port, 4 << 20));
  std::this_thread::sleep_for(300ms);  // a sample after the sessions closed
  auto snap = stats_snapshot(stats_port);
  auto delta = [&](const char* name) { return worker_sum(snap, name) - worker_sum(before, name); };
  EXPECT_EQ(snap.value("mode", ""), "sockmap");
  ASSERT_EQ(snap.value("mode_effective", ""), "sockmap") << "the kernel relay was refused here";
  EXPECT_EQ(delta("sockmap_sessions"), 3u);
  EXPECT_EQ(delta("sockmap_fallbacks"), 0u);
  EXPECT_EQ(delta("sockmap_declined"), 0u) << "the kernel's TCP memory is past --sockmap-tcp-memory here";
  EXPECT_EQ(delta("read_calls") + delta("splice_calls"), 0u) << "bytes went through a pump, not the kernel";
  // Counted by the program itself, exactly: three sessions of 4 MiB each way.
  EXPECT_EQ(delta("bytes_in"), 3u * (4 << 20));
  EXPECT_EQ(delta("bytes_out"), 3u * (4 << 20));
}

// A client that speaks at once and a server that greets at once: both sides' first bytes wait in
// the proxy's sockets before they enter the maps, and must still arrive, first and in order.
TEST(SockmapE2E, BytesQueuedBeforeTheSocketsEnterTheMapsArriveFirst) {
  ProxyToListener stack;
  Fd& listener = stack.listener;
  uint16_t port = stack.port;
  for (int round = 0; round < 5; ++round) {
    auto hello = random_bytes(100 << 10, 20 + round), greeting = random_bytes(60 << 10, 40 + round);
    auto late = random_bytes(10 << 10, 60 + round);
    Fd client = connect_to(port, 10s);
    ASSERT_TRUE(send_all(client.get(), hello.data(), hello.size()));  // before the proxy can connect
    Fd remote = accept_remote(listener.get());
    ASSERT_TRUE(remote);
    ASSERT_TRUE(send_all(remote.get(), greeting.data(), greeting.size()));
    std::vector<uint8_t> got(hello.size()), back(greeting.size());
    ASSERT_TRUE(read_exact(remote.get(), got.data(), got.size())) << "round " << round;
    EXPECT_EQ(got, hello) << "round " << round;
    ASSERT_TRUE(read_exact(client.get(), back.data(), back.size())) << "round " << round;
    EXPECT_EQ(back, greeting) << "round " << round;
    // And what follows, through the program.
    ASSERT_TRUE(send_all(client.get(), late.data(), late.size()));
    std::vector<uint8_t> got_late(late.size());
    ASSERT_TRUE(read_exact(remote.get(), got_late.data(), got_late.size()));
    EXPECT_EQ(got_late, late);
  }
}

// The client sends 32 MiB and half-closes at once, while the remote does not read for a while: the
// FIN reaches the proxy with megabytes still queued in the kernel (the naive teardown lost them),
// and the EOF must come after every byte.
TEST(SockmapE2E, HalfCloseWaitsUntilEveryQueuedByteLeft) {
  uint16_t stats_port = free_port();
  ProxyToListener stack(stats_port);
  Fd& listener = stack.listener;
  uint16_t port = stack.port;
  auto data = random_bytes(32 << 20, 5);
  Fd client = connect_to(port, 30s);
  Fd remote = accept_remote(listener.get());
  ASSERT_TRUE(remote);
  std::thread sender([&] {
    send_all(client.get(), data.data(), data.size());
    ::shutdown(client.get(), SHUT_WR);
  });
  std::this_thread::sleep_for(700ms);  // the remote reads nothing yet: the kernel's queue fills
  bool clean = false;
  auto got = read_to_eof(remote.get(), &clean);
  sender.join();
  EXPECT_TRUE(clean) << "the remote's stream did not end with a clean EOF";
  ASSERT_EQ(got.size(), data.size()) << "bytes lost before the EOF";
  EXPECT_EQ(sha256_hex(got), sha256_hex(data));
  // The other direction still works after the half-close, and ends too.
  const std::string reply = "all received";
  ASSERT_TRUE(send_all(remote.get(), reply.data(), reply.size()));
  remote.reset();
  auto answer = read_to_eof(client.get(), &clean);
  EXPECT_TRUE(clean);
  EXPECT_EQ(std::string(answer.begin(), answer.end()), reply);
  auto snap = stats_snapshot(stats_port);
  ASSERT_EQ(snap.value("mode_effective", ""), "sockmap");
  EXPECT_EQ(worker_sum(snap, "sockmap_overflows"), 0u);
}

// Bytes that say where they are in the stream (each aligned 8-byte word holds its own offset,
// little-endian), so that a stretch repeated, lost or out of order anywhere shows.
std::vector<uint8_t> stream_bytes(uint64_t offset, size_t length) {
  std::vector<uint8_t> out(length);
  for (size_t i = 0; i < length; ++i) {
    uint64_t at = offset + i;
    out[i] = static_cast<uint8_t>((at & ~uint64_t{7}) >> (8 * (at & 7)));
  }
  return out;
}

// Against a remote that does not read, the kernel alone would queue without end (a client pushed
// 2 GB in 2 s). The relay holds the sender back (docs/sockmap.md): the client stalls with the
// kernel holding a bounded amount, is not reset, and once the remote reads every byte arrives in
// order.
TEST(SockmapE2E, ANeverReadingRemoteStallsItsClientAndLosesNothing) {
  uint16_t stats_port = free_port();
  ProxyToListener stack(stats_port);
  Fd client = connect_to(stack.port, 30s);
  Fd remote = accept_remote(stack.listener.get());  // not read until the client stalls
  ASSERT_TRUE(remote);
  set_nonblocking(client.get());
  constexpr size_t kChunk = 64 << 10;
  uint64_t sent = 0;
  int err = 0;
  auto stalled_since = std::chrono::steady_clock::now();
  for (auto end = stalled_since + 15s; !err && std::chrono::steady_clock::now() < end;) {
    auto chunk = stream_bytes(sent, kChunk);
    ssize_t n = ::send(client.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<uint64_t>(n);
      stalled_since = std::chrono::steady_clock::now();
    } else if (errno == EAGAIN) {
      if (std::chrono::steady_clock::now() - stalled_since > 1s) break;  // held back: the point
      std::this_thread::sleep_for(2ms);
    } else {
      err = errno;
    }
  }
  ASSERT_EQ(err, 0) << "the client was reset after " << (sent >> 20) << " MiB: " << std::strerror(err);
  // What the path can hold: the client's and the remote's socket buffers (up to 4 and 32 MiB here),
  // the proxy's destination send buffer (16 MiB), its source's receive buffer (4 MiB) and what the
  // kernel queues before the relay holds (2 MiB). Without the hold the client never stalled.
  EXPECT_LT(sent, 80u << 20) << "the sender was not held back";
  auto snap = stats_snapshot(stats_port);
  EXPECT_GE(worker_sum(snap, "sockmap_holds"), 1u);
  EXPECT_EQ(worker_sum(snap, "sockmap_overflows"), 0u);
  // Now the remote reads all of it, in order.
  std::vector<uint8_t> got(kChunk);
  for (uint64_t at = 0; at < sent; at += kChunk) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, sent - at));
    ASSERT_TRUE(read_exact(remote.get(), got.data(), want)) << "at " << at << " of " << sent;
    auto expected = stream_bytes(at, want);
    auto diff = std::mismatch(got.begin(), got.begin() + static_cast<ptrdiff_t>(want), expected.begin());
    ASSERT_TRUE(diff.first == got.begin() + static_cast<ptrdiff_t>(want))
        << "wrong byte at offset " << at + static_cast<uint64_t>(diff.first - got.begin()) << " of " << sent;
  }
  std::this_thread::sleep_for(300ms);  // a sample taken after the last byte moved
  auto after = stats_snapshot(stats_port);
  EXPECT_EQ(worker_sum(after, "resets"), 0u);
  // The kernel relayed what came before the hold (2 MiB queued at least); the worker moved on the
  // held rest, and both count in bytes_in.
  EXPECT_EQ(worker_sum(after, "bytes_in"), sent);
  EXPECT_GE(worker_sum(after, "sockmap_moved_bytes"), 1u << 20) << after.dump();
  EXPECT_LE(worker_sum(after, "sockmap_moved_bytes"), sent - (2u << 20));
  EXPECT_TRUE(echoes_through(stack.port, stack.listener.get()));
}

// One session through `stack` that moved `bulk` bytes to the remote, and the send buffers (ss's
// skmem tb) of the proxy's two sockets of it.
std::vector<uint64_t> session_send_buffers(ProxyToListener& stack, Fd* client, Fd* remote, size_t bulk) {
  *client = connect_to(stack.port, 10s);
  *remote = accept_remote(stack.listener.get());
  if (!*remote) return {};
  std::vector<char> out(bulk, 'x'), in(bulk);
  std::thread writer([&] { send_all(client->get(), out.data(), out.size()); });
  bool arrived = read_exact(remote->get(), in.data(), in.size());
  writer.join();
  if (!arrived || in != out) return {};
  std::this_thread::sleep_for(300ms);  // the worker reads the program's ring
  // The proxy's outgoing socket is the only one whose destination port is the listener's; its
  // accepted one the only one whose source port is the proxy's.
  uint16_t listener_port = local_address(stack.listener.get()).port();
  std::string filter = "( dport = :" + std::to_string(listener_port) + " or sport = :" + std::to_string(stack.port) + " )";
  RunResult ss = run({"/usr/bin/env", "ss", "-tmnH", "state", "established", filter}, 10s);
  std::vector<uint64_t> send_buffers;
  for (size_t at = ss.out.find(",tb"); at != std::string::npos; at = ss.out.find(",tb", at + 3))
    send_buffers.push_back(std::stoull(ss.out.substr(at + 3)));
  return send_buffers;
}

// The kernel's egress writes into the destination's send buffer and, when it is full, waits for
// ACKs to free room: once a direction moved 16 MiB (seen by the program at a segment after it:
// 32 MiB here) the relay sets 16 MiB (8 MiB asked, doubled) on
// both destinations, past TCP's autotuned 4 MiB, while the worker's widened sessions fit its memory
// budget (32 MiB each). Short sessions keep TCP's autotuning.
TEST(SockmapE2E, BulkSessionsGetWideSendBuffersWithinTheBudget) {
  // Past tcp_mem's first mark the relay widens nothing, by design (server/paths/wide_buffers.h):
  // a machine near it (two-way bulk through sockmap leaves TCP memory charged, docs/sockmap.md)
  // cannot say which way this test's sessions go.
  uint64_t pages = metrics::proc::tcp_memory_pages().value_or(0);
  uint64_t first_mark = metrics::proc::tcp_mem_mark(0).value_or(UINT64_MAX);
  if (pages * 10 >= first_mark * 9)
    GTEST_SKIP() << "the kernel's TCP memory (" << pages << " pages) is near tcp_mem's first mark (" << first_mark
                 << "), where widening is refused";
  uint16_t stats_port = free_port();
  ProxyToListener stack(stats_port);
  Fd short_client, short_remote;
  std::vector<uint64_t> send_buffers = session_send_buffers(stack, &short_client, &short_remote, 1 << 20);
  ASSERT_EQ(send_buffers.size(), 2u);
  for (uint64_t tb : send_buffers) EXPECT_LT(tb, 8u << 20);
  EXPECT_EQ(worker_sum(stats_snapshot(stats_port), "sockmap_widened"), 0u);
  short_client.reset();
  short_remote.reset();

  Fd client, remote;
  send_buffers = session_send_buffers(stack, &client, &remote, 32 << 20);
  ASSERT_EQ(send_buffers.size(), 2u);
  for (uint64_t tb : send_buffers) EXPECT_GE(tb, 16u << 20);
  nlohmann::json snap = stats_snapshot(stats_port);
  EXPECT_EQ(worker_sum(snap, "sockmap_widened"), 1u) << snap.dump();
  EXPECT_EQ(worker_sum(snap, "sockmap_wide_sessions"), 1u) << snap.dump();

  // Beyond the budget the kernel autotunes them (a budget below one session's 32 MiB: none).
  uint16_t narrow_stats = free_port();
  ProxyToListener narrow(narrow_stats, {"--memory-budget", "16M"});
  Fd narrow_client, narrow_remote;
  send_buffers = session_send_buffers(narrow, &narrow_client, &narrow_remote, 32 << 20);
  ASSERT_EQ(send_buffers.size(), 2u);
  for (uint64_t tb : send_buffers) EXPECT_LT(tb, 8u << 20);
  snap = stats_snapshot(narrow_stats);
  EXPECT_EQ(worker_sum(snap, "sockmap_widened"), 0u) << snap.dump();
  EXPECT_TRUE(echoes_through(narrow.port, narrow.listener.get()));
}

// 2,000 connections each echoing 2 MiB at once (bench/crowd) push the kernel's TCP memory past
// tcp_mem's first mark. With every session's send buffers forced to 16 MiB, 4 runs in 8 never
// finished: a pair of sockets dropped each other's segments for good (server/paths/wide_buffers.h).
// Now a 2 MiB echo never widens, and every echo that finished is intact. What remains is rarer and
// the kernel's (about 1 run in 10 here, bench/repro/sockmap-crowd-hang.sh): so the test stops the
// client after 45 s and asks for 1,990 of the 2,000 echoes, not all of them. With every session
// forced wide, one of two tries of this test failed.
TEST(SockmapCrowd, TwoThousandEchoesAtOnceWidenNothingAndArriveIntact) {
  for (int run = 0; run < 2; ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    uint16_t stats_port = free_port();
    ProxyStack stack("sockmap", {"-w", "2", "--stats", "127.0.0.1:" + std::to_string(stats_port)}, {"-w", "2"});
    ChildProcess c({bin("tcp_ping_client"), "-s", "127.0.0.1", "-p", std::to_string(stack.proxy_port), "-c", "2000",
                    "-T", "2", "-l", "2M", "-n", "1", "--json"});
    std::optional<int> code = c.wait(45s);
    if (!code) {
      c.signal(SIGTERM);
      code = c.wait(10s);
    }
    ASSERT_TRUE(code.has_value()) << "the client did not stop after SIGTERM";
    ClientRun r = parse_output(*code, c.out(), c.err());
    ASSERT_TRUE(r.summary.is_object()) << describe(r);
    const nlohmann::json& errors = r.summary["errors"];
    EXPECT_EQ(errors.value("mismatches", -1), 0) << describe(r);
    EXPECT_EQ(errors.value("resets", -1), 0) << describe(r);
    // An echo still awaited when the client was stopped counts as a short read; no other may.
    int finished = r.summary.value("messages", 0);
    EXPECT_GE(finished, 1990) << describe(r);
    EXPECT_LE(finished + errors.value("short_reads", 0), 2000) << describe(r);
    nlohmann::json snap = stats_snapshot(stats_port);
    EXPECT_EQ(worker_sum(snap, "sockmap_widened"), 0u) << snap.dump();
  }
}

// Two-way bulk through the kernel relay leaks the kernel's TCP memory (docs/sockmap.md), so at
// --sockmap-tcp-memory of tcp_mem's first mark new sessions go to splice. At 0 % every session is
// past the mark: each is relayed intact with splice, counted, and the log says why once.
TEST(SockmapE2E, NewSessionsGoToSpliceAtTheTcpMemoryMarkAndTheLogSaysWhyOnce) {
  if (!metrics::proc::tcp_mem_mark(0) || !metrics::proc::tcp_memory_pages())
    GTEST_SKIP() << "this kernel does not show tcp_mem or /proc/net/sockstat";
  uint16_t stats_port = free_port();
  ProxyStack stack("sockmap", {"--stats", "127.0.0.1:" + std::to_string(stats_port), "-w", "1", "--stats-interval", "0.1",
                               "--sockmap-tcp-memory", "0"});
  ASSERT_TRUE(wait_for_port(stats_port));
  std::this_thread::sleep_for(300ms);
  auto before = stats_snapshot(stats_port);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(echoes(stack.proxy_port, 4 << 20));
  std::this_thread::sleep_for(300ms);
  auto snap = stats_snapshot(stats_port);
  auto delta = [&](const char* name) { return worker_sum(snap, name) - worker_sum(before, name); };
  ASSERT_EQ(snap.value("mode_effective", ""), "sockmap") << "the kernel relay was refused here";
  EXPECT_EQ(delta("sockmap_declined"), 3u) << snap.dump();
  EXPECT_EQ(delta("sockmap_sessions"), 0u);
  EXPECT_GT(delta("splice_calls"), 0u);
  EXPECT_EQ(delta("bytes_in"), 3u * (4 << 20));
  stack.proxy->signal(SIGTERM);
  ASSERT_EQ(stack.proxy->wait(10s), 0);
  std::string err = stack.proxy->err();
  EXPECT_EQ(occurrences(err, "new sessions are relayed with splice"), 1u) << err;
  EXPECT_NE(err.find("tcp_mem's first mark"), std::string::npos) << "the mark is not named: " << err;
  EXPECT_NE(err.find("docs/sockmap.md"), std::string::npos) << err;
}

TEST(SockmapE2E, RefusedBpfFallsBackToSpliceAndSaysWhyOnce) {
  RefusedSyscallStack stack("bpf", "sockmap");
  ChildProcess& proxy = *stack.proxy;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(echoes(stack.proxy_port, 1 << 20));
  std::this_thread::sleep_for(300ms);
  auto snap = stats_snapshot(stack.stats_port);
  EXPECT_EQ(snap.value("mode", ""), "sockmap");
  EXPECT_EQ(snap.value("mode_effective", ""), "splice");
  for (const auto& w : snap["workers"]) EXPECT_EQ(w.value("mode_effective", ""), "splice") << "a worker's own mode";
  EXPECT_GT(worker_sum(snap, "splice_calls"), 0u);
  EXPECT_EQ(worker_sum(snap, "sockmap_sessions"), 0u);
  proxy.signal(SIGTERM);
  ASSERT_EQ(proxy.wait(10s), 0);
  std::string err = proxy.err();
  EXPECT_EQ(occurrences(err, "--mode sockmap: "), 1u) << err;
  EXPECT_NE(err.find("Operation not permitted"), std::string::npos) << "the cause is not named: " << err;
  EXPECT_NE(err.find("relaying with splice"), std::string::npos) << err;
  EXPECT_NE(err.find("CAP_BPF"), std::string::npos) << "no remedy named: " << err;
}

}  // namespace
}  // namespace sp::test
