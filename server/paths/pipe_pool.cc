#include "server/paths/pipe_pool.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/fd_reserve.h"
#include "server/paths/buffer_pool.h"

namespace sp {

PipePool::PipePool(size_t ceiling, size_t max_pooled, metrics::WorkerCounters& counters)
    : ladder_(ceiling), max_pooled_(max_pooled), counters_(counters), free_(ladder_.rungs()) {}

bool PipePool::acquire(size_t rung, Pipe& out) {
  rung = std::min(rung, ladder_.top());
  auto& list = free_[rung];
  if (!list.empty()) {
    out = std::move(list.back());
    list.pop_back();
    --pooled_;
    counters_.pipe_pool_hits.add();
  } else {
    int fds[2];
    int made;
    {
      fd_reserve::Allocation making_descriptors;  // never the reserved descriptor's number
      made = ::pipe2(fds, O_NONBLOCK | O_CLOEXEC);
    }
    if (made != 0) return false;
    counters_.pipe_pool_misses.add();
    Pipe p;
    p.read_end.reset(fds[0]);
    p.write_end.reset(fds[1]);
    p.rung = rung;
    // Unprivileged users past pipe-user-pages-soft get EPERM here; a default-size pipe still works.
    int granted = ::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(ladder_.size(rung)));
    if (granted < 0) {
      counters_.pipe_resize_failures.add();
      granted = ::fcntl(fds[1], F_GETPIPE_SZ);
    }
    // Past pipe-user-pages-hard a pipe can have no usable size at all: not worth splicing through.
    if (granted <= 0) return false;
    p.capacity = static_cast<size_t>(granted);
    out = std::move(p);
  }
  counters_.count_pipe(out.capacity);
  counters_.pipe_bytes_held.add(out.capacity);
  return true;
}

void PipePool::release(Pipe&& pipe) {
  if (!pipe.read_end) return;
  counters_.pipe_bytes_held.sub(pipe.capacity);
  auto& list = free_[pipe.rung];
  if (pooled_ < max_pooled_ && list.size() < pool_limit(max_pooled_, pipe.capacity)) {
    list.push_back(std::move(pipe));
    ++pooled_;
  }
  pipe = Pipe{};  // else its Fds close here
}

void PipePool::discard(Pipe&& pipe) {
  if (!pipe.read_end) return;
  counters_.pipe_bytes_held.sub(pipe.capacity);
  pipe = Pipe{};
}

void PipePool::clear() {
  for (auto& list : free_) list.clear();
  pooled_ = 0;
}

}  // namespace sp
