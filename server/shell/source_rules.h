// Source rules (--allow, --deny, --max-per-source, --rate-per-source): which client addresses may
// connect, how many live connections each may hold and how fast each may open new ones. Checked
// where a connection is admitted, before the hand-off, as --max-connections is.
//
// The per-source state (live count, token bucket) lives in one map under a mutex, taken only when
// a cap or a rate is set; an entry with no live connection and a full bucket is dropped, so the
// map holds the sources seen in the last second or so plus those with live connections.
//
// Thread context: admit() and release() from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/cidr.h"

namespace sp {

struct SourceRuleOptions {
  std::vector<Cidr> allow;  // empty: every source not denied; else only these
  std::vector<Cidr> deny;   // checked first
  uint64_t max_per_source = 0;   // live connections per address; 0: no cap
  double rate_per_source = 0;    // new connections per second per address (burst: as many); 0: none
  bool any() const { return !allow.empty() || !deny.empty() || max_per_source || rate_per_source > 0; }
  bool per_source() const { return max_per_source || rate_per_source > 0; }
};

class SourceRules {
 public:
  enum class Verdict { kAdmitted, kDenied, kOverSourceCap, kOverSourceRate };

  explicit SourceRules(SourceRuleOptions options) : options_(std::move(options)) {}
  SourceRules(const SourceRules&) = delete;
  SourceRules& operator=(const SourceRules&) = delete;

  // kAdmitted takes one of the source's live slots (with --max-per-source): give it back with
  // release() when the connection ends.
  Verdict admit(const AddressBytes& source, int64_t now_ns);
  void release(const AddressBytes& source);
  const SourceRuleOptions& options() const { return options_; }
  size_t tracked() const;  // sources in the map now (for tests)

 private:
  struct Entry {
    uint64_t live = 0;
    double tokens = 0;
    int64_t refilled_ns = 0;
  };
  struct Hash {
    size_t operator()(const AddressBytes& a) const;
  };
  bool allowed(const AddressBytes& source) const;
  void refill(Entry& e, int64_t now_ns) const;
  bool idle(Entry& e, int64_t now_ns) const;
  void sweep(int64_t now_ns);

  const SourceRuleOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<AddressBytes, Entry, Hash> entries_;
  size_t sweep_at_ = 4096;  // the map's size that triggers the next sweep
};

}  // namespace sp
