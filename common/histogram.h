// A log-linear histogram of non-negative integer values (latencies in nanoseconds), in the spirit
// of HdrHistogram: every power of two [2^k, 2^(k+1)) is split into 128 equal sub-buckets, and
// values below 256 are counted exactly. Memory is fixed (7296 counters, 57 KiB) whatever the
// range, recording is a few instructions, and any value read back (a percentile) is within
// kMaxRelativeError (1/256, about 0.4%) of the recorded sample it stands for. min, max, count and
// mean are exact.
//
// Thread context: not thread safe; keep one per thread and merge() at the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace sp {

class Histogram {
 public:
  static constexpr int kSubBucketBits = 7;                      // 128 sub-buckets per octave
  static constexpr int64_t kSubBuckets = int64_t{1} << kSubBucketBits;
  static constexpr size_t kBucketCount = (62 - kSubBucketBits) * kSubBuckets + 2 * kSubBuckets;
  static constexpr double kMaxRelativeError = 1.0 / (2 * kSubBuckets);

  Histogram();

  // Negative values are recorded as 0.
  void record(int64_t value, uint64_t count = 1);
  void merge(const Histogram& other);
  void reset();

  uint64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  int64_t min() const { return count_ ? min_ : 0; }
  int64_t max() const { return count_ ? max_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  // The value at percentile p (0..100) by nearest rank: the smallest recorded value v such that
  // at least p% of the samples are <= v, to within kMaxRelativeError. 0 when empty.
  int64_t percentile(double p) const;

  // Bucket arithmetic, exposed for tests.
  static size_t bucket_of(int64_t value);
  static int64_t bucket_lower(size_t bucket);  // smallest value in the bucket
  static int64_t bucket_width(size_t bucket);
  // The value reported for a bucket: its middle, so the error is at most half a bucket.
  static int64_t bucket_value(size_t bucket) { return bucket_lower(bucket) + bucket_width(bucket) / 2; }

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  unsigned __int128 sum_ = 0;
  int64_t min_ = std::numeric_limits<int64_t>::max();
  int64_t max_ = 0;
  size_t highest_bucket_ = 0;  // no counts above it: percentile() stops there
};

}  // namespace sp
