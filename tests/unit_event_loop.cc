// The event loop every program runs on: cross-thread posts, timers, the ready list, stop().
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <new>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/event_loop.h"
#include "tests/support/eventually.h"

namespace sp {
namespace {

using namespace std::chrono_literals;

using test::eventually;

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

TEST(EventLoop, TimersThatOutlastTheirDelayStillLetPostsRun) {
  // Two timers that each work longer than the delay they re-arm with (as a held sockmap
  // direction moving 2 MiB per turn does): each finds the other due already. A pass over the
  // timers must end once the ones due when it began have run, or the loop never returns to
  // epoll and starves every other session of the worker (issue 22: a ping-pong beside four
  // held bulk streams in --mode sockmap got no answer for seconds).
  LoopThread thread;
  std::atomic<bool> stop_rearming{false};
  std::atomic<int> fired{0};
  std::function<void()> work = [&] {
    fired.fetch_add(1, std::memory_order_relaxed);
    auto until = std::chrono::steady_clock::now() + 200us;
    while (std::chrono::steady_clock::now() < until) {
    }
    if (!stop_rearming.load()) thread.loop().run_after(50'000, work);
  };
  thread.loop().post([&] {
    thread.loop().run_after(0, work);
    thread.loop().run_after(0, work);
  });
  ASSERT_TRUE(eventually([&] { return fired.load() > 10; }));
  std::atomic<bool> posted_ran{false};
  thread.loop().post([&] { posted_ran = true; });
  bool ran = eventually([&] { return posted_ran.load(); }, 2s);
  stop_rearming = true;
  EXPECT_TRUE(ran) << "a posted task waited behind timers re-arming for ever";
  ASSERT_TRUE(eventually([&] { return posted_ran.load(); }, 5s));  // before `work` goes out of scope
  thread.stop_and_join();
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

TEST(EventLoop, BusyPollingStillRunsPostsAndTimersAndStops) {
  EventLoop loop;
  loop.set_busy_poll(200'000);  // 200 µs
  std::atomic<int> ran{0};
  std::atomic<bool> timer_fired{false};
  std::thread runner([&] { loop.run(); });
  loop.post([&] { loop.run_after(30 * kNsPerMs, [&] { timer_fired = true; }); });
  for (int i = 0; i < 2000; ++i) {
    loop.post([&] { ran.fetch_add(1); });
    if (i % 100 == 0) std::this_thread::sleep_for(1ms);  // let the window run out now and then
  }
  EXPECT_TRUE(eventually([&] { return ran.load() == 2000; })) << ran.load();
  EXPECT_TRUE(eventually([&] { return timer_fired.load(); }));
  std::this_thread::sleep_for(5ms);  // idle past the window: asleep in epoll_wait again
  loop.stop();
  runner.join();
}

// Voluntary context switches of a loop's thread while it is fed a post every millisecond: each is
// a sleep in epoll_wait.
long sleeps_while_fed(int64_t busy_poll_ns) {
  LoopThread thread;
  thread.loop().post([&] { thread.loop().set_busy_poll(busy_poll_ns); });
  std::atomic<long> before{-1}, after{-1};
  auto switches = [] {
    rusage ru{};
    ::getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_nvcsw;
  };
  thread.loop().post([&] { before = switches(); });
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(1ms);
    thread.loop().post([] {});
  }
  thread.loop().post([&] { after = switches(); });
  EXPECT_TRUE(eventually([&] { return after.load() >= 0; }));
  return after - before;
}

TEST(EventLoop, BusyPollingAvoidsSleepingBetweenCloseEvents) {
  long sleeping = sleeps_while_fed(0);
  long polling = sleeps_while_fed(100 * kNsPerMs);
  EXPECT_GE(sleeping, 25) << "a plain loop sleeps between posts 1 ms apart";
  EXPECT_LE(polling, sleeping / 4) << "a 100 ms polling window should bridge 1 ms gaps";
}

struct CountingHandler : Handler {
  std::atomic<int> ready{0};
  void on_events(uint32_t) override {}
  void on_ready() override { ready.fetch_add(1); }
};

TEST(EventLoop, DeferredHandlerRunsOnceAndIsForgottenOnDestruction) {
  LoopThread thread;
  CountingHandler kept;
  // A handler destroyed while on the ready list, and a new one built in its storage: a loop that
  // still held the old pointer would call the newcomer, which nobody deferred. Observable in any
  // build, not only where ASan would catch a call into freed memory.
  alignas(CountingHandler) unsigned char storage[sizeof(CountingHandler)];
  CountingHandler* reborn = nullptr;
  thread.loop().post([&] {
    auto* gone = new (storage) CountingHandler;
    thread.loop().defer(&kept);
    thread.loop().defer(&kept);  // already on the list: still one run
    thread.loop().defer(gone);
    gone->~CountingHandler();
    reborn = new (storage) CountingHandler;
  });
  ASSERT_TRUE(eventually([&] { return kept.ready.load() == 1; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(kept.ready.load(), 1);
  thread.loop().post([&] {
    EXPECT_EQ(reborn->ready.load(), 0) << "a destroyed handler's ready-list entry ran";
    reborn->~CountingHandler();
  });
  thread.stop_and_join();
}

// A handler with news (defer_fresh) runs before the handlers queued earlier for more work, and a
// fresh one destroyed while queued is forgotten like any other.
TEST(EventLoop, FreshHandlersRunBeforeTheReadyList) {
  struct Recording : Handler {
    std::vector<int>* order = nullptr;
    int id = 0;
    void on_events(uint32_t) override {}
    void on_ready() override { order->push_back(id); }
  };
  LoopThread thread;
  std::vector<int> order;
  std::atomic<bool> done{false};
  Recording bulk1, bulk2, news;
  for (auto [h, id] : {std::pair{&bulk1, 1}, std::pair{&bulk2, 2}, std::pair{&news, 3}}) {
    h->order = &order;
    h->id = id;
  }
  thread.loop().post([&] {
    auto* gone = new Recording;
    gone->order = &order;
    gone->id = 9;
    thread.loop().defer(&bulk1);
    thread.loop().defer(&bulk2);
    thread.loop().defer_fresh(&news);
    thread.loop().defer_fresh(&bulk1);  // already queued for more work: keeps its place
    thread.loop().defer_fresh(gone);
    delete gone;
  });
  ASSERT_TRUE(eventually([&] {
    bool all = false;
    thread.loop().post([&] {
      all = order.size() >= 3;
      done = true;
    });
    while (!done.exchange(false)) std::this_thread::yield();
    return all;
  }));
  thread.stop_and_join();
  EXPECT_EQ(order, (std::vector<int>{3, 1, 2}));
}

}  // namespace
}  // namespace sp
