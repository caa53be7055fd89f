// Per-worker pool of kernel pipes for the splice pump, one free list per rung of the size ladder
// (F_SETPIPE_SZ at creation). Invariant: a pooled pipe holds no data (a pipe is returned only when
// drained; one that may hold bytes is closed instead).
//
// Every pipe handed out is counted in the worker's size buckets and in pipe_bytes_held until it
// comes back, which is what the memory budget reads.
//
// Thread context: owned by one worker; not thread safe.
#pragma once

#include <cstddef>
#include <vector>

#include "common/fd.h"
#include "metrics/counters.h"
#include "server/paths/size_ladder.h"

namespace sp {

struct Pipe {
  Fd read_end;
  Fd write_end;
  size_t capacity = 0;  // bytes the kernel granted (F_GETPIPE_SZ)
  size_t rung = 0;      // the ladder rung it was made for (capacity may be less if refused)
};

class PipePool {
 public:
  // max_pooled bounds the idle pipes of all rungs together: each costs two descriptors.
  PipePool(size_t ceiling, size_t max_pooled, metrics::WorkerCounters& counters);

  const SizeLadder& ladder() const { return ladder_; }
  // A drained pipe of that rung from the pool, or a new one; false when the kernel refuses a pipe
  // (EMFILE, ENFILE, pipe-user-pages limits): the caller falls back to read/write.
  bool acquire(size_t rung, Pipe& out);
  // Gives back an empty pipe (pooled, or closed if the pool is full).
  void release(Pipe&& pipe);
  // The pipe may still hold bytes: it is closed, never pooled.
  void discard(Pipe&& pipe);
  size_t pooled() const { return pooled_; }
  // Closes every pooled pipe (the worker went idle: give the kernel its memory back).
  void clear();

 private:
  SizeLadder ladder_;
  size_t max_pooled_;
  metrics::WorkerCounters& counters_;
  std::vector<std::vector<Pipe>> free_;  // per rung
  size_t pooled_ = 0;
};

}  // namespace sp
