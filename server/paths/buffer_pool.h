// Per-worker pool of read/write buffers, one free list per rung of the size ladder: a session
// holds a buffer only while bytes are in flight, so idle connections cost no buffer memory, and a
// direction that climbs or falls a rung swaps its (empty) buffer for one from the pool.
//
// Every buffer handed out is counted in the worker's size buckets and in buffer_bytes_held until
// it comes back, which is what the memory budget reads.
//
// Thread context: owned by one worker; not thread safe.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "metrics/counters.h"
#include "server/paths/size_ladder.h"

namespace sp {

// What a pool keeps idle per rung, at most: max_pooled buffers, and no more than this many bytes
// (four 1 MiB buffers, sixty-four 64 KiB ones).
inline constexpr size_t kPooledBytesPerRung = 4 << 20;

inline size_t pool_limit(size_t max_pooled, size_t size) {
  return std::min(max_pooled, std::max<size_t>(1, kPooledBytesPerRung / size));
}

class BufferPool {
 public:
  struct Buffer {
    std::unique_ptr<char[]> data;
    size_t size = 0;
    size_t rung = 0;
    explicit operator bool() const { return data != nullptr; }
    char* get() const { return data.get(); }
  };

  BufferPool(size_t ceiling, size_t max_pooled, metrics::WorkerCounters& counters)
      : ladder_(ceiling), max_pooled_(max_pooled), counters_(counters), free_(ladder_.rungs()) {}

  const SizeLadder& ladder() const { return ladder_; }

  Buffer acquire(size_t rung) {
    rung = std::min(rung, ladder_.top());
    Buffer b{nullptr, ladder_.size(rung), rung};
    auto& list = free_[rung];
    if (list.empty()) {
      b.data.reset(new char[b.size]);
    } else {
      b.data = std::move(list.back());
      list.pop_back();
    }
    counters_.count_buffer(b.size);
    counters_.buffer_bytes_held.add(b.size);
    return b;
  }
  void release(Buffer&& buffer) {
    if (!buffer) return;
    counters_.buffer_bytes_held.sub(buffer.size);
    auto& list = free_[buffer.rung];
    if (list.size() < pool_limit(max_pooled_, buffer.size)) list.push_back(std::move(buffer.data));
    buffer = Buffer{};
  }
  size_t pooled() const {
    size_t n = 0;
    for (const auto& list : free_) n += list.size();
    return n;
  }
  void clear() {
    for (auto& list : free_) list.clear();
  }

 private:
  SizeLadder ladder_;
  size_t max_pooled_;
  metrics::WorkerCounters& counters_;
  std::vector<std::vector<std::unique_ptr<char[]>>> free_;  // per rung
};

}  // namespace sp
