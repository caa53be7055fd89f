// proxy-top's keys (top/keys.*): each key's effect on the view's state, without a terminal.
#include <gtest/gtest.h>

#include <string>

#include "top/keys.h"

namespace sp::top {
namespace {

TEST(TopKeys, HelpTogglesAndEscapeCloses) {
  Controls c;
  EXPECT_FALSE(c.help);
  c = on_key(c, 'h');
  EXPECT_TRUE(c.help);
  c = on_key(c, 'h');
  EXPECT_FALSE(c.help);
  c = on_key(c, '?');
  EXPECT_TRUE(c.help);
  c = on_key(c, '\x1b');
  EXPECT_FALSE(c.help);
  c = on_key(c, '\x1b');
  EXPECT_FALSE(c.help) << "Esc only closes";
}

TEST(TopKeys, SortCyclesThroughEveryColumnAndBack) {
  Controls c;
  EXPECT_EQ(c.sort, SortBy::kWorker);
  std::string seen;
  for (int i = 0; i < kSortColumns; ++i) {
    seen += std::string(sort_name(c.sort)) + " ";
    c = on_key(c, 's');
  }
  EXPECT_EQ(seen, "WORKER ACTIVE CONNS BYTES/S USER% SYS% VCSW/S ICSW/S ERRORS ");
  EXPECT_EQ(c.sort, SortBy::kWorker);
}

TEST(TopKeys, PauseResumesAndQuitIsFinal) {
  Controls c = on_key(Controls{}, 'p');
  EXPECT_TRUE(c.paused);
  EXPECT_FALSE(on_key(c, 'p').paused);
  EXPECT_TRUE(on_key(c, 'q').quit);
  EXPECT_TRUE(on_key(c, 'Q').quit);
  EXPECT_TRUE(on_key(c, 'q').paused) << "q changes nothing else";
  // Several keys in one read: in order, and none after q.
  c = on_keys(Controls{}, "sps q s");
  EXPECT_TRUE(c.quit);
  EXPECT_TRUE(c.paused);
  EXPECT_EQ(c.sort, SortBy::kConns);
}

TEST(TopKeys, OtherKeysAndFunctionKeysDoNothing) {
  Controls c = on_keys(Controls{}, "xHSP1 \r\n");
  EXPECT_FALSE(c.help || c.paused || c.quit);
  EXPECT_EQ(c.sort, SortBy::kWorker);
  // F1 is ESC O P: it must not pause (and, like Esc, closes the help).
  c.help = true;
  c = on_keys(c, "\x1bOP");
  EXPECT_FALSE(c.paused);
  EXPECT_FALSE(c.help);
  c = on_keys(Controls{}, "\x1b[A");  // an arrow key
  EXPECT_FALSE(c.help || c.paused || c.quit);
}

}  // namespace
}  // namespace sp::top
