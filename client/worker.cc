#include "client/worker.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <queue>
#include <system_error>

#include "common/clock.h"
#include "common/log.h"
#include "common/socket.h"

namespace sp::client {
namespace {

constexpr size_t kBudget = 1 << 20;              // bytes per direction per turn before yielding
constexpr size_t kStreamReadSize = 256 << 10;    // one recv in stream and download modes
constexpr int64_t kConnectTimeoutNs = 5 * kNsPerSec;
constexpr int64_t kDrainTimeoutNs = 5 * kNsPerSec;  // after stop or half-close: wait this long for the rest
constexpr uint32_t kReadable = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr int kMaxLoggedErrors = 10;

std::atomic<int> g_logged_errors{0};
std::atomic<bool> g_logged_connect_failure{false};

std::string hex_byte(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", b);
  return buf;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Pacer: wakes ping-pong connections at their intended send times with a timerfd (microsecond
// precision; the loop's own timers round to milliseconds, which would skew --rate latencies).
class Pacer : public Handler {
 public:
  explicit Pacer(EventLoop& loop) : fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {
    if (!fd_) throw std::system_error(errno, std::generic_category(), "timerfd_create");
    loop.add(fd_.get(), EPOLLIN | EPOLLET, this);
  }
  void schedule(Connection* c, int64_t due);
  void on_events(uint32_t) override;

 private:
  struct Entry {
    int64_t due;
    Connection* conn;
    bool operator>(const Entry& o) const { return due > o.due; }
  };
  void arm(int64_t due);

  Fd fd_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  int64_t armed_ = std::numeric_limits<int64_t>::max();
};

// ---------------------------------------------------------------------------------------------
// Connection: connect, then the mode's traffic, then a graceful close (half-close, wait for EOF).
class Connection : public Handler {
 public:
  Connection(Worker& w, int id) : w_(w), o_(w.options()), id_(id) {}
  ~Connection() override = default;

  void connect() {
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

  void start() {
    if (phase_ != Phase::kConnected) return;
    phase_ = Phase::kRunning;
    begin();
  }

  // Stop at t: no new messages; finish what is in flight, half-close and wait for the EOF.
  void stop(int64_t t) {
    if (phase_ == Phase::kConnecting || phase_ == Phase::kConnected) return close();
    if (phase_ == Phase::kClosed) return;
    mark_done(t);
    stopping_ = true;
    arm_drain_timer();
    wind_down();
  }

  void abort() {
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
  virtual void on_timer(int64_t due) { (void)due; }

  bool open() const { return phase_ != Phase::kIdle && phase_ != Phase::kClosed; }

 protected:
  enum class Phase { kIdle, kConnecting, kConnected, kRunning, kDraining, kClosed };

  virtual void begin() = 0;               // traffic starts
  virtual void wind_down() = 0;           // stop() was called while running
  virtual void io(uint32_t events) = 0;   // readiness changed, or a deferred turn
  virtual uint64_t missing_bytes() const = 0;  // echo bytes still owed when closing

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

  Worker& w_;
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
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = socket_error(fd_.get());
    if (!err && !(events & EPOLLOUT)) err = ECONNRESET;
    if (err) return fail_connect(err);
    w_.loop().cancel(connect_timer_);
    connect_timer_ = 0;
    set_nodelay(fd_.get());
    phase_ = Phase::kConnected;
    w_.connection_resolved(true);
  }

  EventLoop::TimerId connect_timer_ = 0;
  EventLoop::TimerId drain_timer_ = 0;
};

void Pacer::schedule(Connection* c, int64_t due) {
  heap_.push({due, c});
  if (due < armed_) arm(due);
}

void Pacer::arm(int64_t due) {
  itimerspec its{};
  due = std::max<int64_t>(due, 1);  // zero would disarm
  its.it_value.tv_sec = due / kNsPerSec;
  its.it_value.tv_nsec = due % kNsPerSec;
  ::timerfd_settime(fd_.get(), TFD_TIMER_ABSTIME, &its, nullptr);
  armed_ = due;
}

void Pacer::on_events(uint32_t) {
  uint64_t expirations;
  ssize_t r = ::read(fd_.get(), &expirations, sizeof expirations);
  (void)r;
  armed_ = std::numeric_limits<int64_t>::max();
  int64_t now = now_ns();
  while (!heap_.empty() && heap_.top().due <= now) {
    Entry e = heap_.top();
    heap_.pop();
    e.conn->on_timer(e.due);
  }
  if (!heap_.empty() && heap_.top().due < armed_) arm(heap_.top().due);
}

// ---------------------------------------------------------------------------------------------
// Ping-pong: one message in flight; the echo is read and verified as it arrives, and the next
// message goes out when it is complete (or, with --rate, at its intended time).
class PingConnection final : public Connection {
 public:
  PingConnection(Worker& w, int id) : Connection(w, id) {
    if (o_.rate > 0) interval_ns_ = static_cast<double>(o_.connections) * 1e9 / o_.rate;
  }

  void on_timer(int64_t due) override {
    if (!waiting_ || due != next_due_ || phase_ != Phase::kRunning) return;
    waiting_ = false;
    send_next(due);
  }

 protected:
  void begin() override {
    if (readable_) read_echo();  // anything before our first message is an error
    if (phase_ != Phase::kRunning) return;
    if (o_.rate > 0) {
      // Spread the connections' schedules evenly over one interval.
      first_ns_ = w_.timeline().start_ns + std::llround(interval_ns_ * id_ / o_.connections);
      schedule(first_ns_);
    } else {
      send_next(now_ns());
    }
  }

  void wind_down() override {
    if (awaiting_) return;  // the echo in flight completes first
    waiting_ = false;
    half_close();
  }

  uint64_t missing_bytes() const override { return awaiting_ ? o_.length - rx_pos_ : 0; }

  void io(uint32_t events) override {
    if ((events & EPOLLOUT) && awaiting_ && tx_pos_ < o_.length) write_message();
    if (phase_ == Phase::kClosed) return;
    if (events & kReadable) read_echo();
    // The peer's FIN may have come with the last bytes read: read once more to meet the EOF,
    // or the connection would wait for an edge that never comes.
    if ((events & (EPOLLRDHUP | EPOLLHUP)) && phase_ != Phase::kClosed) read_echo();
  }

 private:
  void schedule(int64_t due) {
    if (due <= now_ns()) return send_next(due);
    waiting_ = true;
    next_due_ = due;
    w_.pacer().schedule(this, due);
  }

  void send_next(int64_t intended) {
    cur_ = sent_++;
    awaiting_ = true;
    tx_pos_ = rx_pos_ = 0;
    int64_t t = now_ns();
    intended_ns_ = o_.rate > 0 ? intended : t;
    write_message();
  }

  void write_message() {
    uint8_t* buf = w_.tx_scratch();
    w_.format().write(static_cast<uint32_t>(id_), cur_, buf);
    ssize_t n = send_some(buf + tx_pos_, o_.length - tx_pos_);
    if (n > 0) {
      tx_pos_ += static_cast<size_t>(n);
      return;  // a short send leaves the rest for EPOLLOUT
    }
    if (n < 0 && errno == EAGAIN) return;
    fail_errno("send to", n < 0 ? errno : EPIPE);
  }

  // One recv per wake-up: a TCP recv that returns less than asked has emptied the socket, and
  // new data brings a new edge, so there is no need to read on to EAGAIN.
  void read_echo() {
    readable_ = false;
    uint8_t* buf = w_.rx_scratch();
    if (!awaiting_) {
      ssize_t n = recv_some(buf, o_.length);
      if (n > 0)
        return fail(ErrorKind::kMismatch, std::to_string(n) + " unexpected bytes from " + w_.server_text() +
                                              " with no message in flight");
      if (n == 0) {
        if (tx_shut_) return close();  // the EOF we waited for
        return fail_short("closed the connection after " + std::to_string(cur_ + (sent_ ? 1 : 0)) + " messages");
      }
      if (errno != EAGAIN) fail_errno("recv from", errno);
      return;
    }
    size_t want = o_.length - rx_pos_;
    ssize_t n = recv_some(buf, want);
    if (n > 0) {
      size_t got = static_cast<size_t>(n);
      uint64_t position = cur_ * o_.length + rx_pos_;
      if (o_.verify) {
        size_t bad = w_.format().verify(static_cast<uint32_t>(id_), position, buf, got);
        if (bad != got) return mismatch(position, buf, got, bad);
      }
      rx_pos_ += got;
      if (rx_pos_ == o_.length) complete();
      return;
    }
    if (n == 0)
      return fail_short("closed the connection after echoing " + std::to_string(rx_pos_) + " of " +
                        std::to_string(o_.length) + " bytes of message " + std::to_string(cur_));
    if (errno != EAGAIN) fail_errno("recv from", errno);
  }

  void complete() {
    int64_t t = now_ns();
    awaiting_ = false;
    if (w_.record_ping(t, t - intended_ns_)) ++counted_;
    if (!o_.timed() && o_.count > 0 && counted_ >= o_.count) {
      mark_done(t);
      return half_close();
    }
    if (stopping_) return half_close();
    if (o_.rate > 0) return schedule(first_ns_ + std::llround(interval_ns_ * static_cast<double>(sent_)));
    send_next(t);
  }

  double interval_ns_ = 0;  // --rate: this connection's time between intended sends
  int64_t first_ns_ = 0;    // --rate: intended time of message 0
  int64_t next_due_ = 0;
  int64_t intended_ns_ = 0;  // latency counts from here
  uint64_t sent_ = 0;        // messages started
  uint64_t cur_ = 0;         // the message in flight
  uint64_t counted_ = 0;     // completed inside the measured window
  size_t tx_pos_ = 0;
  size_t rx_pos_ = 0;
  bool awaiting_ = false;
  bool waiting_ = false;  // on the pacer
};

// ---------------------------------------------------------------------------------------------
// Stream (echo or --no-echo) and download: write the pattern continuously, and/or read and
// verify it, until the count is reached or stop(); then half-close and wait for the EOF.
class StreamConnection final : public Connection {
 public:
  StreamConnection(Worker& w, int id)
      : Connection(w, id),
        limit_(w.options().timed() || w.options().count == 0 ? 0 : w.options().count * w.options().length) {}

 protected:
  void begin() override { io(0); }

  void wind_down() override {
    half_close();  // stops sending; a download's server sees EOF and ends
    io(0);
  }

  uint64_t missing_bytes() const override { return o_.echo() ? tx_total_ - rx_total_ : 0; }

  void io(uint32_t) override {
    bool more = false;
    if (o_.sends() && !tx_shut_) more |= write_some();
    if (phase_ == Phase::kClosed) return;
    more |= read_some();
    if (phase_ == Phase::kClosed) return;
    if (more) w_.loop().defer(this);
  }

 private:
  // True when the budget ran out with more to send.
  bool write_some() {
    size_t moved = 0;
    const size_t len = o_.length;
    while (writable_ && !tx_shut_) {
      if (limit_ && tx_total_ >= limit_) {
        half_close();
        break;
      }
      if (moved >= kBudget) return true;
      // One message (or its rest) per call, straight from the pattern block: nothing to generate.
      uint8_t stamp[8];
      iovec iov[2];
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(w_.format().pieces(static_cast<uint32_t>(id_), tx_total_ / len,
                                                              static_cast<size_t>(tx_total_ % len), stamp, iov));
      ssize_t n;
      do n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
      while (n < 0 && errno == EINTR);
      if (n > 0) {
        uint64_t before = tx_total_;
        tx_total_ += static_cast<uint64_t>(n);
        moved += static_cast<size_t>(n);
        w_.record_sent(now_ns(), static_cast<uint64_t>(n), o_.no_echo ? tx_total_ / len - before / len : 0);
        continue;
      }
      if (n < 0 && errno == EAGAIN) {
        writable_ = false;
        break;
      }
      fail_errno("send to", n < 0 ? errno : EPIPE);
      return false;
    }
    return false;
  }

  // True when the budget ran out with more to read.
  bool read_some() {
    size_t moved = 0;
    const size_t len = o_.length;
    uint8_t* buf = w_.rx_scratch();
    while (readable_) {
      if (moved >= kBudget) return true;
      ssize_t n = recv_some(buf, w_.rx_scratch_size());
      if (n > 0) {
        auto got = static_cast<uint64_t>(n);
        moved += got;
        if (o_.no_echo) {
          fail(ErrorKind::kMismatch, std::to_string(got) + " unexpected bytes from " + w_.server_text() +
                                         ", which should discard (--no-echo): is it an echo server?");
          return false;
        }
        if (o_.echo() && rx_total_ + got > tx_total_) {
          fail(ErrorKind::kMismatch, w_.server_text() + " sent back " + std::to_string(rx_total_ + got) +
                                         " bytes, more than the " + std::to_string(tx_total_) + " sent to it");
          return false;
        }
        if (o_.verify) {
          // Download: the server's raw pattern from offset 0; echo: our own messages.
          size_t bad = o_.mode == Mode::kDownload ? w_.download_pattern().verify(rx_total_, buf, got)
                                                  : w_.format().verify(static_cast<uint32_t>(id_), rx_total_, buf, got);
          if (bad != got) {
            mismatch(rx_total_, buf, got, bad);
            return false;
          }
        }
        uint64_t before = rx_total_;
        rx_total_ += got;
        uint64_t counted_to = limit_ ? std::min(rx_total_, limit_) : rx_total_;
        if (counted_to > before)
          w_.record_received(now_ns(), counted_to - before, counted_to / len - before / len);
        if (limit_ && rx_total_ >= limit_ && !tx_shut_ && o_.mode == Mode::kDownload) {
          mark_done(now_ns());
          half_close();
        }
        if (limit_ && o_.echo() && rx_total_ >= limit_) mark_done(now_ns());
        continue;
      }
      if (n == 0) {
        readable_ = false;
        on_eof();
        return false;
      }
      if (errno == EAGAIN) {
        readable_ = false;
        break;
      }
      fail_errno("recv from", errno);
      return false;
    }
    return false;
  }

  void on_eof() {
    if (o_.echo()) {
      if (tx_shut_ && rx_total_ == tx_total_) return close();
      return fail_short("closed the connection after echoing " + std::to_string(rx_total_) + " of " +
                        std::to_string(tx_total_) + " bytes sent");
    }
    if (tx_shut_) {  // --no-echo: the sink read everything and closed; download: it saw our FIN
      mark_done(now_ns());
      return close();
    }
    fail_short(o_.mode == Mode::kDownload ? "closed the download after " + std::to_string(rx_total_) + " bytes"
                                          : "closed the connection after " + std::to_string(tx_total_) + " bytes sent");
  }

  uint64_t limit_;  // -n: bytes to move (count x length); 0: until stopped
  uint64_t tx_total_ = 0;
  uint64_t rx_total_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Worker

Worker::Worker(const Options& options, const SocketAddress& server, int index, Coordinator& coordinator)
    : options_(options),
      server_(server),
      server_text_(server.to_string()),
      index_(index),
      coordinator_(coordinator),
      format_(options.length),
      tx_scratch_(options.length),
      rx_scratch_(options.mode == Mode::kPingPong ? options.length : std::max(options.length, kStreamReadSize)) {}

Worker::~Worker() { thread_.stop_and_join(); }

void Worker::connect(const std::vector<int>& connection_ids) {
  if (options_.rate > 0) pacer_ = std::make_unique<Pacer>(loop());
  unresolved_ = static_cast<int>(connection_ids.size());
  for (int id : connection_ids) {
    if (options_.mode == Mode::kPingPong) connections_.push_back(std::make_unique<PingConnection>(*this, id));
    else connections_.push_back(std::make_unique<StreamConnection>(*this, id));
  }
  if (unresolved_ == 0) coordinator_.worker_connected(index_);
  // Connect after all are created: a failure reports back at once and must see the full count.
  for (size_t i = 0; i < connections_.size(); ++i) connections_[i]->connect();
}

void Worker::start(const Timeline& timeline) {
  timeline_ = timeline;
  started_ = true;
  for (auto& c : connections_) c->start();
  maybe_finish();
}

void Worker::stop(int64_t end_ns) {
  timeline_.measure_end_ns = std::min(timeline_.measure_end_ns, end_ns);
  started_ = true;  // a stop before the start still finishes
  for (auto& c : connections_) c->stop(end_ns);
  maybe_finish();
}

void Worker::abort() {
  started_ = true;
  for (auto& c : connections_) c->abort();
  maybe_finish();
}

void Worker::snapshot(int interval) {
  auto s = std::make_shared<Sample>(interval_);
  interval_.reset();
  coordinator_.worker_snapshot(index_, interval, std::move(s));
}

bool Worker::record_ping(int64_t t, int64_t latency_ns) {
  if (!measuring(t)) return false;
  auto add = [&](Sample& s) {
    ++s.messages;
    s.bytes_sent += options_.length;
    s.bytes_received += options_.length;
    s.latency.record(latency_ns);
  };
  add(total_);
  if (options_.interval_ns) add(interval_);
  return true;
}

void Worker::record_sent(int64_t t, uint64_t bytes, uint64_t messages) {
  if (!measuring(t)) return;
  total_.bytes_sent += bytes;
  total_.messages += messages;
  interval_.bytes_sent += bytes;
  interval_.messages += messages;
}

void Worker::record_received(int64_t t, uint64_t bytes, uint64_t messages) {
  if (!measuring(t)) return;
  total_.bytes_received += bytes;
  total_.messages += messages;
  interval_.bytes_received += bytes;
  interval_.messages += messages;
}

void Worker::record_error(ErrorKind kind, const std::string& text) {
  total_.errors.add(kind);
  interval_.errors.add(kind);
  if (first_error_.empty()) first_error_ = text;
  // Refused connections all say the same: one line is enough, the summary has the count.
  if (kind == ErrorKind::kConnectFailure && g_logged_connect_failure.exchange(true)) return;
  int n = g_logged_errors.fetch_add(1);
  if (n < kMaxLoggedErrors) log::error(text);
  else if (n == kMaxLoggedErrors) log::error("more errors; only the first ", kMaxLoggedErrors, " are shown (counts in the summary)");
}

void Worker::connection_resolved(bool connected) {
  if (connected) ++live_;
  if (--unresolved_ == 0) coordinator_.worker_connected(index_);
  if (!connected) maybe_finish();
}

void Worker::connection_closed(int64_t done_ns) {
  --live_;
  finish_ns_ = std::max(finish_ns_, done_ns);
  maybe_finish();
}

void Worker::maybe_finish() {
  if (!started_ || reported_ || live_ > 0 || unresolved_ > 0) return;
  reported_ = true;
  if (options_.mode == Mode::kDownload)
    log::debug("thread ", index_, ": generated ", download_pattern_.pages_generated(), " pattern pages of ",
               PatternCache::kPageSize, " bytes for the downloads");
  coordinator_.worker_finished(index_, finish_ns_, std::make_shared<Sample>(total_), first_error_);
}

}  // namespace sp::client
