// --socket-memory (server/proxy/socket_budget.*): the share of each session's four socket buffers,
// its steps, and what a socket gets.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include "common/fd.h"
#include "server/proxy/socket_budget.h"

namespace sp {
namespace {

TEST(SocketBudget, NoBoundLeavesEverySocketToAutotuning) {
  SocketBudget off(0);
  EXPECT_EQ(off.cap_for(100000).bytes, 0);
  EXPECT_EQ(off.cap_for(100000).generation, 0u);
}

TEST(SocketBudget, FewSessionsKeepAutotuningACrowdSharesTheBudget) {
  SocketBudget budget(1ULL << 30);  // 1 GiB
  EXPECT_EQ(budget.cap_for(0).bytes, 0);
  EXPECT_EQ(budget.cap_for(1).bytes, 0) << "256 MiB a buffer is past what autotuning reaches";
  SocketBudget::Cap crowd = budget.cap_for(2000);  // 1 GiB / 8000 buffers = 131 KiB
  EXPECT_EQ(crowd.bytes, 128 << 10);
  EXPECT_LE(uint64_t{4} * 2000 * static_cast<uint64_t>(crowd.bytes), 1ULL << 30) << "within the budget";
  EXPECT_EQ(budget.cap_for(1'000'000).bytes, SocketBudget::kFloor) << "never below 64 KiB";
}

TEST(SocketBudget, TheCapMovesInStepsAndNeverGrowsWithMoreSessions) {
  SocketBudget budget(1ULL << 30);
  SocketBudget::Cap last = budget.cap_for(100);
  int changes = 0;
  for (uint64_t n = 101; n <= 20000; ++n) {
    SocketBudget::Cap c = budget.cap_for(n);
    if (last.bytes) {
      EXPECT_LE(c.bytes, last.bytes) << n;
    }
    if (c.generation != last.generation) {
      ++changes;
      EXPECT_LT(c.bytes, last.bytes ? last.bytes : INT32_MAX);
    }
    last = c;
  }
  EXPECT_GT(changes, 5);
  EXPECT_LT(changes, 40) << "a step is about a fifth, not every session";
}

TEST(SocketBudget, LiveSessionsAreCounted) {
  SocketBudget budget(1ULL << 30);
  for (int i = 0; i < 2000; ++i) budget.session_started();
  EXPECT_EQ(budget.cap().bytes, 128 << 10);
  for (int i = 0; i < 1999; ++i) budget.session_ended();
  EXPECT_EQ(budget.cap().bytes, 0);
}

TEST(SocketBudget, ASocketGetsTheCapAsTheKernelAccountsIt) {
  SocketBudget budget(1ULL << 30);
  Fd s(::socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_TRUE(s);
  budget.apply(s.get(), budget.cap_for(2000));
  int rcv = 0, snd = 0;
  socklen_t len = sizeof rcv;
  ::getsockopt(s.get(), SOL_SOCKET, SO_RCVBUF, &rcv, &len);
  ::getsockopt(s.get(), SOL_SOCKET, SO_SNDBUF, &snd, &len);
  EXPECT_EQ(rcv, 128 << 10);
  EXPECT_EQ(snd, 128 << 10);
}

}  // namespace
}  // namespace sp
