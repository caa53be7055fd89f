// --socket-memory: a bound on what the proxy's own sockets may hold in the kernel's buffers.
//
// A proxied connection is two sockets, so behind a proxy the kernel's TCP memory is twice what
// the same load takes direct. Past net.ipv4.tcp_mem's pressure point the kernel shrinks every
// socket's buffers and, above its hard limit, drops segments, which the senders retransmit after
// timeouts: connections stall for seconds (issue 22: 2,000 connections each echoing 2 MiB through
// the proxy). Nothing bounded what the proxy's sockets held: TCP autotunes each up to tcp_rmem /
// tcp_wmem's maximum (32 MiB / 4 MiB on Debian 12).
//
// The budget is split evenly between the live sessions: each of a session's four buffers (two
// sockets, each a receive and a send buffer) is capped at budget / (4 × sessions), never below
// 64 KiB (so many sessions may pass the budget: --max-connections bounds them), and left to TCP's
// autotuning while the share is above what autotuning would reach. Shares move in steps of about
// a fifth (a generation each): a session re-caps its sockets when it sees a new generation, at its
// next event, so a burst of arrivals tightens the early sessions too, and a step back up lets them
// grow again.
//
// Thread context: any thread (atomics).
#pragma once

#include <atomic>
#include <cstdint>

namespace sp {

class SocketBudget {
 public:
  static constexpr int kFloor = 64 << 10;

  // bytes: the bound for all sessions' socket buffers; 0: none (TCP autotunes every socket).
  explicit SocketBudget(uint64_t bytes);
  // The default: half of net.ipv4.tcp_mem's pressure point (the other half for the peers, which on
  // one host are the kernel's too); 0 when /proc does not say.
  static uint64_t automatic();

  struct Cap {
    int bytes = 0;            // per buffer, as the kernel accounts it; 0: autotuning
    uint32_t generation = 0;  // changes when the cap moves by a step; 0: autotuning
  };
  Cap cap() const;
  // Caps one socket's receive and send buffers at cap.bytes (SO_RCVBUF / SO_SNDBUF are given half:
  // the kernel doubles them), or, with cap.bytes 0, raises them back to autotuning's maximum (a
  // socket whose buffers were set once is not autotuned again).
  void apply(int fd, const Cap& cap) const;
  void session_started() { live_.fetch_add(1, std::memory_order_relaxed); }
  void session_ended() { live_.fetch_sub(1, std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_; }

  // The cap for a number of live sessions (pure; for the tests).
  Cap cap_for(uint64_t sessions) const;

 private:
  uint64_t bytes_;
  int autotune_max_;  // the largest buffer TCP's autotuning reaches (tcp_rmem, tcp_wmem maxima)
  std::atomic<uint64_t> live_{0};
};

}  // namespace sp
