// Closing and reopening a TCP socket's receive window from user space, for a relay that must hold
// a sender back while the bytes it sent wait where the receive buffer does not count them
// (--mode sockmap's held directions, docs/sockmap.md).
//
// Closing shrinks the receive buffer to the kernel's minimum; reopening sets it back and makes
// sure the window clamp is at least as large. Two ways that did worse, measured with a two-way
// bulk echo (tcp_ping_client --mode stream, which holds tens of times a second):
// - Clamping the window (TCP_WINDOW_CLAMP) to close it: the kernel lowers rcv_ssthresh, the cap on
//   the window it advertises, with the clamp, and raising the clamp restores it only up to the
//   window last advertised, a few hundred bytes; it then regrows a small segment at a time
//   (`ss -tmi`: rcv_ssthresh 1152-4096): 45-70 MB/s against 460-700 with this.
// - Reopening in repair mode (TCP_REPAIR_WINDOW, to record a full window as advertised): while a
//   socket is in repair mode the kernel refuses to send on it, and the socket is also the
//   destination the kernel's relay sends into for the other direction: sessions were reset.
// The buffer alone once left rcv_ssthresh and the clamp at ~2 KiB after reopening, and a download
// waited for good (bench/repro/sockmap-window.sh): with the clamp raised, the window can grow.
//
// Thread context: any (each call is about one socket its caller owns).
#pragma once

namespace sp {

// Shrinks fd's receive buffer to the minimum: the window closes as bytes arrive.
void close_window(int fd);
// Sets fd's receive buffer to `bytes` and raises its window clamp to at least `bytes`.
void reopen_window(int fd, int bytes);

}  // namespace sp
