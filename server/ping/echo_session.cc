#include "server/ping/echo_session.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common/payload.h"
#include "common/socket.h"

namespace sp {
namespace {
constexpr size_t kBudget = 1 << 20;
}

EchoSession::EchoSession(WorkerEnv& env, PumpContext& pumps, Fd client, ServeMode mode, PumpMode pump_mode)
    : env_(env), fd_(std::move(client)), mode_(mode), echo_(fd_.get(), fd_.get(), pump_mode, pumps, env.counters.bytes_out) {}

EchoSession::~EchoSession() = default;

void EchoSession::start() {
  env_.counters.connections_total.add();
  set_nodelay(fd_.get());
  open_ = true;
  env_.loop.add(fd_.get(), EventLoop::kEdgeAll, this);
}

void EchoSession::on_events(uint32_t events) {
  if (!open_) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable_ = true;
  if (events & EPOLLOUT) writable_ = true;
  echo_.source_events(events);
  if (events & EPOLLOUT) echo_.destination_writable();
  serve();
}

void EchoSession::serve() {
  if (!open_) return;
  if (mode_ == ServeMode::kEcho) {
    switch (echo_.run(kBudget)) {
      case Pump::Status::kFailed: return close(true);
      case Pump::Status::kFinished: return close(false);
      case Pump::Status::kMoreWork: return env_.loop.defer(this);
      case Pump::Status::kWaiting: return;
    }
  }
  if (mode_ == ServeMode::kSink ? !sink() : !source()) return;
}

bool EchoSession::sink() {
  thread_local char scratch[64 << 10];
  size_t moved = 0;
  while (readable_) {
    if (moved >= kBudget) {
      env_.loop.defer(this);
      return true;
    }
    ssize_t n = ::read(fd_.get(), scratch, sizeof scratch);
    if (n > 0) {
      moved += static_cast<size_t>(n);
      env_.counters.bytes_in.add(static_cast<uint64_t>(n));
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      readable_ = false;
      break;
    }
    if (n < 0 && errno == EINTR) continue;
    close(n < 0);
    return false;
  }
  return true;
}

bool EchoSession::source() {
  // Read and drop anything the client sends, so its EOF or reset is noticed.
  if (!sink()) return false;
  size_t moved = 0;
  PayloadPattern pattern;
  char chunk[16 << 10];
  while (writable_) {
    if (moved >= kBudget) {
      env_.loop.defer(this);
      return true;
    }
    pattern.fill(source_offset_, chunk, sizeof chunk);
    ssize_t n = ::send(fd_.get(), chunk, sizeof chunk, MSG_NOSIGNAL);
    if (n > 0) {
      moved += static_cast<size_t>(n);
      source_offset_ += static_cast<uint64_t>(n);
      env_.counters.bytes_out.add(static_cast<uint64_t>(n));
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      writable_ = false;
      break;
    }
    if (n < 0 && errno == EINTR) continue;
    close(true);
    return false;
  }
  return true;
}

void EchoSession::abort() { close(true); }

void EchoSession::close(bool reset) {
  if (!open_) return;
  open_ = false;
  env_.loop.remove(fd_.get());
  if (reset) set_reset_on_close(fd_.get());
  fd_.reset();
  env_.counters.connections_closed.add();
  env_.finished(this);
}

}  // namespace sp
