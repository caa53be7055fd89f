// When new sockmap sessions go to splice for the kernel's TCP memory (server/paths/tcp_memory_guard.h):
// from --sockmap-tcp-memory of tcp_mem's first mark, back to the kernel relay only 5 points below,
// one verdict for every worker; unreadable figures admit.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "server/paths/tcp_memory_guard.h"

namespace sp {
namespace {

TEST(TcpMemoryGuard, DeclinesFromTheMarkAndAdmitsAgainOnlyFivePointsBelow) {
  TcpMemoryGuard guard(50);
  if (!guard.first_mark()) GTEST_SKIP() << "this kernel does not show tcp_mem";
  const int64_t mark = *guard.first_mark();
  const int64_t decline_at = mark * 50 / 100, admit_below = mark * 45 / 100;
  EXPECT_TRUE(guard.admit(decline_at - 1));
  EXPECT_FALSE(guard.admit(decline_at));
  EXPECT_FALSE(guard.admit(decline_at - 1)) << "a figure hovering at the mark flips sessions between paths";
  EXPECT_FALSE(guard.admit(admit_below));
  EXPECT_TRUE(guard.admit(admit_below - 1));
  EXPECT_TRUE(guard.admit(decline_at - 1)) << "admitting again, the mark is the mark";
  EXPECT_FALSE(guard.admit(decline_at + 1));
}

TEST(TcpMemoryGuard, ZeroDeclinesEverySessionAndUnreadableFiguresAdmit) {
  TcpMemoryGuard none(0);
  if (!none.first_mark()) GTEST_SKIP() << "this kernel does not show tcp_mem";
  EXPECT_FALSE(none.admit(0));
  EXPECT_FALSE(none.admit(0));
  EXPECT_TRUE(none.admit(std::nullopt)) << "nothing to go by";
}

TEST(TcpMemoryGuard, WorkersShareOneVerdict) {
  TcpMemoryGuard guard(50);
  if (!guard.first_mark()) GTEST_SKIP() << "this kernel does not show tcp_mem";
  const int64_t decline_at = *guard.first_mark() / 2;
  EXPECT_FALSE(guard.admit(decline_at));  // one worker saw the mark
  bool other = true;
  std::thread([&] { other = guard.admit(decline_at - 1); }).join();  // another, a moment later, just under it
  EXPECT_FALSE(other);
}

}  // namespace
}  // namespace sp
