#include "server/shell/source_rules.h"

#include <algorithm>
#include <cstring>

namespace sp {

size_t SourceRules::Hash::operator()(const AddressBytes& a) const {
  uint64_t hi, lo;
  std::memcpy(&hi, a.data(), 8);
  std::memcpy(&lo, a.data() + 8, 8);
  return static_cast<size_t>((hi * 0x9E3779B97F4A7C15ULL) ^ lo ^ (lo >> 29));
}

bool SourceRules::allowed(const AddressBytes& source) const {
  for (const Cidr& c : options_.deny)
    if (c.contains(source)) return false;
  if (options_.allow.empty()) return true;
  return std::any_of(options_.allow.begin(), options_.allow.end(), [&](const Cidr& c) { return c.contains(source); });
}

// A bucket of `rate` tokens, refilled at `rate` a second: a source may open that many at once,
// then that many a second.
void SourceRules::refill(Entry& e, int64_t now_ns) const {
  double rate = options_.rate_per_source;
  if (rate <= 0) return;
  double burst = std::max(1.0, rate);
  if (e.refilled_ns == 0) e.tokens = burst;
  else e.tokens = std::min(burst, e.tokens + rate * static_cast<double>(now_ns - e.refilled_ns) / 1e9);
  e.refilled_ns = now_ns;
}

bool SourceRules::idle(Entry& e, int64_t now_ns) const {
  if (e.live) return false;
  if (options_.rate_per_source <= 0) return true;
  refill(e, now_ns);
  return e.tokens >= std::max(1.0, options_.rate_per_source);
}

void SourceRules::sweep(int64_t now_ns) {
  for (auto it = entries_.begin(); it != entries_.end();)
    it = idle(it->second, now_ns) ? entries_.erase(it) : std::next(it);
  sweep_at_ = std::max<size_t>(4096, entries_.size() * 2);
}

SourceRules::Verdict SourceRules::admit(const AddressBytes& source, int64_t now_ns) {
  if (!allowed(source)) return Verdict::kDenied;
  if (!options_.per_source()) return Verdict::kAdmitted;
  std::lock_guard lock(mu_);
  if (entries_.size() >= sweep_at_) sweep(now_ns);
  Entry& e = entries_[source];
  if (options_.max_per_source && e.live >= options_.max_per_source) return Verdict::kOverSourceCap;
  refill(e, now_ns);
  if (options_.rate_per_source > 0) {
    if (e.tokens < 1) return Verdict::kOverSourceRate;
    e.tokens -= 1;
  }
  if (options_.max_per_source) ++e.live;
  return Verdict::kAdmitted;
}

void SourceRules::release(const AddressBytes& source) {
  if (!options_.max_per_source) return;
  std::lock_guard lock(mu_);
  auto it = entries_.find(source);
  if (it == entries_.end() || it->second.live == 0) return;
  if (--it->second.live == 0 && options_.rate_per_source <= 0) entries_.erase(it);
}

size_t SourceRules::tracked() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace sp
