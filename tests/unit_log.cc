// The log's rate limit: one per call site, shared by every worker thread, so N workers failing
// together still log one line a second, and the next line counts exactly what was held back.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "common/log.h"

namespace sp {
namespace {

TEST(RateLimit, OneLineASecondAcrossThreads) {
  log::RateLimit limit;
  std::atomic<int> allowed{0};
  std::atomic<uint64_t> reported_held_back{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        uint64_t held = 0;
        if (limit.allow(&held)) ++allowed, reported_held_back += held;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 1);  // 4,000 calls well within a second
  EXPECT_EQ(reported_held_back.load(), 0u);
  uint64_t held = 0;
  EXPECT_FALSE(limit.allow(&held));  // still within the second
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_TRUE(limit.allow(&held));
  EXPECT_EQ(held, 4000u);  // 3,999 held back by the threads and 1 just above
}

}  // namespace
}  // namespace sp
