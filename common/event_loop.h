// One epoll event loop per thread: fd readiness, a cross-thread task queue woken by an eventfd,
// timers, a ready list for fairness and deferred destruction. Every program runs on it.
//
// Thread context: post(), stop() and wake() are safe from any thread; everything else must be
// called on the loop's own thread (the one inside run()), or while no thread runs it (set-up
// before run(), tear-down after). Debug and sanitizer builds check this in every loop-only
// method and abort with the method's name (SP_THREAD_CHECKS, as muduo's assertInLoopThread).
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <thread>
#include <unordered_map>
#include <vector>

#include <tbb/concurrent_queue.h>

#include "common/clock.h"
#include "common/fd.h"

// On where NDEBUG is not set, and in sanitizer builds (CMakeLists.txt defines SP_THREAD_CHECKS
// there, since scripts/build gives them -DNDEBUG): the suites that run under ASan and TSan then
// catch a loop method called from the wrong thread, and release builds pay nothing.
#if !defined(NDEBUG) || defined(SP_THREAD_CHECKS)
#define SP_THREAD_CHECKS_ON 1
#else
#define SP_THREAD_CHECKS_ON 0
#endif

namespace sp {

class EventLoop;

// Receives readiness for one registered fd. Registration is edge-triggered and made once, so a
// handler must consume until EAGAIN or call EventLoop::defer() to be resumed later.
class Handler {
 public:
  virtual ~Handler();
  virtual void on_events(uint32_t events) = 0;
  // Called for a handler put on the ready list with defer(): continue the work left unfinished.
  virtual void on_ready() {}

 private:
  friend class EventLoop;
  EventLoop* deferred_on_ = nullptr;  // set while on a loop's fresh or ready list
};

// A place on a loop's ready list (EventLoop::defer) for an object whose deferred work is one of
// its member functions: `ReadyTurn<Relay, &Relay::turn> turn_{*this};`.
template <typename Owner, void (Owner::*Work)()>
struct ReadyTurn : Handler {
  explicit ReadyTurn(Owner& o) : owner(o) {}
  void on_events(uint32_t) override {}
  void on_ready() override { (owner.*Work)(); }
  Owner& owner;
};

// An object whose destruction waits until the current batch of events is done (see dispose()).
class Disposable {
 public:
  virtual ~Disposable() = default;
};

// Another kernel interface that sleeps for the loop (io_uring): the loop calls sleep() instead of
// epoll_wait. It must submit what it has queued, dispatch its own completions, and return once
// something happened or the timeout passed; true means the epoll set has events to collect (the
// loop then reads them with a zero-timeout epoll_wait).
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual bool sleep(int epoll_fd, int timeout_ms) = 0;
};

class EventLoop {
 public:
  using Task = std::function<void()>;
  using TimerId = uint64_t;
  static constexpr uint32_t kEdgeAll = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs until stop(). Binds the loop to the calling thread.
  void run();
  // Any thread: makes run() return after the current iteration.
  void stop();
  // Any thread: the one cross-thread entry point. Tasks run on the loop thread in FIFO order.
  void post(Task task);
  bool stopping() const { return stop_.load(std::memory_order_acquire); }

