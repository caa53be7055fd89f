#include <algorithm>
#include <cmath>

#include "client/connection_base.h"

namespace sp::client {
namespace {

// Ping-pong: one message in flight; the echo is read and verified as it arrives, and the next
// message goes out when it is complete (or, with --rate, at its intended time).
class PingConnection final : public ConnectionBase {
 public:
  PingConnection(LoadWorker& w, int id) : ConnectionBase(w, id) {
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

  // The gap still open when the connection ends counts too: a stall that never ended.
  void closing() override {
    if (awaiting_) moved(now_ns());
    w_.record_longest_gap(longest_gap_ns_);
  }

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
    last_moved_ns_ = t;
    write_message();
  }

  void write_message() {
    uint8_t* buf = w_.tx_scratch();
    w_.format().write(static_cast<uint32_t>(id_), cur_, buf);
    ssize_t n = send_some(buf + tx_pos_, o_.length - tx_pos_);
    if (n > 0) {
      tx_pos_ += static_cast<size_t>(n);
      moved(now_ns());
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
      moved(now_ns());
      if (rx_pos_ == o_.length) complete();
      return;
    }
    if (n == 0)
      return fail_short("closed the connection after echoing " + std::to_string(rx_pos_) + " of " +
                        std::to_string(o_.length) + " bytes of message " + std::to_string(cur_));
    if (errno != EAGAIN) fail_errno("recv from", errno);
  }

  // A byte of the message in flight moved (either way) at t: the gap since the last one ends.
  void moved(int64_t t) {
    longest_gap_ns_ = std::max(longest_gap_ns_, t - last_moved_ns_);
    last_moved_ns_ = t;
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
  int64_t last_moved_ns_ = 0;   // the message in flight last sent or received a byte
  int64_t longest_gap_ns_ = 0;  // the longest time a message in flight moved nothing
  uint64_t sent_ = 0;        // messages started
  uint64_t cur_ = 0;         // the message in flight
  uint64_t counted_ = 0;     // completed inside the measured window
  size_t tx_pos_ = 0;
  size_t rx_pos_ = 0;
  bool awaiting_ = false;
  bool waiting_ = false;  // on the pacer
};

}  // namespace

std::unique_ptr<Connection> make_ping_connection(LoadWorker& w, int id) { return std::make_unique<PingConnection>(w, id); }

}  // namespace sp::client
