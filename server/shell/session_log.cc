#include "server/shell/session_log.h"

#include <atomic>

namespace sp {
namespace {
std::atomic<bool> g_enabled{false};
}  // namespace

const char* to_string(SessionEnd end) {
  switch (end) {
    case SessionEnd::kClientEof: return "client-eof";
    case SessionEnd::kRemoteEof: return "remote-eof";
    case SessionEnd::kEof: return "eof";
    case SessionEnd::kClientReset: return "client-reset";
    case SessionEnd::kRemoteReset: return "remote-reset";
    case SessionEnd::kConnectFailed: return "connect-failed";
    case SessionEnd::kConnectTimeout: return "connect-timeout";
    case SessionEnd::kIdleTimeout: return "idle-timeout";
    case SessionEnd::kDrain: return "drain";
    case SessionEnd::kRefused: return "refused";
    case SessionEnd::kError: return "error";
  }
  return "error";
}

void enable_session_log(bool on) { g_enabled.store(on, std::memory_order_relaxed); }
bool session_log_enabled() { return g_enabled.load(std::memory_order_relaxed); }

log::Fields session_fields(const SessionRecord& r) {
  log::Fields f{{"client", r.client}, {"listener", r.listener}};
  if (!r.remote.empty()) f.push_back({"remote", r.remote});
  if (!r.mode.empty()) f.push_back({"mode", r.mode});
  f.push_back(log::number_field("bytes_to_remote", r.bytes_to_remote));
  f.push_back(log::number_field("bytes_to_client", r.bytes_to_client));
  f.push_back(log::number_field("duration_ms", static_cast<uint64_t>(r.duration_ms < 0 ? 0 : r.duration_ms)));
  f.push_back({"end", to_string(r.end)});
  if (!r.error.empty()) f.push_back({"error", r.error});
  return f;
}

void log_session(const SessionRecord& record) {
  if (!session_log_enabled()) return;
  log::write(log::Level::kInfo, "session", session_fields(record));
}

}  // namespace sp
