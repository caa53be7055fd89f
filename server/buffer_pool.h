// Per-worker pool of fixed-size byte buffers for the read/write pump: a session holds a buffer
// only while bytes are in flight, so idle connections cost no buffer memory.
//
// Thread context: owned by one worker; not thread safe.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace sp {

class BufferPool {
 public:
  using Buffer = std::unique_ptr<char[]>;
  BufferPool(size_t buffer_size, size_t max_pooled) : size_(buffer_size), max_pooled_(max_pooled) {}

  Buffer acquire() {
    if (free_.empty()) return Buffer(new char[size_]);
    Buffer b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  void release(Buffer buffer) {
    if (buffer && free_.size() < max_pooled_) free_.push_back(std::move(buffer));
  }
  size_t buffer_size() const { return size_; }
  size_t pooled() const { return free_.size(); }
  void clear() { free_.clear(); }

 private:
  size_t size_;
  size_t max_pooled_;
  std::vector<Buffer> free_;
};

}  // namespace sp
