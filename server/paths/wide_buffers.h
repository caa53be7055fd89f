// Which sockmap sessions may have wide destination send buffers (--mode sockmap).
//
// The kernel's egress of redirected bytes fills the destination's send buffer and then waits for
// ACKs; 16 MiB instead of TCP's autotuned 4 MiB doubled one bulk stream's throughput. But a wide
// buffer is set with SO_SNDBUF(FORCE), which takes the socket out of the kernel's memory
// regulation: under TCP memory pressure it keeps pushing into peers the kernel is squeezing. With
// 2,000 sessions × 2 MiB echoed at once (bench/crowd) that ended, in 4 runs of 8, in a pair of
// sockets that each dropped the other's segments for good: the squeezed peer's window at zero, its
// application waiting to write, every segment of the proxy's socket refused by its sequence check
// (tcp_validate_incoming, SKB_DROP_REASON_TCP_INVALID_SEQUENCE / _END_SEQUENCE, Linux 6.18) before
// its ACK was read. Autotuned buffers: 0 of 16; two wide sessions per worker narrowed at the mark
// below: 1 of 13 (bench/repro/sockmap-crowd-hang.sh).
//
// So wide buffers are a grant, asked for by a session once one of its directions redirected 16 MiB
// (SP_RELAY_BULK_AT: a 2 MiB echo never asks), and given while the worker's widened sessions fit
// its --memory-budget (a session counts both its destinations' buffers at their full size) and the
// kernel's TCP memory is below net.ipv4.tcp_mem's first mark, where the kernel starts to regulate.
// When it reaches that
// mark every widened session is narrowed; narrowed ones are widened again once the kernel's TCP
// memory fell below half the mark. A session refused keeps TCP's autotuning.
//
// Pure bookkeeping, no system calls: the worker reads the kernel's figures and applies the answers.
// Thread context: its worker's loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_set>
#include <vector>

namespace sp {

class SockmapSession;

// A widened destination's send buffer as asked (the kernel doubles it), and a narrowed one's.
// 8 MiB moved 200 MB uploads at a median 18.6 Gbit/s against 7.5 autotuned (12 runs each, AMD
// EPYC, 2 vCPU); 256 KiB held the crowd without a hang (8 runs of 8).
inline constexpr int kWideSendBuffer = 8 << 20;
inline constexpr int kNarrowSendBuffer = 256 << 10;
// What one widened session may hold in the kernel's send buffers: two destinations, doubled.
inline constexpr size_t kWideSessionCost = 2 * 2 * size_t{kWideSendBuffer};

class WideBuffers {
 public:
  // `cost`: bytes one widened session may hold in its destinations' send buffers; `low_mark`:
  // tcp_mem's first mark in pages, nullopt where it cannot be read (then only the budget counts).
  WideBuffers(size_t budget, size_t cost, std::optional<int64_t> low_mark)
      : budget_(budget), cost_(cost), low_mark_(low_mark) {}

  // A session asks: true if it may widen now (it is widened then).
  bool admit(SockmapSession* session, std::optional<int64_t> tcp_pages);
  // A session ends: its grant, if any, comes back.
  void remove(SockmapSession* session);

  struct Changes {
    std::vector<SockmapSession*> narrow;  // widened sessions to narrow now
    std::vector<SockmapSession*> widen;   // narrowed sessions that may widen again
  };
  // Every so often, while any session is widened or narrowed, with the kernel's TCP memory now.
  Changes update(std::optional<int64_t> tcp_pages);

  size_t widened() const { return wide_.size(); }
  bool watching() const { return !wide_.empty() || !narrowed_.empty(); }

 private:
  bool calm(std::optional<int64_t> tcp_pages, bool after_pressure) const;
  bool fits() const { return (wide_.size() + 1) * cost_ <= budget_; }

  size_t budget_;
  size_t cost_;
  std::optional<int64_t> low_mark_;
  bool pressure_ = false;  // the low mark was reached: no new grant until half of it
  std::unordered_set<SockmapSession*> wide_;
  std::unordered_set<SockmapSession*> narrowed_;
};

}  // namespace sp
