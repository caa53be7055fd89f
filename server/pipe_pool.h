// Per-worker pool of kernel pipes for the splice pump. Invariant: a pooled pipe holds no data
// (a pipe is returned only when drained; one that may hold bytes is closed instead).
//
// Thread context: owned by one worker; not thread safe.
#pragma once

#include <cstddef>
#include <vector>

#include "common/fd.h"
#include "metrics/counters.h"

namespace sp {

struct Pipe {
  Fd read_end;
  Fd write_end;
  size_t capacity = 0;  // bytes the kernel granted (F_GETPIPE_SZ)
};

class PipePool {
 public:
  PipePool(size_t pipe_size, size_t max_pooled, metrics::WorkerCounters& counters);

  // A drained pipe from the pool or a new one; false when the kernel refuses a pipe
  // (EMFILE, ENFILE, pipe-user-pages limits): the caller falls back to read/write.
  bool acquire(Pipe& out);
  // Gives back an empty pipe (pooled, or closed if the pool is full).
  void release(Pipe&& pipe);
  size_t pooled() const { return free_.size(); }
  // Closes every pooled pipe (the worker went idle: give the kernel its memory back).
  void clear() { free_.clear(); }

 private:
  size_t pipe_size_;
  size_t max_pooled_;
  metrics::WorkerCounters& counters_;
  std::vector<Pipe> free_;
};

}  // namespace sp
