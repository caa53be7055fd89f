#include "server/paths/wide_buffers.h"

#include <charconv>

namespace sp {
namespace {

std::optional<int64_t> number_at(std::string_view text, size_t at) {
  while (at < text.size() && text[at] == ' ') ++at;
  int64_t value = 0;
  auto [end, err] = std::from_chars(text.data() + at, text.data() + text.size(), value);
  if (err != std::errc() || end == text.data() + at || value < 0) return std::nullopt;
  return value;
}

}  // namespace

std::optional<int64_t> parse_tcp_mem_low(std::string_view tcp_mem) {
  size_t at = tcp_mem.find_first_not_of(" \t");
  return at == std::string_view::npos ? std::nullopt : number_at(tcp_mem, at);
}

std::optional<int64_t> parse_sockstat_tcp_pages(std::string_view sockstat) {
  while (!sockstat.empty()) {
    size_t end = sockstat.find('\n');
    std::string_view line = sockstat.substr(0, end);
    if (line.substr(0, 5) == "TCP: ") {
      size_t mem = line.find(" mem ");
      return mem == std::string_view::npos ? std::nullopt : number_at(line, mem + 5);
    }
    sockstat.remove_prefix(end == std::string_view::npos ? sockstat.size() : end + 1);
  }
  return std::nullopt;
}

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
