// Both directions of one proxied connection on the worker's io_uring. Each direction receives
// into a buffer the kernel picks from the worker's pool, sends it on in order (one send in flight,
// a short send completed from where it stopped), and stops receiving while it holds
// kMaxQueued buffers, so a slow destination stops its source being read (backpressure). With
// kUringMultishot a direction of small messages keeps one receive armed instead of one per
// message: once kLightStreak receives in a row each brought a small message and emptied the socket.
// It is cancelled once kMaxQueued buffers wait or a completion brings a buffer's worth (bulk),
// and the buffers that completed meanwhile are queued too. The streak is what keeps bulk off it:
// while the socket has more, the kernel repeats a multishot receive up to 32 times before the
// cancel can reach it, a buffer each, and 2,000 connections starting with a large message each
// emptied the pool that way (892 of them stalled for 5 s or more). EOF is
// passed on as shutdown(SHUT_WR) once everything before it was delivered; a socket error on
// either side ends both.
//
// With incremental consumption every receive takes the next bytes of the ring's buffer at the head
// (uring.h). Without, a direction receives into small pool buffers (16 KiB) until one comes back
// full, then into large ones (1 MiB) until a receive would have fitted a small one. When the
// buffers are all held (by directions whose destinations are slow), a receive completes with
// ENOBUFS: the large pool falls back to the small one, the small one (or the incremental ring) to
// a 16 KiB buffer of the direction's own from the worker's BufferPool (the pumps' lowest rung):
// no connection waits on another's backlog.
//
// With kUringLinkedSends a light direction (the same streak) sends its message linked to its own
// next receive, and the send posts no completion when it succeeds: the wait that submitted both
// lasts until the next message instead of ending at the send's completion (one io_uring_enter
// per hop instead of two). The receive's completion then also completes the send; a failed send
// completes alone, and its receive never does. Stopping shuts the sockets' receive side as well
// as cancelling, since a linked receive issued after the cancel would otherwise wait for data.
//
// Fair turns: a receive asks for at most a turn's budget (server/paths/turn_budget.h, shared among the
// ring's bulk directions), so every completion carries a bounded amount; and a direction whose
// receive came back full re-arms through the back of the loop's ready queue instead of at once,
// so in the next submission batch the requests of sessions that were waiting (a ping-pong's send)
// come before the bulk streams' next receives; and a bulk direction's send is prepared only once
// the batch's completions were all dispatched (Uring::after_batch), so a light direction's send
// whose completion came later in the batch is still submitted ahead of it.
//
// Every request in flight points at this object, so it must outlive them: stop() cancels them
// and the owner hears relay_stopped() once none is left; only then may it close the sockets.
// The ring watches both sockets from start() on: they leave epoll, which would only wake the
// worker for nothing (with kUringConnect a session's sockets never joined it: the remote connected
// on the ring).
//
// Thread context: its worker's loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "metrics/counters.h"
#include "server/paths/buffer_pool.h"
#include "server/paths/relay.h"
#include "server/paths/uring.h"

namespace sp {

class UringRelay : public Relay {
 public:
  static constexpr size_t kMaxQueued = 2;  // buffers held per direction before receiving stops
  // A multishot completion this large marks its direction bulk (a small pool buffer filled).
  static constexpr size_t kLightBytes = 16 << 10;
  static constexpr unsigned kLightStreak = 4;  // small receives in a row before a multishot one

  UringRelay(Uring& ring, EventLoop& loop, BufferPool& own_buffers, const RelaySockets& sockets,
             metrics::WorkerCounters& counters, RelayOwner& owner);
  ~UringRelay() override;
  UringRelay(const UringRelay&) = delete;
  UringRelay& operator=(const UringRelay&) = delete;

  void start(uint32_t pending_client_events) override;
  void on_events(bool, uint32_t) override {}  // the sockets are not in epoll
  // Cancels every request; relay_stopped() follows (at once if none was in flight).
  void stop() override;
  bool in_flight() const { return up_.in_flight() || down_.in_flight(); }
  RelayTally tally() const override;

