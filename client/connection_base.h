// What the two kinds of tcp_ping_client connection share (ping_connection.cc,
// stream_connection.cc): connect (bounded by a timeout), the mode's traffic, then a graceful close
// (half-close, wait for the EOF), and the error reports that name what went wrong. Their worker
// sees only the Connection interface (connection.h).
//
// Thread context: its worker's loop thread only.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <limits>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "client/connection.h"
#include "client/load_worker.h"
#include "client/pacer.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/socket.h"

namespace sp::client {

inline constexpr size_t kBudget = 1 << 20;              // bytes per direction per turn before yielding
inline constexpr int64_t kConnectTimeoutNs = 5 * kNsPerSec;
inline constexpr int64_t kDrainTimeoutNs = 5 * kNsPerSec;  // after stop or half-close: wait this long for the rest
inline constexpr uint32_t kReadable = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;

inline std::string hex_byte(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", b);
  return buf;
}

class ConnectionBase : public Connection, public Handler {
 public:
  ConnectionBase(LoadWorker& w, int id) : w_(w), o_(w.options()), id_(id) {}
  ~ConnectionBase() override = default;

  void connect() override {
    int err = 0;
    fd_ = connect_nonblocking(w_.server(), &err);
    if (!fd_) return fail_connect(err);
    phase_ = Phase::kConnecting;
    w_.loop().add(fd_.get(), EventLoop::kEdgeAll, this);
    connect_timer_ = w_.loop().run_after(kConnectTimeoutNs, [this] {
      connect_timer_ = 0;
      if (phase_ == Phase::kConnecting) fail_connect(ETIMEDOUT);
    });
  }

  void start() override {
    if (phase_ != Phase::kConnected) return;
    phase_ = Phase::kRunning;
    begin();
  }

  // Stop at t: no new messages; finish what is in flight, half-close and wait for the EOF.
  void stop(int64_t t) override {
    if (phase_ == Phase::kConnecting || phase_ == Phase::kConnected) return close();
    if (phase_ == Phase::kClosed) return;
    mark_done(t);
    stopping_ = true;
    arm_drain_timer();
    wind_down();
  }

  void abort() override {
    if (phase_ == Phase::kClosed) return;
    mark_done(now_ns());
    if (fd_) set_reset_on_close(fd_.get());
    close();
  }

  void on_events(uint32_t events) override {
    if (events & kReadable) readable_ = true;
    if (events & EPOLLOUT) writable_ = true;
    if (phase_ == Phase::kConnecting) return on_connect_event(events);
    if (phase_ == Phase::kRunning || phase_ == Phase::kDraining) io(events);
  }

  void on_ready() override {
    if (phase_ == Phase::kRunning || phase_ == Phase::kDraining) io(0);
  }

  // Pacer: the intended send time `due` has come.

  bool open() const { return phase_ != Phase::kIdle && phase_ != Phase::kClosed; }

 protected:
  enum class Phase { kIdle, kConnecting, kConnected, kRunning, kDraining, kClosed };

  virtual void begin() = 0;               // traffic starts
  virtual void wind_down() = 0;           // stop() was called while running
  virtual void io(uint32_t events) = 0;   // readiness changed, or a deferred turn
  virtual uint64_t missing_bytes() const = 0;  // echo bytes still owed when closing
  virtual void closing() {}               // the connection ends (after running): last words

  void fail(ErrorKind kind, const std::string& what) {
    if (phase_ == Phase::kClosed) return;
    w_.record_error(kind, "connection " + std::to_string(id_) + ": " + what);
    mark_done(now_ns());
    if (fd_) set_reset_on_close(fd_.get());
    close();
  }

  // A failed send or recv: reset, broken pipe or any other errno.
  void fail_errno(const char* op, int err) { fail(ErrorKind::kReset, describe_error(op, w_.server(), err)); }

  // A peer that closed early: what we had and what we expected.
  void fail_short(const std::string& what) { fail(ErrorKind::kShortRead, w_.server_text() + " " + what); }

