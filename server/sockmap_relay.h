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
// Overflow: the kernel queues what it redirected beyond the destination's send buffer without limit
// or flow control. Past SP_RELAY_QUEUE_LIMIT in that queue the relay program reports the direction
// on the worker's ring and the session is reset: memory stays bounded per session, and no byte is
// lost or reordered silently (server/bpf/relay.bpf.c says why it does not hold the sender back).
//
// Thread context: its worker's loop thread only.
#pragma once

#include <cstdint>

#include "common/event_loop.h"
#include "metrics/counters.h"
#include "server/sockmap.h"
#include "server/sockmap_worker.h"

namespace sp {

class SockmapRelay {
 public:
  class Owner {
   public:
    // Both EOFs were passed on (clean end), or a socket error ended the session (err != 0).
    virtual void sockmap_finished(int err) = 0;

   protected:
    ~Owner() = default;
  };

  // The handlers are the session's registrations of the two sockets in the loop.
  SockmapRelay(SockmapWorker& worker, EventLoop& loop, metrics::WorkerCounters& counters, int client,
               Handler* client_handler, int remote, Handler* remote_handler, Owner& owner);
  // After the sockets are closed: takes the session out of the maps.
  ~SockmapRelay();
  SockmapRelay(const SockmapRelay&) = delete;
  SockmapRelay& operator=(const SockmapRelay&) = delete;

  // Hands both sockets to the kernel. 0, or the errno of the kernel's refusal; then, unless
  // *partial, nothing moved and the session may relay otherwise (the sockets' epoll
  // registrations are as they were).
  int start(bool* partial);
  void on_events(bool client, uint32_t events);
  // From the worker's ring: the program cannot go on relaying one direction (SP_RELAY_OVERFLOW,
  // SP_RELAY_UNTRIMMABLE); the session is reset.
  void must_reset(uint32_t reason);
  // Nanoseconds since either socket last received data (TCP_INFO), for --idle-timeout.
  int64_t idle_ns() const;

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
  };
  struct Progress {
    int64_t received;    // bytes src received (TCP_INFO)
    int64_t redirected;  // bytes the program took from src and redirected (its session entry)
    int64_t written;     // bytes written into dst since the relay began (TCP_INFO, SIOCOUTQ)
    int64_t unread() const { return received - redirected; }  // still in src's receive queue
    int64_t queued() const { return redirected - written; }   // in the kernel's queue for dst
  };
  Progress progress(const Direction& d) const;
  void check();
  void fail(int err);  // the owner then destroys this relay: touch nothing after it

  SockmapWorker& worker_;
  EventLoop& loop_;
  metrics::WorkerCounters& counters_;
  Owner& owner_;
  Sockmap::Keys keys_;
  Direction up_;    // client -> remote
  Direction down_;  // remote -> client
  bool started_ = false;
  bool failed_ = false;
  EventLoop::TimerId timer_ = 0;
  int64_t recheck_ns_ = 0;
};

}  // namespace sp
