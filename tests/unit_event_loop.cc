// The event loop every program runs on: cross-thread posts, timers, the ready list, stop().
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/event_loop.h"

namespace sp {
namespace {

using namespace std::chrono_literals;

// Waits (bounded) until pred() holds; false on timeout.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 2s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(EventLoop, PostsFromAnotherThreadAlwaysWakeTheLoop) {
  // Bursts of posts a microsecond or two apart, as an acceptor hands over connections accepted
  // together: later ones land while the loop is waking for the first. Every post must run without
  // a further post to nudge the loop; a lost wake-up leaves it asleep with tasks queued (this is
  // how tcp_ping_server once stopped serving new connections).
  LoopThread thread;
  std::atomic<int> ran{0};
  int posted = 0;
  for (int round = 0; round < 4000; ++round) {
    for (int i = 0; i < 8; ++i) {
      thread.loop().post([&] { ran.fetch_add(1, std::memory_order_relaxed); });
      ++posted;
      auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(250 * ((round + i) % 12));
      while (std::chrono::steady_clock::now() < until) {
      }
    }
    ASSERT_TRUE(eventually([&] { return ran.load() == posted; }))
        << "round " << round << ": " << posted - ran.load() << " posted task(s) never ran";
  }
}

TEST(EventLoop, ManyPostersLoseNothing) {
  LoopThread thread;
  std::atomic<int> ran{0};
  std::vector<std::thread> posters;
  for (int p = 0; p < 4; ++p)
    posters.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) thread.loop().post([&] { ran.fetch_add(1, std::memory_order_relaxed); });
    });
  for (auto& t : posters) t.join();
  EXPECT_TRUE(eventually([&] { return ran.load() == 20000; })) << ran.load() << " of 20000 ran";
}

TEST(EventLoop, TimersFireInDeadlineOrderAndCancelledOnesNever) {
  LoopThread thread;
  std::vector<int> order;
  std::atomic<bool> done{false};
  thread.loop().post([&] {
    EventLoop& loop = thread.loop();
    loop.run_after(30 * kNsPerMs, [&] { order.push_back(3); });
    loop.run_after(10 * kNsPerMs, [&] { order.push_back(1); });
    EventLoop::TimerId cancelled = loop.run_after(20 * kNsPerMs, [&] { order.push_back(99); });
    loop.run_after(20 * kNsPerMs, [&] { order.push_back(2); });
    loop.cancel(cancelled);
    loop.run_after(50 * kNsPerMs, [&] { done = true; });
  });
  ASSERT_TRUE(eventually([&] { return done.load(); }));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(EventLoop, StopFromAnotherThreadEndsRun) {
  EventLoop loop;
  std::atomic<bool> returned{false};
  std::thread runner([&] {
    loop.run();
    returned = true;
  });
  std::this_thread::sleep_for(20ms);  // asleep in epoll_wait with nothing to do
  loop.stop();
  EXPECT_TRUE(eventually([&] { return returned.load(); }));
  runner.join();
}

struct CountingHandler : Handler {
  std::atomic<int> ready{0};
  void on_events(uint32_t) override {}
  void on_ready() override { ready.fetch_add(1); }
};

TEST(EventLoop, DeferredHandlerRunsOnceAndIsForgottenOnDestruction) {
  LoopThread thread;
  CountingHandler kept;
  thread.loop().post([&] {
    auto gone = std::make_unique<CountingHandler>();
    thread.loop().defer(&kept);
    thread.loop().defer(&kept);  // already on the list: still one run
    thread.loop().defer(gone.get());
    gone.reset();  // on the ready list, then destroyed: must not be called (ASan would see it)
  });
  ASSERT_TRUE(eventually([&] { return kept.ready.load() == 1; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(kept.ready.load(), 1);
}

}  // namespace
}  // namespace sp
