#include "common/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <latch>
#include <system_error>

#include "common/clock.h"
#include "common/log.h"

namespace sp {
namespace {
constexpr int kMaxEvents = 256;
}

Handler::~Handler() {
  if (deferred_on_) deferred_on_->forget(this);
}

EventLoop::EventLoop()
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)), wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!epoll_) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  if (!wake_fd_) throw std::system_error(errno, std::generic_category(), "eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.ptr = nullptr;  // the wake-up is the only registration without a handler
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &ev) != 0)
    throw std::system_error(errno, std::generic_category(), "epoll_ctl(eventfd)");
}

EventLoop::~EventLoop() {
  // Handlers still on the ready list must not reach back into a dead loop.
  for (auto* list : {&fresh_, &ready_})
    for (Handler* h : *list)
      if (h) h->deferred_on_ = nullptr;
  graveyard_.clear();
}

void EventLoop::wrong_thread(const char* method) {
  log::error("EventLoop::", method, " called from a thread other than the loop's");
  std::abort();
}

void EventLoop::add(int fd, uint32_t events, Handler* handler) {
  assert_in_loop_thread("add");
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
    throw std::system_error(errno, std::generic_category(), "epoll_ctl(ADD)");
}

void EventLoop::modify(int fd, uint32_t events, Handler* handler) {
  assert_in_loop_thread("modify");
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0)
    throw std::system_error(errno, std::generic_category(), "epoll_ctl(MOD)");
}