  // Loop thread only.
  void add(int fd, uint32_t events, Handler* handler);  // throws std::system_error
  void modify(int fd, uint32_t events, Handler* handler);
  void remove(int fd);
  // Puts a handler on the back of the ready list (FIFO; a handler already on it keeps its place);
  // on_ready() runs after the pending events of this iteration, so every busy connection gets a
  // turn, in order. One ready-list turn per iteration: between two of them the loop collects the
  // events that came meanwhile (epoll_wait without sleeping), so news waits for one turn.
  void defer(Handler* handler);
  // Puts a handler that has news but was not queued for more work (a ping-pong's message, a new
  // connection) on the fresh list, which runs before the ready list: it waits behind no bulk turn
  // queued before it. A handler already on either list keeps its place. Each fresh turn is
  // bounded like any other (a handler with work left after it defers), so bulk cannot take over
  // the fresh list: it gets one bounded turn there, then queues at the back of the ready list.
  void defer_fresh(Handler* handler);
  // Destroys the object after the current batch, when no event for it can still be pending.
  void dispose(std::unique_ptr<Disposable> object);
  TimerId run_after(int64_t delay_ns, Task task);
  void cancel(TimerId id);  // no-op for a timer that already ran
  // Monotonic time, read at most once per iteration: on some virtual machines clock_gettime is a
  // real syscall, too dear to pay per event when nothing needs the time.
  int64_t now() {
    if (!now_valid_) {
      now_ns_ = now_ns();
      now_valid_ = true;
    }
    return now_ns_;
  }
  // Before sleeping in epoll_wait, poll without sleeping for up to this long (0: never). An event
  // that comes within the window then costs no wake-up, which is most of a ping-pong's latency;
  // the price is a core kept busy while the loop waits. Loop thread, or before run().
  void set_busy_poll(int64_t ns) { busy_poll_ns_ = ns; }
  // Hands the loop's sleep to another interface (nullptr: epoll_wait again). Loop thread only.
  void set_sleeper(Sleeper* sleeper) { sleeper_ = sleeper; }
  bool in_loop_thread() const { return std::this_thread::get_id() == owner_.load(); }
  // Loop-only methods start with this: aborts when another thread calls while the loop runs.
  void assert_in_loop_thread(const char* method) const {
    if constexpr (SP_THREAD_CHECKS_ON) {
      std::thread::id owner = owner_.load(std::memory_order_relaxed);
      if (owner != std::thread::id{} && owner != std::this_thread::get_id()) wrong_thread(method);
    }
  }
  uint64_t iterations() const { return iterations_; }
  // Handlers on the fresh and ready lists (those still waiting for their turn in this pass, and
  // those deferred again): how many share the next round. Loop thread only.
  size_t ready_count() const { return fresh_.size() + ready_.size(); }

 private:
  struct Timer {
    int64_t deadline;
    TimerId id;
    bool operator>(const Timer& o) const { return deadline != o.deadline ? deadline > o.deadline : id > o.id; }
  };
  friend class Handler;
  [[noreturn]] static void wrong_thread(const char* method);
  void forget(Handler* handler);
  void wake();
  void run_posted();
  void run_timers();
  void run_ready();
  int next_timeout_ms();
  int wait(epoll_event* events, int max_events);

  Fd epoll_;
  Fd wake_fd_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> wake_pending_{false};
  std::atomic<std::thread::id> owner_{};
  tbb::concurrent_queue<Task> posted_;
  std::deque<Handler*> fresh_;  // served before ready_ (defer_fresh)
  std::deque<Handler*> ready_;
  std::vector<std::unique_ptr<Disposable>> graveyard_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timer_heap_;
  std::unordered_map<TimerId, Task> timers_;
  TimerId next_timer_id_ = 1;
  int64_t now_ns_ = 0;
  bool now_valid_ = false;
  uint64_t iterations_ = 0;
  int64_t busy_poll_ns_ = 0;
  Sleeper* sleeper_ = nullptr;
  bool epoll_maybe_more_ = false;  // the last epoll_wait filled its batch
};

// A thread that runs its own EventLoop; stop() then join in the destructor.
class LoopThread {
 public:
  explicit LoopThread(std::function<void(EventLoop&)> on_start = nullptr);
  ~LoopThread();
  EventLoop& loop() { return loop_; }
  // The kernel thread id (for /proc/self/task/TID), valid once the constructor returns.
  int tid() const { return tid_.load(); }
  void stop_and_join();

 private:
  EventLoop loop_;
  std::atomic<int> tid_{0};
  std::thread thread_;
};

}  // namespace sp
