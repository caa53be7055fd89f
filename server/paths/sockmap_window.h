// The TCP window of a sockmap direction's source socket (--mode sockmap): closed while the relay
// cannot move the direction's held bytes on, reopened when it can (server/paths/sockmap_relay.h).
//
// Closing clamps the window to the kernel's minimum (TCP_WINDOW_CLAMP): a held segment queued in
// the psock behind segments for the source's own peer (the other direction) is not charged to the
// receive buffer until they left, so the window would stay open and the sender could write without
// bound (measured: 80 MB past a hold, with a 2 MiB buffer alone). The receive buffer shrunk to its
// minimum closed the window as well, but growing it back left the window at a few KiB and a
// download stalled for good (3 runs in 20 of ClientThroughProxy.DownloadFromSource,
// bench/repro/sockmap-window).
//
// Reopening raises the clamp, which restores TCP's rcv_ssthresh only up to the window last
// advertised (tcp_set_window_clamp, Linux 6.7+): after a hold, the minimum. The window TCP then
// offers is smaller than a segment, the sender does not use it and waits for its probe timer,
// whose backoff grew while the hold lasted (held 2–6 s: resumed 1.6–6.7 s later, up to TCP's
// 120 s; docs/sockmap.md). Reopened *wide*, the socket's rcv_wnd is set to the clamp for the
// moment the clamp is raised (TCP_REPAIR_WINDOW, in repair mode: CAP_NET_ADMIN, which the relay
// needs anyway), so rcv_ssthresh follows it, and is then put back: the next read of held bytes
// finds a window worth announcing and sends the update at once, as a pump's read does. In repair
// mode the socket refuses writes (EINVAL, which would end the kernel's relay into it), so the
// caller must make sure nothing is written into it meanwhile (SockmapRelay pauses the other
// direction). Where repair mode is refused the clamp is raised plainly, and the cause said once.
//
// Thread context: any thread, on sockets it owns.
#pragma once

namespace sp {

// The source's receive buffer: fixed, not autotuned up to tcp_rmem's maximum (32 MiB on Debian 12),
// so that the window a held direction can be overrun by stays small (the kernel doubles it). Also
// the clamp of an open window.
constexpr int kSourceReceiveBuffer = 2 << 20;

void close_source_window(int fd);
// `wide` only while nothing can be written into the socket.
void reopen_source_window(int fd, bool wide);

}  // namespace sp