void EventLoop::remove(int fd) {
  assert_in_loop_thread("remove");
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::defer(Handler* handler) {
  assert_in_loop_thread("defer");
  if (handler->deferred_on_) return;
  handler->deferred_on_ = this;
  ready_.push_back(handler);
}

void EventLoop::defer_fresh(Handler* handler) {
  assert_in_loop_thread("defer_fresh");
  if (handler->deferred_on_) return;
  handler->deferred_on_ = this;
  fresh_.push_back(handler);
}

void EventLoop::forget(Handler* handler) {
  assert_in_loop_thread("forget");
  std::replace(fresh_.begin(), fresh_.end(), handler, static_cast<Handler*>(nullptr));
  std::replace(ready_.begin(), ready_.end(), handler, static_cast<Handler*>(nullptr));
  handler->deferred_on_ = nullptr;
}

void EventLoop::dispose(std::unique_ptr<Disposable> object) {
  assert_in_loop_thread("dispose");
  graveyard_.push_back(std::move(object));
}

EventLoop::TimerId EventLoop::run_after(int64_t delay_ns, Task task) {
  assert_in_loop_thread("run_after");
  TimerId id = next_timer_id_++;
  // The real time, not the iteration's cached one: a timer armed late in a long iteration must
  // still wait its whole delay.
  now_ns_ = now_ns();
  now_valid_ = true;
  timer_heap_.push(Timer{now_ns_ + std::max<int64_t>(delay_ns, 0), id});
  timers_.emplace(id, std::move(task));
  return id;
}

void EventLoop::cancel(TimerId id) {
  assert_in_loop_thread("cancel");
  timers_.erase(id);
  // Pop cancelled timers off the top at once: an empty heap lets the loop skip reading the clock.
  while (!timer_heap_.empty() && !timers_.count(timer_heap_.top().id)) timer_heap_.pop();
}

void EventLoop::post(Task task) {
  posted_.push(std::move(task));
  wake();
}

void EventLoop::stop() {
  stop_.store(true, std::memory_order_release);
  wake();
}

void EventLoop::wake() {
  // One eventfd write per batch of posts: later posters see the flag and skip the syscall.
  if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;
  uint64_t one = 1;
  ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
  (void)n;  // EAGAIN only when the counter is saturated, which still wakes the loop
}

void EventLoop::run_posted() {
  // Drain the eventfd first, then clear the flag. The other order loses wake-ups: a poster that
  // sets the flag and writes between our clear and our read has its count eaten by the read, the
  // flag stays set with nothing left to wake us, and every later post skips its write.
  uint64_t drained;
  ssize_t n = ::read(wake_fd_.get(), &drained, sizeof drained);
  (void)n;
  // acq_rel: reading a poster's `true` makes the task it pushed before visible to the pops below.
  wake_pending_.exchange(false, std::memory_order_acq_rel);
  Task task;
  while (posted_.try_pop(task)) task();
}

int EventLoop::next_timeout_ms() {
  if (!fresh_.empty() || !ready_.empty() || !posted_.empty()) return 0;
  if (timer_heap_.empty()) return -1;
  now_valid_ = false;
  int64_t wait = timer_heap_.top().deadline - now();
  if (wait <= 0) return 0;
  return static_cast<int>(std::min<int64_t>((wait + kNsPerMs - 1) / kNsPerMs, 60'000));
}

int EventLoop::wait(epoll_event* events, int max_events) {
  int timeout = next_timeout_ms();
  if (sleeper_) {
    now_valid_ = false;  // completions dispatched in sleep() may read the clock
    // A full batch may have left events in the epoll set, and their edges will not wake the
    // sleeper again: then do not sleep, and collect the rest.
    bool more = epoll_maybe_more_;
    if (!sleeper_->sleep(epoll_.get(), more ? 0 : timeout) && !more) return 0;
    int n = ::epoll_wait(epoll_.get(), events, max_events, 0);
    epoll_maybe_more_ = n == max_events;
    return n;
  }
  if (timeout != 0 && busy_poll_ns_ > 0) {
    int64_t window = busy_poll_ns_;
    if (timeout > 0) window = std::min<int64_t>(window, static_cast<int64_t>(timeout) * kNsPerMs);
    // The clock is a system call on some VMs: read it only once a poll came back empty, and
    // then every 16 polls.
    int n = ::epoll_wait(epoll_.get(), events, max_events, 0);
    if (n != 0) return n;
    int64_t until = now_ns() + window;
    for (int i = 1;; ++i) {
      n = ::epoll_wait(epoll_.get(), events, max_events, 0);
      if (n != 0) return n;
      if (i % 16 == 0 && now_ns() >= until) break;
    }
    timeout = next_timeout_ms();
  }
  return ::epoll_wait(epoll_.get(), events, max_events, timeout);
}

void EventLoop::run_timers() {
  // Only the timers due when the pass began: run_after() reads the clock, so a task that works
  // longer than the delay it re-arms with would find itself (or another such) due again, and the
  // pass would never end; epoll and every other session of the loop would wait behind it.
  const int64_t due = now();
  while (!timer_heap_.empty() && timer_heap_.top().deadline <= due) {
    TimerId id = timer_heap_.top().id;
    timer_heap_.pop();
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;  // cancelled
    Task task = std::move(it->second);
    timers_.erase(it);
    task();
  }
  // Cancelled timers stay in the heap until their deadline; purge when they dominate it so a
  // loop that arms and cancels a connect timeout per connection keeps bounded memory.
  if (timer_heap_.size() > 1024 && timer_heap_.size() > 4 * timers_.size()) {
    std::vector<Timer> live;
    while (!timer_heap_.empty()) {
      if (timers_.count(timer_heap_.top().id)) live.push_back(timer_heap_.top());
      timer_heap_.pop();
    }
    for (auto& t : live) timer_heap_.push(t);
  }
}

void EventLoop::run_ready() {
  // The fresh handlers deferred before this pass (ones they defer again wait a turn): their news
  // waits behind no bulk turn queued before it.
  for (size_t n = fresh_.size(); n > 0 && !fresh_.empty(); --n) {
    Handler* h = fresh_.front();
    fresh_.pop_front();
    if (!h) continue;
    h->deferred_on_ = nullptr;
    h->on_ready();
  }
  // Then one turn of the ready list, and back to epoll_wait (which does not sleep while the list
  // has work): news that came during the turn waits for that one turn, not a pass of them.
  while (!ready_.empty()) {
    Handler* h = ready_.front();
    ready_.pop_front();
    if (!h) continue;
    h->deferred_on_ = nullptr;
    h->on_ready();
    return;
  }
}

void EventLoop::run() {
  owner_.store(std::this_thread::get_id());
  epoll_event events[kMaxEvents];
  while (!stop_.load(std::memory_order_acquire)) {
    int n = wait(events, kMaxEvents);
    if (n < 0 && errno != EINTR) {
      log::error("epoll_wait: ", log::errno_text(errno));
      break;
    }
    now_valid_ = false;
    ++iterations_;
    for (int i = 0; i < n; ++i) {
      auto* h = static_cast<Handler*>(events[i].data.ptr);
      if (h) h->on_events(events[i].events);
      else run_posted();
    }
    if (!posted_.empty()) run_posted();
    if (!timer_heap_.empty()) run_timers();
    run_ready();
    graveyard_.clear();
  }
  run_posted();
  graveyard_.clear();
  owner_.store(std::thread::id{});  // stopped: tear-down from another thread is allowed again
}

LoopThread::LoopThread(std::function<void(EventLoop&)> on_start) {
  std::latch started(1);
  thread_ = std::thread([this, &started, on_start = std::move(on_start)] {
    tid_.store(static_cast<int>(::gettid()));
    if (on_start) on_start(loop_);
    started.count_down();
    loop_.run();
  });
  started.wait();
}

LoopThread::~LoopThread() { stop_and_join(); }

void LoopThread::stop_and_join() {
  if (!thread_.joinable()) return;
  loop_.stop();
  thread_.join();
}

}  // namespace sp
