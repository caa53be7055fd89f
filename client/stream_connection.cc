#include <algorithm>

#include "client/connection_base.h"

namespace sp::client {
namespace {

// Stream (echo or --no-echo) and download: write the pattern continuously, and/or read and
// verify it, until the count is reached or stop(); then half-close and wait for the EOF.
class StreamConnection final : public ConnectionBase {
 public:
  StreamConnection(LoadWorker& w, int id)
      : ConnectionBase(w, id),
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

}  // namespace

std::unique_ptr<Connection> make_stream_connection(LoadWorker& w, int id) {
  return std::make_unique<StreamConnection>(w, id);
}

}  // namespace sp::client
