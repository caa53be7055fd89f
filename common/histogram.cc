#include "common/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sp {

Histogram::Histogram() : counts_(kBucketCount, 0) {}

// Values below 2 * kSubBuckets map to themselves. Above, with k = floor(log2 v) and
// shift = k - kSubBucketBits, the bucket is shift * kSubBuckets + (v >> shift): the top
// kSubBucketBits + 1 bits of v, so each octave gets kSubBuckets buckets of width 2^shift.
size_t Histogram::bucket_of(int64_t value) {
  if (value < 2 * kSubBuckets) return static_cast<size_t>(std::max<int64_t>(value, 0));
  int k = 63 - std::countl_zero(static_cast<uint64_t>(value));
  int shift = k - kSubBucketBits;
  return static_cast<size_t>(int64_t{shift} * kSubBuckets + (value >> shift));
}

int64_t Histogram::bucket_lower(size_t bucket) {
  auto b = static_cast<int64_t>(bucket);
  if (b < 2 * kSubBuckets) return b;
  int64_t shift = b / kSubBuckets - 1;
  int64_t sub = b - shift * kSubBuckets;  // in [kSubBuckets, 2 * kSubBuckets)
  return sub << shift;
}

int64_t Histogram::bucket_width(size_t bucket) {
  auto b = static_cast<int64_t>(bucket);
  if (b < 2 * kSubBuckets) return 1;
  return int64_t{1} << (b / kSubBuckets - 1);
}

void Histogram::record(int64_t value, uint64_t count) {
  if (count == 0) return;
  value = std::max<int64_t>(value, 0);
  size_t b = bucket_of(value);
  counts_[b] += count;
  count_ += count;
  sum_ += static_cast<unsigned __int128>(value) * count;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  highest_bucket_ = std::max(highest_bucket_, b);
}

void Histogram::merge(const Histogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i <= other.highest_bucket_; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  highest_bucket_ = std::max(highest_bucket_, other.highest_bucket_);
}

void Histogram::reset() {
  std::fill(counts_.begin(), counts_.begin() + static_cast<ptrdiff_t>(highest_bucket_) + 1, 0);
  count_ = 0;
  sum_ = 0;
  min_ = std::numeric_limits<int64_t>::max();
  max_ = 0;
  highest_bucket_ = 0;
}

int64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i <= highest_bucket_; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(bucket_value(i), min_, max_);
  }
  return max_;
}

}  // namespace sp
