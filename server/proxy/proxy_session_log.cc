// ProxySession: what a session tells its log (--log-sessions) and its warnings: who it served,
// the bytes each way, how it ended. Kept apart from the connecting and relaying it accounts for.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "common/socket.h"
#include "server/proxy/proxy_session.h"

namespace sp {

ProxySession::Account& ProxySession::account() {
  if (!account_) account_ = std::make_unique<Account>();
  return *account_;
}

void ProxySession::set_end(SessionEnd end, std::string error) {
  if (!options_.log_sessions || account().end) return;
  account().end = end;
  account().error = std::move(error);
}

namespace {
// tcpi_state values (include/net/tcp_states.h): <linux/tcp.h> has the tcp_info with its byte
// counts but not the states, <netinet/tcp.h> the states but an older tcp_info.
enum : uint8_t { kTimeWait = 6, kClose = 7, kCloseWait = 8, kLastAck = 9, kClosing = 11 };

// Bytes the socket received from its peer, for a relay that does not see them (the kernel moves
// them). TCP counts the FIN in tcpi_bytes_received; fin_seen: the relay ended on both EOFs (the
// socket may be CLOSED by now, a state that no longer says whether a FIN came).
uint64_t tcp_bytes_received(int fd, bool fin_seen) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
  uint8_t s = info.tcpi_state;
  bool fin = fin_seen || s == kCloseWait || s == kLastAck || s == kClosing || s == kTimeWait;
  return info.tcpi_bytes_received - (fin && info.tcpi_bytes_received ? 1 : 0);
}

// A relay that cannot say which socket failed: the one the reset closed.
bool tcp_closed(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  return ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 && info.tcpi_state == kClose;
}
}  // namespace

// Before the relay stops (a pump relay lets go of its pumps) and while the sockets are open.
void ProxySession::take_tally(bool both_eof) {
  if (!relay_ || !options_.log_sessions || account().tallied) return;
  account().tallied = true;
  RelayTally& tally = account().tally;
  tally = relay_->tally();
  if (!tally.bytes_known) {
    tally.to_remote = tcp_bytes_received(client_.get(), both_eof);
    tally.to_client = tcp_bytes_received(remote_fd_.get(), both_eof);
  }
  if (tally.failed == RelaySide::kUnknown)
    tally.failed = tcp_closed(client_.get()) ? RelaySide::kClient : tcp_closed(remote_fd_.get()) ? RelaySide::kRemote : RelaySide::kUnknown;
}

void ProxySession::write_session_log() {
  const Account& a = account();
  SessionRecord r;
  r.client = client();  // behind a balancer (--accept-proxy), the client its header names
  r.listener = a.listener.to_string();
  if (address_index_ > 0) r.remote = (*addresses_)[address_index_ - 1].to_string();
  else r.remote = backend_ ? backend_->spec().where.to_string() : backends_.describe();
  r.mode = relay_ && a.tally.mode ? a.tally.mode : to_string(paths_.effective());
  r.bytes_to_remote = a.tally.to_remote;
  r.bytes_to_client = a.tally.to_client;
  r.duration_ms = (env_.loop.now() - started_ns_) / kNsPerMs;
  r.end = a.end.value_or(SessionEnd::kError);
  r.error = a.error;
  log_session(r);
}

std::string ProxySession::client() const {
  if (account_ && account_->carried_client) return account_->carried_client->to_string();
  if (account_ && account_->client.length) return account_->client.to_string();
  SocketAddress peer = peer_address(client_.get());
  return peer.length ? peer.to_string() : "?";
}

}  // namespace sp
