// Both directions of one proxied connection relayed inside the kernel (--mode sockmap): the
// sockets sit in the relay program's maps and the proxy only watches for the ends of the streams.
//
// A direction's EOF (EPOLLRDHUP on its source) is passed on as shutdown(SHUT_WR) of its
// destination only once every byte the source received has been written into the destination:
// the bytes the kernel redirected may still wait in its queues when the FIN is seen. TCP counts
// both sides (TCP_INFO: bytes received; bytes acknowledged plus SIOCOUTQ: bytes written) and the
// program counts what it redirected (SIOCINQ does not tell what waits in a socket of a sockmap),
// so the relay compares them, again and again (200 µs, doubling to 50 ms) until they meet.
//
// Flow control: the kernel queues what it redirected beyond the destination's send buffer without
// limit. Past SP_RELAY_HOLD_AT in that queue the program holds the direction (its segments go to the
// source's own receive side, which closes the source's TCP window) and says so on the worker's
// ring; the relay then moves the held bytes on with read/write, once the destination's TCP took
// every byte the kernel redirected before them, and publishes how many it moved; when it moved them
// all the program relays in the kernel again (server/paths/bpf/relay.bpf.c). A direction past a
// last-resort limit (SP_RELAY_QUEUE_LIMIT, SP_RELAY_HELD_LIMIT) is reset.
//
// Thread context: its worker's loop thread only.
#pragma once

#include <cstdint>

#include "common/event_loop.h"
#include "metrics/counters.h"
#include "server/paths/pump.h"
#include "server/paths/relay.h"
#include "server/paths/sockmap.h"
#include "server/paths/sockmap_worker.h"

namespace sp {

class SockmapRelay : public Relay, public SockmapSession {
 public:
  // The sockets' handlers are the session's registrations of them in the loop; held bytes move
  // through buffers of the worker's pool, within its memory budget (`pumps`).
  SockmapRelay(SockmapWorker& worker, EventLoop& loop, PumpContext& pumps, const RelaySockets& sockets,
               RelayOwner& owner);
  ~SockmapRelay() override;
  SockmapRelay(const SockmapRelay&) = delete;
  SockmapRelay& operator=(const SockmapRelay&) = delete;

  // Hands both sockets to the kernel, before start(). 0, or the errno of the kernel's refusal;
  // then, unless *partial, nothing moved and the session may relay otherwise (the sockets' epoll
  // registrations are as they were).
  int attach(bool* partial);
  void start(uint32_t pending_client_events) override;
  void on_events(bool client, uint32_t events) override;
  void stop() override;
  // Closing the sockets took them out of the kernel's socket maps: the session entries go now.
  void sockets_closed() override { detach(); }
  // From the worker's ring, about the direction whose source has this cookie: SP_RELAY_HOLD,
  // SP_RELAY_RESUME, SP_RELAY_BULK, or a reason to reset the session (SP_RELAY_OVERFLOW, SP_RELAY_UNTRIMMABLE).
  void told(uint64_t cookie, uint32_t what) override;
  void set_wide(bool wide) override;
  int64_t kernel_queued(uint64_t cookie) const override;
  // Nanoseconds since either socket last received data (TCP_INFO), for --idle-timeout.
  int64_t idle_ns() const override;

 private:
  struct Direction {
    Direction(int from, Handler* from_handler, int to) : src(from), src_handler(from_handler), dst(to) {}
    int src;
    Handler* src_handler;
    int dst;
    uint64_t key = 0;             // src's cookie
    uint64_t written_before = 0;  // what TCP counted as written into dst before the relay began
    bool eof = false;             // src's FIN arrived
    bool finished = false;        // EOF passed on: dst shut down for writing
    bool holding = false;         // the program holds: held bytes wait in src for the relay
    bool window_closed = false;   // src's window clamped to its minimum (see move_on)
    uint64_t released = 0;        // held bytes the relay wrote into dst
    BufferPool::Buffer buffer;    // while holding: read from src, not yet written
    size_t pending_at = 0;
    size_t pending = 0;
    bool pending_in_order = false;  // every byte redirected before the pending ones is in dst
    int64_t quiet_wait_from = 0;    // since when the closed window waits to reopen wide
    // The program holds d (SP_RELAY_PAUSED) while the other direction's window is open wide and
    // that direction still holds: its held segments must not queue uncharged in the psock behind
    // d's, where TCP's window does not see them (set_window).
    bool paused = false;
  };
  Direction& other(const Direction& d) { return &d == &up_ ? down_ : up_; }
  struct Progress {
    int64_t received;    // bytes src received (TCP_INFO)
    int64_t taken;       // bytes the program took from src: redirected or held (its session entry)
    int64_t redirected;  // of those, redirected to dst by the kernel
    int64_t written;     // bytes written into dst since the relay began (TCP_INFO, SIOCOUTQ)
    int64_t unread() const { return received - taken; }  // still in src's receive queue
    int64_t queued() const { return taken - written; }   // in the kernel's queues, src or the relay
  };
  Progress progress(const Direction& d) const;
  void check();
  // Moves held bytes from d.src to d.dst; false when the session failed (touch nothing then).
  bool move_on(Direction& d);
  // Bytes the kernel redirected into dst that its TCP has not taken yet (0 or less: none).
  int64_t redirected_waiting(const Direction& d) const;
  // Whether dst's TCP took every byte the kernel redirected before the held bytes in hand.
  bool redirected_ones_written(const Direction& d) const;
  void rearm_move();  // looks at both directions again after the move timer's backoff
  // Both directions' held bytes again: a turn on the loop's ready list for those that did not fit
  // in the last one, or after the move timer.
  void move_turn();
  BufferPool::Buffer take_move_buffer();
  void set_window(Direction& d, bool open);
  // Pauses the kernel's relay of d (SP_RELAY_PAUSED) if nothing it redirected is still on its way
  // into d.dst, so that nothing is written into d.dst but what the worker moves on; false, not
  // paused, if something is.
  bool pause(Direction& d);
  void unpause(Direction& d);
  // Ends the pause of the other direction once `held` has no held bytes left to move on.
  void unpause_after(Direction& held);
  // Tells the program how many of d's held bytes were written into d.dst, and whether d is paused.
  void publish_released(const Direction& d);
  void update_interest();
  uint32_t interest(const Direction& as_src, const Direction& as_dst) const;
  void fail(int err);  // the owner then stops this relay: touch nothing after it
  void detach();

  SockmapWorker& worker_;
  EventLoop& loop_;
  PumpContext& pumps_;
  metrics::WorkerCounters& counters_;
  RelayOwner& owner_;
  Sockmap::Keys keys_;
  Direction up_;    // client -> remote
  Direction down_;  // remote -> client
  bool started_ = false;
  bool failed_ = false;
  bool detached_ = false;
  bool wide_asked_ = false;  // a direction was bulk: the worker was asked for wide buffers
  EventLoop::TimerId timer_ = 0;
  int64_t recheck_ns_ = 0;
  EventLoop::TimerId move_timer_ = 0;  // a held direction waits for the kernel's queue to drain
  int64_t move_wait_ns_ = 0;
  ReadyTurn<SockmapRelay, &SockmapRelay::move_turn> move_turn_{*this};
  uint32_t client_events_ = 0;  // the epoll interest of each socket now
  uint32_t remote_events_ = 0;
};

}  // namespace sp
