#include "server/shell/acceptor.h"

#include "common/socket.h"
#include "server/shell/session_log.h"

namespace sp {
namespace {

void count_refusal(metrics::ListenerCounters& counters, Admission::Verdict verdict) {
  if (verdict == Admission::Verdict::kAdmitted) return;
  counters.refused.add_shared();
  switch (verdict) {
    case Admission::Verdict::kOverCapacity: return counters.over_capacity.add_shared();
    case Admission::Verdict::kDenied: return counters.denied.add_shared();
    case Admission::Verdict::kOverSourceCap: return counters.over_source_cap.add_shared();
    case Admission::Verdict::kOverSourceRate: return counters.over_source_rate.add_shared();
    case Admission::Verdict::kAdmitted: return;
  }
}

// For the session log: which rule refused (the names of the listener counters).
const char* refusal_reason(Admission::Verdict verdict) {
  switch (verdict) {
    case Admission::Verdict::kOverCapacity: return "over-capacity";
    case Admission::Verdict::kDenied: return "denied";
    case Admission::Verdict::kOverSourceCap: return "over-source-cap";
    case Admission::Verdict::kOverSourceRate: return "over-source-rate";
    case Admission::Verdict::kAdmitted: break;
  }
  return "";
}

}  // namespace

Acceptor::Acceptor(EventLoop& loop, std::vector<Listening> listeners, Dispatch dispatch)
    : dispatch_(std::move(dispatch)) {
  for (auto& l : listeners) {
    size_t index = l.index;
    metrics::ListenerCounters* counters = l.counters;
    AcceptLoop::Callbacks callbacks;
    callbacks.name = "accept on " + local_address(l.fd.get()).to_string();
    callbacks.on_client = [this, index, counters](Fd client) {
      counters->accepted.add_shared();
      Admission::Verdict verdict = dispatch_(client, index);
      count_refusal(*counters, verdict);
      if (verdict == Admission::Verdict::kAdmitted || !session_log_enabled()) return;
      SessionRecord record;
      record.client = peer_address(client.get()).to_string();
      record.listener = local_address(client.get()).to_string();
      record.end = SessionEnd::kRefused;
      record.error = refusal_reason(verdict);
      log_session(record);
    };
    // Out of descriptors: a connection this process cannot serve is closed now rather than left
    // in the backlog, where its client would wait with no timeout. No session line for these:
    // they come in floods, and the shortage report counts them (common/shortage_report.h).
    callbacks.on_reserved = [counters](Fd) {
      counters->accepted.add_shared();
      counters->refused.add_shared();
    };
    callbacks.reserved_verb = "closed at once";
    callbacks.on_pause = [counters](int) { counters->accept_pauses.add_shared(); };
    loops_.push_back(std::make_unique<AcceptLoop>(loop, std::move(l.fd), std::move(callbacks)));
  }
}

void Acceptor::close_listeners() {
  for (auto& l : loops_) l->close();
}

}  // namespace sp
