#include "server/paths/wide_buffers.h"

namespace sp {

bool WideBuffers::calm(std::optional<int64_t> tcp_pages, bool after_pressure) const {
  if (!low_mark_) return true;
  if (!tcp_pages) return false;  // unknown now: not the moment to take more
  return after_pressure ? *tcp_pages * 2 < *low_mark_ : *tcp_pages < *low_mark_;
}

bool WideBuffers::admit(SockmapSession* session, std::optional<int64_t> tcp_pages) {
  if (pressure_ && calm(tcp_pages, true)) pressure_ = false;  // no session was left to watch it end
  if (pressure_ || !calm(tcp_pages, false) || !fits()) return false;
  wide_.insert(session);
  return true;
}

void WideBuffers::remove(SockmapSession* session) {
  wide_.erase(session);
  narrowed_.erase(session);
}

WideBuffers::Changes WideBuffers::update(std::optional<int64_t> tcp_pages) {
  Changes changes;
  if (!pressure_ && !calm(tcp_pages, false) && tcp_pages) {
    pressure_ = true;
    changes.narrow.assign(wide_.begin(), wide_.end());
    narrowed_.insert(wide_.begin(), wide_.end());
    wide_.clear();
    return changes;
  }
  if (pressure_ && calm(tcp_pages, true)) pressure_ = false;
  if (pressure_) return changes;
  for (auto it = narrowed_.begin(); it != narrowed_.end() && fits();) {
    changes.widen.push_back(*it);
    wide_.insert(*it);
    it = narrowed_.erase(it);
  }
  return changes;
}

}  // namespace sp
