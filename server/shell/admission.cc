#include "server/shell/admission.h"

#include "common/clock.h"
#include "common/socket.h"

namespace sp {

Admission::Admission(uint64_t limit, SourceRuleOptions rules) : limit_(limit) {
  if (rules.any()) rules_ = std::make_unique<SourceRules>(std::move(rules));
}

// A compare-and-swap rather than add-then-undo: a racing acceptor (--reuseport) never sees a count
// inflated by a refusal, so none is refused while a slot is free.
bool Admission::take_slot() {
  if (!limit_) return true;
  uint64_t n = live_.load(std::memory_order_relaxed);
  do {
    if (n >= limit_) return false;
  } while (!live_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  return true;
}

Admission::Verdict Admission::admit(int client_fd, Ticket* ticket) {
  *ticket = {};
  if (rules_) {
    AddressBytes source = address_bytes(peer_address(client_fd));
    switch (rules_->admit(source, now_ns())) {
      case SourceRules::Verdict::kAdmitted: break;
      case SourceRules::Verdict::kDenied: return Verdict::kDenied;
      case SourceRules::Verdict::kOverSourceCap: return Verdict::kOverSourceCap;
      case SourceRules::Verdict::kOverSourceRate: return Verdict::kOverSourceRate;
    }
    ticket->holds_source = rules_->options().max_per_source != 0;
    ticket->source = source;
  }
  if (take_slot()) return Verdict::kAdmitted;
  if (ticket->holds_source) rules_->release(ticket->source);
  *ticket = {};
  return Verdict::kOverCapacity;
}

void Admission::release(const Ticket& ticket) {
  if (limit_) live_.fetch_sub(1, std::memory_order_relaxed);
  if (ticket.holds_source) rules_->release(ticket.source);
}

}  // namespace sp