 private:
  struct Direction;
  struct Receive : UringOp {
    explicit Receive(Direction& d) : dir(d) {}
    void on_completion(int result, uint32_t flags) override { dir.received(result, flags); }
    Direction& dir;
  };
  struct Send : UringOp {
    explicit Send(Direction& d) : dir(d) {}
    void on_completion(int result, uint32_t) override { dir.sent(result); }
    void after_batch() override { dir.late_send(); }  // a bulk direction's next send
    Direction& dir;
  };
  struct Chunk {
    bool own;           // in the direction's own buffer, not the ring's
    UringGroup group;
    UringSlice slice;   // where in the ring's buffers
    uint32_t received;  // its length as received
    uint32_t offset;    // sent so far
  };
  // Chunks received and not yet sent, in order. kMaxQueued of them live inline: an idle session's
  // directions, each having queued once, allocate nothing (the scale test's bound is 1 KiB per idle
  // connection). More only while completions of a cancelled multishot receive still land; those
  // spill to the heap, which is freed once they are gone.
  class ChunkQueue {
   public:
    size_t size() const { return count_ + (spill_ ? spill_->size() : 0); }
    Chunk& front() { return inline_[head_]; }
    void push(const Chunk& c) {
      if (count_ < kMaxQueued) {
        inline_[(head_ + count_++) % kMaxQueued] = c;
        return;
      }
      if (!spill_) spill_ = std::make_unique<std::vector<Chunk>>();
      spill_->push_back(c);
    }
    void pop() {
      head_ = static_cast<uint8_t>((head_ + 1) % kMaxQueued);
      --count_;
      if (!spill_) return;
      inline_[(head_ + count_++) % kMaxQueued] = spill_->front();
      spill_->erase(spill_->begin());
      if (spill_->empty()) spill_.reset();
    }

   private:
    std::array<Chunk, kMaxQueued> inline_{};
    uint8_t head_ = 0;
    uint8_t count_ = 0;
    std::unique_ptr<std::vector<Chunk>> spill_;  // after the inline ones, only while they are full
  };
  // A bulk direction's next receive, waiting for its turn on the loop's ready list.
  struct Resume : Handler {
    explicit Resume(Direction& d) : dir(d) {}
    void on_events(uint32_t) override {}
    void on_ready() override {
      dir.resume_pending = false;
      dir.arm_receive();
    }
    Direction& dir;
  };
  struct Direction {
    Direction(UringRelay& r, int from, int to, metrics::Counter& bytes_counter)
        : relay(r), src(from), dst(to), bytes(bytes_counter) {}
    void arm_receive();
    size_t receive_size() const;  // what a pool receive asks for: its buffer, at most a turn's budget
    void received(int result, uint32_t flags);
    void more_received(int result, uint32_t flags);  // a multishot receive's, still armed
    void sent(int result);
    void send_next();
    void send_after_batch();  // send_next() once the batch of completions was dispatched
    void late_send();
    bool send_linked(const Chunk& c);  // the send and the next receive as one linked pair, if it may
    void linked_send_completed();      // its receive completed: every byte of the front chunk went
    bool in_flight() const { return receiving || sending; }
    size_t queued() const { return queue.size(); }
    char* data(const Chunk& c) { return c.own ? own.get() : relay.ring_.data(c.group, c.slice); }
    void give_back(const Chunk& c);
    void give_back_all();
    void set_bulk(bool on);

    UringRelay& relay;
    int src;
    int dst;
    metrics::Counter& bytes;
    Receive receive_op{*this};
    Send send_op{*this};
    Resume resume{*this};
    bool resume_pending = false;  // on the ready list: arm_receive() waits for that turn
    bool bulk = false;            // the last receive filled what it asked for
    size_t asked = 0;             // what the receive in flight asked for
    ChunkQueue queue;
    BufferPool::Buffer own;  // while the pool is dry
    bool own_in_use = false;
    bool receiving = false;
    enum class Pending : uint8_t { kPool, kMultishot, kReadable, kOwn };
    Pending pending = Pending::kPool;  // what the receive op in flight is
    UringGroup group = kSmallBuffers;  // the pool the next receive takes from
    UringGroup receiving_from = kSmallBuffers;
    bool sending = false;
    bool linked = false;  // the send in flight is linked to the receive in flight
    bool send_late = false;  // asked Uring::after_batch for send_op
    bool eof = false;
    bool drained = false;   // the last receive left the socket empty: the next one polls first
    bool cancelling = false;  // the multishot receive was asked to stop
    bool finished = false;  // EOF passed on
    uint8_t light_streak = 0;  // receives in a row that brought < kLightBytes and emptied the socket (to kLightStreak)
    uint64_t delivered = 0;  // bytes sent on, for the session log
  };

  void direction_finished(const Direction& d);
  void fail(int err, int fd);  // fd: the socket the error came from
  void check_stopped();

  Uring& ring_;
  EventLoop& loop_;
  BufferPool& own_buffers_;
  metrics::WorkerCounters& counters_;
  RelayOwner& owner_;
  int client_;
  int remote_;
  bool client_in_loop_;  // else the session lived on the ring from the start (kUringConnect)
  bool remote_in_loop_;
  Direction up_;    // client -> remote
  Direction down_;  // remote -> client
  bool stopping_ = false;
  RelaySide first_eof_ = RelaySide::kUnknown;
  RelaySide failed_ = RelaySide::kUnknown;
};

}  // namespace sp
