#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "common/histogram.h"

namespace sp {
namespace {

// The exact nearest-rank percentile of sorted samples: what Histogram::percentile approximates.
int64_t exact_percentile(const std::vector<int64_t>& sorted, double p) {
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void expect_close(int64_t got, int64_t want, const char* what) {
  double tolerance = Histogram::kMaxRelativeError * static_cast<double>(want);
  EXPECT_LE(std::abs(static_cast<double>(got - want)), tolerance) << what << ": got " << got << ", exact " << want;
}

void check_against_exact(const Histogram& h, std::vector<int64_t> samples) {
  std::sort(samples.begin(), samples.end());
  ASSERT_EQ(h.count(), samples.size());
  EXPECT_EQ(h.min(), samples.front());
  EXPECT_EQ(h.max(), samples.back());
  long double sum = 0;
  for (int64_t s : samples) sum += static_cast<long double>(s);
  EXPECT_NEAR(h.mean(), static_cast<double>(sum / samples.size()), 1e-6 * h.mean() + 1e-9);
  for (double p : {0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    SCOPED_TRACE(p);
    expect_close(h.percentile(p), exact_percentile(samples, p), "percentile");
  }
}

TEST(Histogram, BucketsTileTheRangeWithBoundedWidth) {
  // Consecutive buckets are contiguous and every bucket is narrow relative to its values.
  for (size_t b = 0; b + 1 < Histogram::kBucketCount; ++b) {
    ASSERT_EQ(Histogram::bucket_lower(b) + Histogram::bucket_width(b), Histogram::bucket_lower(b + 1)) << b;
    if (Histogram::bucket_width(b) == 1) continue;  // exact
    ASSERT_LE(static_cast<double>(Histogram::bucket_width(b)) / 2,
              Histogram::kMaxRelativeError * static_cast<double>(Histogram::bucket_lower(b)))
        << b;
  }
  EXPECT_EQ(Histogram::bucket_of(INT64_MAX), Histogram::kBucketCount - 1);
  for (int64_t v : {0L, 1L, 255L, 256L, 257L, 1000L, 123456789L, INT64_MAX / 3, INT64_MAX}) {
    size_t b = Histogram::bucket_of(v);
    EXPECT_GE(v, Histogram::bucket_lower(b)) << v;
    EXPECT_LT(v - Histogram::bucket_lower(b), Histogram::bucket_width(b)) << v;
  }
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  std::vector<int64_t> samples;
  for (int64_t v = 0; v < 256; ++v) {
    h.record(v);
    samples.push_back(v);
  }
  for (double p : {1.0, 50.0, 99.0})
    EXPECT_EQ(h.percentile(p), exact_percentile(samples, p)) << p;
}

TEST(Histogram, EmptyReportsZeros) {
  Histogram h;
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.percentile(99), 0);
}

TEST(Histogram, PercentilesMatchSortedSamplesWithinRelativeError) {
  // Latency-like data: a log-normal body around 20 us with a long tail up to tens of ms.
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> body(std::log(20'000.0), 0.5);
  std::uniform_int_distribution<int64_t> tail(1'000'000, 50'000'000);
  Histogram h;
  std::vector<int64_t> samples;
  for (int i = 0; i < 200'000; ++i) {
    int64_t v = i % 1000 == 0 ? tail(rng) : static_cast<int64_t>(body(rng));
    h.record(v);
    samples.push_back(v);
  }
  check_against_exact(h, samples);
}

TEST(Histogram, WideRangeUniform) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> any(0, int64_t{1} << 40);
  Histogram h;
  std::vector<int64_t> samples;
  for (int i = 0; i < 50'000; ++i) {
    int64_t v = any(rng) >> (i % 40);  // spread over many octaves
    h.record(v);
    samples.push_back(v);
  }
  check_against_exact(h, samples);
}

TEST(Histogram, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(3);
  std::exponential_distribution<double> dist(1.0 / 50'000);
  Histogram parts[4], all;
  std::vector<int64_t> samples;
  for (int i = 0; i < 40'000; ++i) {
    auto v = static_cast<int64_t>(dist(rng)) * (i % 4 + 1);  // each part has its own scale
    parts[i % 4].record(v);
    all.record(v);
    samples.push_back(v);
  }
  Histogram merged;
  for (auto& part : parts) merged.merge(part);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_DOUBLE_EQ(merged.mean(), all.mean());
  for (double p : {0.0, 50.0, 90.0, 99.0, 99.9, 100.0}) EXPECT_EQ(merged.percentile(p), all.percentile(p)) << p;
  check_against_exact(merged, samples);
}

TEST(Histogram, RecordWithCountAndReset) {
  Histogram h;
  h.record(1000, 99);
  h.record(1'000'000);
  EXPECT_EQ(h.count(), 100u);
  expect_close(h.percentile(99), 1000, "p99");
  EXPECT_EQ(h.percentile(100), 1'000'000);
  h.record(-5);  // clamped to 0
  EXPECT_EQ(h.min(), 0);
  h.reset();
  EXPECT_TRUE(h.empty());
  h.record(77);
  EXPECT_EQ(h.min(), 77);
  EXPECT_EQ(h.max(), 77);
  EXPECT_EQ(h.percentile(50), 77);
}

}  // namespace
}  // namespace sp
