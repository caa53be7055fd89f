// Which sockmap sessions may widen their send buffers (server/paths/wide_buffers.h): within the
// memory budget, below tcp_mem's first mark; narrowed at the mark, widened again below half of it;
// and the two /proc parsers it is fed by.
#include <gtest/gtest.h>

#include <algorithm>

#include "server/paths/wide_buffers.h"

namespace sp {
namespace {

// Sessions are only compared by address here.
SockmapSession* session(int n) { return reinterpret_cast<SockmapSession*>(static_cast<uintptr_t>(0x1000 * n)); }

TEST(WideBuffers, GrantsWithinTheBudgetOnly) {
  WideBuffers wide(64 << 20, 32 << 20, 1000);
  EXPECT_TRUE(wide.admit(session(1), 10));
  EXPECT_TRUE(wide.admit(session(2), 10));
  EXPECT_FALSE(wide.admit(session(3), 10));  // a third would pass 64 MiB
  wide.remove(session(1));
  EXPECT_TRUE(wide.admit(session(3), 10));  // the grant came back
  EXPECT_EQ(wide.widened(), 2u);
  EXPECT_FALSE(WideBuffers(16 << 20, 32 << 20, 1000).admit(session(1), 10));  // not even one
}

TEST(WideBuffers, NarrowsEveryWidenedSessionAtTheMarkAndWidensBelowHalfOfIt) {
  WideBuffers wide(1 << 30, 32 << 20, 1000);
  ASSERT_TRUE(wide.admit(session(1), 100));
  ASSERT_TRUE(wide.admit(session(2), 100));
  EXPECT_TRUE(wide.update(999).narrow.empty());
  WideBuffers::Changes at_mark = wide.update(1000);
  std::sort(at_mark.narrow.begin(), at_mark.narrow.end());
  EXPECT_EQ(at_mark.narrow, (std::vector<SockmapSession*>{session(1), session(2)}));
  EXPECT_EQ(wide.widened(), 0u);
  EXPECT_TRUE(wide.watching());
  EXPECT_FALSE(wide.admit(session(3), 600));  // under the mark, but not below half of it yet
  EXPECT_TRUE(wide.update(600).widen.empty());
  wide.remove(session(2));  // ended while narrowed: never widened again
  EXPECT_EQ(wide.update(499).widen, std::vector<SockmapSession*>{session(1)});
  EXPECT_EQ(wide.widened(), 1u);
  EXPECT_TRUE(wide.admit(session(3), 499));
}

TEST(WideBuffers, PressureWithNoSessionLeftEndsAtTheNextCalmAdmission) {
  WideBuffers wide(1 << 30, 32 << 20, 1000);
  ASSERT_TRUE(wide.admit(session(1), 100));
  ASSERT_EQ(wide.update(1200).narrow.size(), 1u);
  wide.remove(session(1));
  EXPECT_FALSE(wide.watching());
  EXPECT_FALSE(wide.admit(session(2), 700));
  EXPECT_TRUE(wide.admit(session(2), 400));
}

TEST(WideBuffers, UnknownFiguresTakeNoRisk) {
  WideBuffers no_mark(64 << 20, 32 << 20, std::nullopt);  // tcp_mem unreadable: the budget alone
  EXPECT_TRUE(no_mark.admit(session(1), std::nullopt));
  EXPECT_TRUE(no_mark.update(std::nullopt).narrow.empty());
  WideBuffers no_pages(64 << 20, 32 << 20, 1000);  // sockstat unreadable: no new grant
  EXPECT_FALSE(no_pages.admit(session(1), std::nullopt));
}

}  // namespace
}  // namespace sp
