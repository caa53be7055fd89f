#include "client/pacer.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "client/connection.h"

namespace sp::client {

Pacer::Pacer(EventLoop& loop) : fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {
  if (!fd_) throw std::system_error(errno, std::generic_category(), "timerfd_create");
  loop.add(fd_.get(), EPOLLIN | EPOLLET, this);
}

void Pacer::schedule(Connection* c, int64_t due) {
  heap_.push({due, c});
  if (due < armed_) arm(due);
}

void Pacer::arm(int64_t due) {
  itimerspec its{};
  due = std::max<int64_t>(due, 1);  // zero would disarm
  its.it_value.tv_sec = due / kNsPerSec;
  its.it_value.tv_nsec = due % kNsPerSec;
  ::timerfd_settime(fd_.get(), TFD_TIMER_ABSTIME, &its, nullptr);
  armed_ = due;
}

void Pacer::on_events(uint32_t) {
  uint64_t expirations;
  ssize_t r = ::read(fd_.get(), &expirations, sizeof expirations);
  (void)r;
  armed_ = std::numeric_limits<int64_t>::max();
  int64_t now = now_ns();
  while (!heap_.empty() && heap_.top().due <= now) {
    Entry e = heap_.top();
    heap_.pop();
    e.conn->on_timer(e.due);
  }
  if (!heap_.empty() && heap_.top().due < armed_) arm(heap_.top().due);
}

}  // namespace sp::client
