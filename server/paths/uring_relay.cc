#include "server/paths/uring_relay.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "server/paths/turn_budget.h"

namespace sp {

UringRelay::UringRelay(Uring& ring, EventLoop& loop, BufferPool& own_buffers, const RelaySockets& sockets,
                       metrics::WorkerCounters& counters, RelayOwner& owner)
    : ring_(ring),
      loop_(loop),
      own_buffers_(own_buffers),
      counters_(counters),
      owner_(owner),
      client_(sockets.client),
      remote_(sockets.remote),
      client_in_loop_(sockets.client_in_loop),
      remote_in_loop_(sockets.remote_in_loop),
      up_(*this, sockets.client, sockets.remote, counters.bytes_in),
      down_(*this, sockets.remote, sockets.client, counters.bytes_out) {
  ring_.add_session(1);
}

UringRelay::~UringRelay() {
  ring_.add_session(-1);
  for (Direction* d : {&up_, &down_})
    if (d->send_late) ring_.forget(&d->send_op);
  up_.give_back_all();
  down_.give_back_all();
  up_.set_bulk(false);
  down_.set_bulk(false);
}

void UringRelay::start(uint32_t) {
  // The ring sees what the client sent while connecting: its first receive finds it queued.
  if (client_in_loop_) loop_.remove(client_);
  if (remote_in_loop_) loop_.remove(remote_);
  up_.arm_receive();
  down_.arm_receive();
}

void UringRelay::stop() {
  if (stopping_) return;
  stopping_ = true;
  if (up_.receiving || up_.sending || down_.receiving || down_.sending) {
    ring_.cancel(client_);
    ring_.cancel(remote_);
  }
  // A linked receive is issued only once its send completed, possibly after the cancel ran: with
  // the receive side shut it then completes at once instead of waiting for data.
  if (up_.linked) ::shutdown(up_.src, SHUT_RD);
  if (down_.linked) ::shutdown(down_.src, SHUT_RD);
  check_stopped();
}

void UringRelay::check_stopped() {
  if (stopping_ && !in_flight()) owner_.relay_stopped();
}

void UringRelay::fail(int err, int fd) {
  counters_.resets.add();
  failed_ = fd == client_ ? RelaySide::kClient : RelaySide::kRemote;
  owner_.relay_finished(err);  // the owner stops us
}

void UringRelay::direction_finished(const Direction& d) {
  if (first_eof_ == RelaySide::kUnknown) first_eof_ = &d == &up_ ? RelaySide::kClient : RelaySide::kRemote;
  if (up_.finished && down_.finished) owner_.relay_finished(0);
}

RelayTally UringRelay::tally() const {
  RelayTally t;
  t.mode = "uring";
  t.bytes_known = true;
  t.to_remote = up_.delivered;
  t.to_client = down_.delivered;
  t.first_eof = first_eof_;
  t.failed = failed_;
  return t;
}

void UringRelay::Direction::set_bulk(bool on) {
  if (on != bulk) relay.ring_.add_bulk_direction(on ? 1 : -1);
  bulk = on;
}

void UringRelay::Direction::arm_receive() {
  if (receiving || resume_pending || eof || queued() >= kMaxQueued || relay.stopping_) return;
  receiving = true;
  receiving_from = group;
  if (relay.ring_.features() & kUringMultishot && light_streak >= kLightStreak && group == kSmallBuffers) {
    pending = Pending::kMultishot;
    asked = relay.ring_.buffer_size(kSmallBuffers);
    relay.ring_.receive_multishot(src, kSmallBuffers, &receive_op);
    return;
  }
  pending = Pending::kPool;
  asked = receive_size();
  relay.ring_.receive(src, group, &receive_op, drained, asked);
}

size_t UringRelay::Direction::receive_size() const {
  // Counted in sessions, as the pumps' ready list counts them (a session's two directions share a turn).
  size_t others = (relay.ring_.bulk_directions() - (bulk ? 1 : 0)) / 2;
  size_t largest = relay.ring_.buffer_size(relay.ring_.groups() > 1 ? kLargeBuffers : kSmallBuffers);
  return std::min(relay.ring_.buffer_size(group), turn_budget(others, largest));
}

void UringRelay::Direction::more_received(int result, uint32_t flags) {
  if (relay.stopping_ || result <= 0) {
    if (flags & IORING_CQE_F_BUFFER) relay.ring_.drop(receiving_from, result, flags);
    return;
  }
  queue.push({false, receiving_from, relay.ring_.take(receiving_from, result, flags), static_cast<uint32_t>(result), 0});
  relay.owner_.relay_activity();
  bool bulk_sized = static_cast<size_t>(result) >= kLightBytes;
  if (bulk_sized) {
    set_bulk(true);  // single receives of a turn's budget take over once this one ended
    light_streak = 0;
    if (relay.ring_.groups() > 1) group = kLargeBuffers;
  }
  if ((bulk_sized || queued() >= kMaxQueued) && !cancelling) {
    cancelling = true;
    relay.ring_.cancel_request(&receive_op);
  }
  send_next();
}

void UringRelay::Direction::received(int result, uint32_t flags) {
  if (pending == Pending::kMultishot && (flags & IORING_CQE_F_MORE)) return more_received(result, flags);
  if (linked) linked_send_completed();
  receiving = false;
  cancelling = false;
  Pending was = std::exchange(pending, Pending::kPool);
  bool into_own = was == Pending::kOwn;
  if (result == -ENOBUFS && !relay.stopping_ && receiving_from != kSmallBuffers) {
    group = kSmallBuffers;  // the large pool is dry: step down
    return arm_receive();
  }
  if (result == -ENOBUFS && !relay.stopping_) {
    // The small pool is dry too (a receive takes its buffer when issued, data or not): wait
    // until there is something to read, then read it into a buffer of this direction's own.
    if (own_in_use) return;  // one at a time: the send of `own` completes and re-arms
    receiving = true;
    pending = Pending::kReadable;
    relay.ring_.poll_readable(src, &receive_op);
    return;
  }
  if (was == Pending::kReadable && result > 0 && !relay.stopping_) {
    if (!own) own = relay.own_buffers_.acquire(0);
    receiving = true;
    pending = Pending::kOwn;
    relay.ring_.receive_into(src, own.get(), own.size, &receive_op);
    return;
  }
  if (result > 0 && !relay.stopping_) {
    Chunk c{into_own, receiving_from, {}, static_cast<uint32_t>(result), 0};
    if (into_own) own_in_use = true;
    else c.slice = relay.ring_.take(receiving_from, result, flags);
    queue.push(c);
    drained = static_cast<size_t>(result) < (into_own ? own.size : asked);
    set_bulk(!into_own && !drained);
    bool light = drained && static_cast<size_t>(result) < kLightBytes;
    light_streak = light ? static_cast<uint8_t>(std::min<unsigned>(light_streak + 1, kLightStreak)) : 0;
    // Climb to the large pool when a small buffer came back full; step down when a receive
    // would have fitted a small one.
    size_t small = relay.ring_.buffer_size(kSmallBuffers);
    if (!into_own && relay.ring_.groups() > 1)
      group = static_cast<size_t>(result) >= (receiving_from == kSmallBuffers ? small : small + 1) ? kLargeBuffers : kSmallBuffers;
  } else if (flags & IORING_CQE_F_BUFFER) {
    relay.ring_.drop(receiving_from, result, flags);
  }
  if (relay.stopping_) return relay.check_stopped();
  if (result == -EAGAIN || result == -EINTR) return arm_receive();
  bool cancelled = result == -ECANCELED && was == Pending::kMultishot;  // by more_received()
  if (result < 0 && !cancelled) return relay.fail(-result, src);
  if (result == 0) eof = true;
  else if (result > 0) relay.owner_.relay_activity();
  // A bulk direction's send waits for the end of the batch: the send of a light direction whose
  // completion comes later in it (a ping-pong beside bulk streams) is then submitted first.
  if (bulk) send_after_batch();
  else send_next();
  if (bulk && !resume_pending) {
    // A full receive: more is waiting. The next one takes its turn behind the others.
    resume_pending = true;
    relay.loop_.defer(&resume);
    return;
  }
  arm_receive();
}

void UringRelay::Direction::send_next() {
  if (sending || finished) return;
  if (queued() > 0) {
    const Chunk& c = queue.front();
    sending = true;
    if (send_linked(c)) return;
    relay.ring_.send(dst, data(c) + c.offset, c.received - c.offset, &send_op);
    return;
  }
  if (eof) {
    ::shutdown(dst, SHUT_WR);
    finished = true;
    set_bulk(false);
    relay.direction_finished(*this);
  }
}

bool UringRelay::Direction::send_linked(const Chunk& c) {
  Uring& ring = relay.ring_;
  // A whole small message, alone in the queue, of a direction that would arm its next receive
  // now from the small pool (not while the pools are short, bulk, or stopping).
  if (!(ring.features() & kUringLinkedSends) || ring.groups() < 2 || !ring.may_link()) return false;
  if (light_streak < kLightStreak || bulk || c.own || c.offset != 0 || c.group != kSmallBuffers || queued() != 1)
    return false;
  if (receiving || resume_pending || eof || relay.stopping_) return false;
  linked = true;
  receiving = true;
  pending = Pending::kPool;
  group = receiving_from = kSmallBuffers;
  asked = receive_size();
  ring.send_then_receive(dst, data(c), c.received, &send_op, src, kSmallBuffers, &receive_op, drained, asked);
  return true;
}

void UringRelay::Direction::linked_send_completed() {
  linked = false;
  sending = false;
  relay.ring_.linked_done();
  const Chunk& c = queue.front();
  bytes.add(c.received);
  delivered += c.received;
  give_back(c);
  queue.pop();
  relay.owner_.relay_activity();
}

void UringRelay::Direction::sent(int result) {
  if (linked) {
    // Only a failed linked send completes; its receive will not.
    linked = false;
    receiving = false;
    relay.ring_.linked_done();
  }
  sending = false;
  if (relay.stopping_) return relay.check_stopped();
  if (result == -EAGAIN || result == -EINTR) return send_next();
  if (result < 0) return relay.fail(-result, dst);
  Chunk& c = queue.front();
  bytes.add(static_cast<uint64_t>(result));
  delivered += static_cast<uint64_t>(result);
  c.offset += static_cast<uint32_t>(result);
  if (c.offset == c.received) {  // else a short send: the rest goes next
    give_back(c);
    queue.pop();
  }
  relay.owner_.relay_activity();
  if (bulk) send_after_batch();
  else send_next();
  arm_receive();
}

void UringRelay::Direction::send_after_batch() {
  if (send_late) return;
  send_late = true;
  relay.ring_.after_batch(&send_op);
}

void UringRelay::Direction::late_send() {
  send_late = false;
  if (!relay.stopping_) send_next();
}

void UringRelay::Direction::give_back(const Chunk& c) {
  if (!c.own) return relay.ring_.release(c.group, c.slice, c.received);
  own_in_use = false;
  relay.own_buffers_.release(std::move(own));  // back to the worker: the pool may have buffers again
}

void UringRelay::Direction::give_back_all() {
  for (; queue.size() > 0; queue.pop()) give_back(queue.front());
  relay.own_buffers_.release(std::move(own));
}

}  // namespace sp
