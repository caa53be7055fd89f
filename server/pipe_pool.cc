#include "server/pipe_pool.h"

#include <fcntl.h>
#include <unistd.h>

namespace sp {

PipePool::PipePool(size_t pipe_size, size_t max_pooled, metrics::WorkerCounters& counters)
    : pipe_size_(pipe_size), max_pooled_(max_pooled), counters_(counters) {
  free_.reserve(max_pooled_);
}

bool PipePool::acquire(Pipe& out) {
  if (!free_.empty()) {
    out = std::move(free_.back());
    free_.pop_back();
    counters_.pipe_pool_hits.add();
    return true;
  }
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
  counters_.pipe_pool_misses.add();
  out.read_end.reset(fds[0]);
  out.write_end.reset(fds[1]);
  // Unprivileged users past pipe-user-pages-soft get EPERM here; a default-size pipe still works.
  int granted = ::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(pipe_size_));
  if (granted < 0) {
    counters_.pipe_resize_failures.add();
    granted = ::fcntl(fds[1], F_GETPIPE_SZ);
  }
  if (granted <= 0) {
    // Past pipe-user-pages-hard a pipe can have no usable size at all: not worth splicing through.
    out = Pipe{};
    return false;
  }
  out.capacity = static_cast<size_t>(granted);
  return true;
}

void PipePool::release(Pipe&& pipe) {
  if (free_.size() < max_pooled_) free_.push_back(std::move(pipe));
  // else: pipe's Fds close here
}

}  // namespace sp
