// How --mode auto picks between read/write and splice for one direction in bulk: by timing them.
// Which one moves bulk faster depends on the CPU (memcpy speed against the cost of page-sized
// skb fragments), so no fixed rule travels between machines. In bulk the direction alternates: a
// probe of read/write, a probe of splice, each over the same number of bytes, timed on the wall
// clock (on a saturated machine the faster one is the one that costs the machine less per byte),
// then the winner for 32 probes' worth of bytes, then probes again as conditions change. A
// worker's directions share their last verdict: a direction that turns bulk within 10 s of
// another's verdict starts with it instead of paying for a probe of its own (a 256 MiB download
// would otherwise spend half of itself probing).
//
// Thread context: owned by one pump; not thread safe.
#pragma once

#include <algorithm>
#include <cstdint>

#include "common/clock.h"

namespace sp {

// The last verdict of any bulk direction of one worker.
struct BulkVerdict {
  static constexpr int64_t kFreshNs = 10 * kNsPerSec;
  bool known = false;
  bool splice_wins = false;
  int64_t at_ns = 0;
};

class BulkChooser {
 public:
  static constexpr uint64_t kProbeBytes = 64ULL << 20;
  static constexpr uint64_t kExploitProbes = 32;

  // A direction has turned bulk: the first time, take a fresh verdict of the worker's or probe;
  // after a pause, carry on where it was (keep the decision) with the current phase's clock
  // restarted, so the pause is not timed.
  void resume(uint64_t probe_bytes, const BulkVerdict* shared) {
    probe_bytes_ = probe_bytes;
    phase_bytes_ = 0;
    phase_start_ns_ = now_ns();
    if (started_) return;
    started_ = true;
    if (shared && shared->known && phase_start_ns_ - shared->at_ns < BulkVerdict::kFreshNs) {
      phase_ = Phase::kExploit;
      splice_wins_ = shared->splice_wins;
    }
  }
  bool splice() const { return phase_ == Phase::kProbeSplice || (phase_ == Phase::kExploit && splice_wins_); }

  // Bytes this direction delivered while in bulk. Returns true when a probe pair has just been
  // decided (the caller counts it).
  bool delivered(uint64_t bytes, BulkVerdict* shared) {
    phase_bytes_ += bytes;
    if (phase_bytes_ < (phase_ == Phase::kExploit ? kExploitProbes * probe_bytes_ : probe_bytes_)) return false;
    int64_t now = now_ns();
    double rate = static_cast<double>(phase_bytes_) / static_cast<double>(std::max<int64_t>(now - phase_start_ns_, 1));
    bool decided = false;
    switch (phase_) {
      case Phase::kProbeReadWrite:
        read_write_rate_ = rate;
        phase_ = Phase::kProbeSplice;
        break;
      case Phase::kProbeSplice:
        splice_wins_ = rate > read_write_rate_;
        phase_ = Phase::kExploit;
        decided = true;
        if (shared) *shared = BulkVerdict{true, splice_wins_, now};
        break;
      case Phase::kExploit:
        phase_ = Phase::kProbeReadWrite;
        break;
    }
    phase_bytes_ = 0;
    phase_start_ns_ = now;
    return decided;
  }
  bool splice_wins() const { return splice_wins_; }

 private:
  enum class Phase { kProbeReadWrite, kProbeSplice, kExploit };
  Phase phase_ = Phase::kProbeReadWrite;
  uint64_t probe_bytes_ = kProbeBytes;
  bool started_ = false;
  uint64_t phase_bytes_ = 0;
  int64_t phase_start_ns_ = 0;
  double read_write_rate_ = 0;  // bytes per ns in the last read/write probe
  bool splice_wins_ = false;
};

}  // namespace sp