  // Received bytes data[0, len), starting at stream position `position`, failed the check at
  // data[bad]: say where, what came and what was expected.
  void mismatch(uint64_t position, const uint8_t* data, size_t len, size_t bad) {
    uint64_t at = position + bad;
    std::string where, note;
    uint8_t want;
    if (o_.mode == Mode::kDownload) {
      where = "stream byte " + std::to_string(at);
      want = w_.pattern().at(at);
    } else {
      const MessageFormat& f = w_.format();
      uint64_t seq = at / o_.length, offset = at % o_.length;
      where = "message " + std::to_string(seq) + " byte " + std::to_string(offset);
      want = f.expected(static_cast<uint32_t>(id_), at);
      uint32_t got_conn;
      uint64_t got_seq;
      if (offset < 8 && bad >= offset &&
          f.decode_stamp(static_cast<uint32_t>(id_), data + bad - offset, len - (bad - offset), &got_conn, &got_seq) &&
          got_conn == (static_cast<uint32_t>(id_) & 0xffff))
        note = " (it is message " + std::to_string(got_seq) + ": a message was " +
               (got_seq < (seq & MessageFormat::kSequenceMask) ? "repeated" : "lost") + ")";
    }
    fail(ErrorKind::kMismatch, "mismatch from " + w_.server_text() + ": " + where + " is " + hex_byte(data[bad]) +
                                   ", expected " + hex_byte(want) + note);
  }

  // Our side is done sending: FIN to the server, then wait (bounded) for its EOF.
  void half_close() {
    if (tx_shut_) return;
    tx_shut_ = true;
    phase_ = Phase::kDraining;
    ::shutdown(fd_.get(), SHUT_WR);
    arm_drain_timer();
  }

  void arm_drain_timer() {
    if (drain_timer_) return;
    drain_timer_ = w_.loop().run_after(kDrainTimeoutNs, [this] {
      drain_timer_ = 0;
      if (phase_ == Phase::kClosed) return;
      if (uint64_t missing = missing_bytes())
        return fail_short("echoed nothing for " + std::to_string(kDrainTimeoutNs / kNsPerSec) + " s after the end: " +
                          std::to_string(missing) + " bytes never came back");
      log::info("connection ", id_, ": no EOF from ", w_.server_text(), " after the end; closing");
      close();
    });
  }

  void mark_done(int64_t t) {
    if (!done_ns_) done_ns_ = t;
  }

  void close() {
    if (phase_ == Phase::kClosed || phase_ == Phase::kIdle) return;
    bool was_connecting = phase_ == Phase::kConnecting;
    if (phase_ == Phase::kRunning || phase_ == Phase::kDraining) closing();
    phase_ = Phase::kClosed;
    if (connect_timer_) w_.loop().cancel(connect_timer_);
    if (drain_timer_) w_.loop().cancel(drain_timer_);
    connect_timer_ = drain_timer_ = 0;
    w_.loop().remove(fd_.get());
    fd_.reset();
    if (was_connecting) w_.connection_resolved(false);  // a stop before the connect finished
    else w_.connection_closed(done_ns_ ? done_ns_ : now_ns());
  }

  ssize_t recv_some(void* buf, size_t len) {
    ssize_t n;
    do n = ::recv(fd_.get(), buf, len, 0);
    while (n < 0 && errno == EINTR);
    return n;
  }

  ssize_t send_some(const void* buf, size_t len) {
    ssize_t n;
    do n = ::send(fd_.get(), buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
  }

  LoadWorker& w_;
  const Options& o_;
  int id_;
  Fd fd_;
  Phase phase_ = Phase::kIdle;
  bool readable_ = false;
  bool writable_ = false;
  bool tx_shut_ = false;
  bool stopping_ = false;
  int64_t done_ns_ = 0;  // when this connection's measured work ended

 private:
  void fail_connect(int err) {
    w_.record_error(ErrorKind::kConnectFailure, describe_error("connect", w_.server(), err));
    if (connect_timer_) w_.loop().cancel(connect_timer_);
    connect_timer_ = 0;
    if (fd_) w_.loop().remove(fd_.get());
    fd_.reset();
    phase_ = Phase::kClosed;
    w_.connection_resolved(false);
  }

  void on_connect_event(uint32_t events) {
    std::optional<int> err = connect_outcome(fd_.get(), events);
    if (!err) return;
    if (*err) return fail_connect(*err);
    w_.loop().cancel(connect_timer_);
    connect_timer_ = 0;
    set_nodelay(fd_.get());
    phase_ = Phase::kConnected;
    w_.connection_resolved(true);
  }

  EventLoop::TimerId connect_timer_ = 0;
  EventLoop::TimerId drain_timer_ = 0;
};

}  // namespace sp::client
