// The sizes a pump's buffer or pipe steps through: 16 KiB, doubling up to a ceiling
// (--buffer-size, --pipe-size). A direction starts on the lowest rung and climbs while its reads
// fill what it has, so small messages never pin a large buffer and bulk reaches the ceiling after a
// handful of reads.
//
// Thread context: immutable after construction; any thread.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>

namespace sp {

class SizeLadder {
 public:
  static constexpr size_t kStartSize = 16 << 10;
  static constexpr size_t kMaxRungs = 24;  // 16 KiB doubling past 1 GiB, the largest ceiling

  explicit SizeLadder(size_t ceiling) {
    for (size_t s = std::min(kStartSize, ceiling);; s = std::min(s * 2, ceiling)) {
      sizes_[rungs_++] = s;
      if (s >= ceiling || rungs_ == kMaxRungs) break;
    }
  }
  size_t rungs() const { return rungs_; }
  size_t top() const { return rungs_ - 1; }
  size_t size(size_t rung) const { return sizes_[std::min(rung, top())]; }

 private:
  std::array<size_t, kMaxRungs> sizes_{};
  size_t rungs_ = 0;
};

}  // namespace sp
