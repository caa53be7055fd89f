#include "server/paths/sockmap_window.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <mutex>

#include "common/log.h"
#include "server/paths/sockmap_tcp.h"

namespace sp {
namespace {

constexpr int kClosedWindow = 1;  // the kernel makes it SOCK_MIN_RCVBUF / 2

void clamp(int fd, int bytes) { ::setsockopt(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &bytes, sizeof bytes); }

bool set_repair(int fd, int mode) { return ::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &mode, sizeof mode) == 0; }

// Repair mode is refused for lack of CAP_NET_ADMIN, and also in states it does not cover (a
// socket whose peer sent its FIN): only the first is worth a line.
void say_refused(int fd, int err) {
  tcp_info info;
  constexpr uint8_t kEstablished = 1;
  if (!tcp_info_of(fd, &info) || info.tcpi_state != kEstablished) return;
  static std::once_flag said;
  std::call_once(said, [err] {
    log::warn("sockmap: TCP_REPAIR refused (", log::errno_text(err),
              "): a held direction's sender resumes only at its next window probe, seconds after a long "
              "hold; grant CAP_NET_ADMIN");
  });
}

}  // namespace

void close_source_window(int fd) { clamp(fd, kClosedWindow); }

void reopen_source_window(int fd, bool wide) {
  if (!wide) {
    clamp(fd, kSourceReceiveBuffer);
    return;
  }
  if (!set_repair(fd, TCP_REPAIR_ON)) {
    say_refused(fd, errno);
    clamp(fd, kSourceReceiveBuffer);
    return;
  }
  tcp_repair_window was{};
  socklen_t len = sizeof was;
  bool widened = false;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &was, &len) == 0) {
    tcp_repair_window open = was;
    open.rcv_wnd = kSourceReceiveBuffer;
    widened = ::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &open, sizeof open) == 0;
  }
  clamp(fd, kSourceReceiveBuffer);
  // Put back: the window advertised is what TCP computes from now on, up to the clamp; and a
  // window left larger than the one last sent would make the next read see nothing to announce.
  if (widened) ::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &was, sizeof was);
  set_repair(fd, TCP_REPAIR_OFF_NO_WP);  // no probe: its old sequence number would be ignored
}

}  // namespace sp
