// The stats socket's clients: one connection's state machine (commands in, snapshots out, watch
// streams, the quiet and linger timers, a graceful close) and the server's table of them.
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/socket.h"
#include "metrics/metric_table.h"
#include "metrics/stats_impl.h"
#include "metrics/stats_protocol.h"

namespace sp::metrics {
namespace {
constexpr int kClientSendBuffer = 64 << 10;  // kernel memory per client stays small
constexpr size_t kReadChunk = 16 << 10;
constexpr int kReadsPerTurn = 64;  // then yield to other clients (defer) and go on later
}  // namespace

// One stats connection. Lives on the stats thread; destroyed through EventLoop::dispose.
class StatsServer::Impl::Client final : public Handler, public Disposable {
 public:
  Client(Impl& server, uint64_t id, Fd fd, bool tcp)
      : server_(server), loop_(*server.loop_), id_(id), fd_(std::move(fd)), tcp_(tcp), reader_(server.limits_.max_line) {}

  void start() {
    last_progress_ = loop_.now();
    loop_.add(fd_.get(), EventLoop::kEdgeAll, this);
    arm_quiet();
  }

  void on_events(uint32_t events) override {
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_some();
    if (!dead_ && (events & EPOLLOUT)) flush();
  }
  void on_ready() override { read_some(); }

  // Output queued and the client has not taken any of it for too long.
  bool stalled(int64_t now) const {
    return !dead_ && pending() > 0 && now - last_progress_ > server_.limits_.stall_timeout_ms * kNsPerMs;
  }
  void drop() { destroy(true); }

  // Closes at once, without the loop (which has stopped).
  void shutdown_now() {
    dead_ = true;
    fd_.reset();
  }

 private:
  size_t pending() const { return out_.size() - out_off_; }

  template <typename F>
  EventLoop::TimerId after(int64_t ns, F on_fire) {
    Impl& server = server_;
    uint64_t id = id_;
    return loop_.run_after(ns, [&server, id, on_fire] {
      if (Client* c = server.find(id)) (c->*on_fire)();
    });
  }
  void cancel(EventLoop::TimerId& timer) {
    if (timer) loop_.cancel(timer);
    timer = 0;
  }
  void arm_quiet() {
    cancel(quiet_timer_);
    quiet_timer_ = after(server_.limits_.first_command_wait_ms * kNsPerMs, &Client::on_quiet);
  }

  void read_some() {
    char buf[kReadChunk];
    for (int turn = 0; !dead_; ++turn) {
      if (turn == kReadsPerTurn) {  // a client that keeps sending: let the others have a go
        loop_.defer(this);
        return;
      }
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (n > 0) {
        if (closing_ || read_closed_) continue;  // no more commands: discard
        lines_.clear();
        bool ok = reader_.feed(std::string_view(buf, static_cast<size_t>(n)), lines_);
        for (const std::string& line : lines_) {
          if (dead_ || closing_) break;
          handle_line(line);
        }
        if (!ok && !dead_ && !closing_) {
          reply(render_error("line longer than " + std::to_string(server_.limits_.max_line) + " bytes; closing"));
          begin_close();
        }
        continue;
      }
      if (n == 0) {
        on_eof();
        return;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN) drop();
      return;
    }
  }

  void handle_line(std::string_view line) {
    Command command = parse_command(line, server_.limits_);
    switch (command.kind) {
      case CommandKind::kEmpty: return;
      case CommandKind::kStats: reply(server_.current_json()); break;
      case CommandKind::kMetrics: reply(server_.current_prometheus()); break;
      case CommandKind::kHelp: reply(server_.help_); break;
      case CommandKind::kSchema: reply(server_.schema_); break;
      case CommandKind::kQuit: begin_close(); return;
      case CommandKind::kWatch: start_watch(command.watch_ms); break;
      case CommandKind::kError:
        reply(render_error(command.error));
        if (++errors_ >= server_.limits_.max_errors) {
          reply(render_error("too many bad commands; closing"));
          begin_close();
          return;
        }
        break;
    }
    answered_ = true;
    if (!dead_ && !watching_) arm_quiet();
  }

  void start_watch(int64_t ms) {
    if (!watching_) {
      if (server_.watchers_ >= server_.limits_.max_watchers) {
        reply(render_error("too many watch streams (" + std::to_string(server_.limits_.max_watchers) + "); closing"));
        begin_close();
        return;
      }
      ++server_.watchers_;
    }
    watching_ = true;
    watch_ns_ = ms * kNsPerMs;
    cancel(quiet_timer_);
    cancel(watch_timer_);
    next_watch_ = loop_.now();
    on_watch();
  }

  void on_watch() {
    watch_timer_ = 0;
    if (dead_ || closing_ || !watching_) return;
    reply(server_.current_json());
    if (dead_) return;
    int64_t now = now_ns();
    next_watch_ += watch_ns_;
    if (next_watch_ <= now) next_watch_ = now + watch_ns_;  // fell behind: skip, don't burst
    watch_timer_ = after(next_watch_ - now, &Client::on_watch);
  }

  void on_quiet() {
    quiet_timer_ = 0;
    if (dead_ || closing_ || watching_) return;
    if (!answered_) {  // connected and said nothing: that is a request for one snapshot
      answered_ = true;
      reply(server_.current_json());
    }
    begin_close();
  }

  void on_eof() {
    bool first = !read_closed_;
    read_closed_ = true;
    if (wr_shut_) {  // we had finished and were waiting for this
      destroy(false);
      return;
    }
    if (first && !closing_) {
      std::string rest = reader_.take_rest();
      if (!rest.empty()) handle_line(rest);
      if (dead_ || closing_) return;
    }
    if (watching_) return;  // a half-closed watcher still reads: stream until a write fails
    if (!answered_) {
      answered_ = true;
      reply(server_.current_json());
    }
    begin_close();
  }

  // Queues one reply (a newline is added if missing). A client that has let more than the output
  // limit pile up is dropped instead.
  void reply(std::string_view text) {
    if (dead_) return;
    if (pending() > server_.limits_.max_output) {
      log::debug("stats: dropping a client that does not read (", pending(), " bytes waiting)");
      drop();
      return;
    }
    if (pending() == 0) last_progress_ = loop_.now();
    out_.append(text);
    if (text.empty() || text.back() != '\n') out_ += '\n';
    flush();
  }

  void flush() {
    while (!dead_ && out_off_ < out_.size()) {
      ssize_t n = ::send(fd_.get(), out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
      if (n > 0) {
        out_off_ += static_cast<size_t>(n);
        last_progress_ = now_ns();
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      drop();  // EPIPE, ECONNRESET: the client is gone
      return;
    }
    if (dead_) return;
    if (out_off_ == out_.size()) {
      out_.clear();
      out_off_ = 0;
      if (out_.capacity() > (256 << 10)) out_.shrink_to_fit();
      if (closing_ && !wr_shut_) shut_down_write();
    } else if (out_off_ > (64 << 10) && out_off_ * 2 > out_.size()) {
      out_.erase(0, out_off_);
      out_off_ = 0;
    }
  }

  // No more commands: send what is queued, then close gracefully.
  void begin_close() {
    if (closing_ || dead_) return;
    closing_ = true;
    stop_watching();
    cancel(quiet_timer_);
    cancel(watch_timer_);
    flush();
  }

  // Everything is written: FIN, then wait for the client to close its side. A client that keeps
  // its side open (nc with a terminal on stdin) is reset after linger_ms, which makes it exit.
  void shut_down_write() {
    ::shutdown(fd_.get(), SHUT_WR);
    wr_shut_ = true;
    if (read_closed_) {
      destroy(false);
      return;
    }
    linger_timer_ = after(server_.limits_.linger_ms * kNsPerMs, &Client::on_linger);
  }

  void on_linger() {
    linger_timer_ = 0;
    if (dead_) return;
    // A reset discards what the peer has not acknowledged yet: wait for it, within the stall limit.
    int unacked = 0;
    if (tcp_ && ::ioctl(fd_.get(), SIOCOUTQ, &unacked) == 0 && unacked > 0) {
      if (unacked != last_unacked_) last_progress_ = now_ns();
      last_unacked_ = unacked;
      if (now_ns() - last_progress_ < server_.limits_.stall_timeout_ms * kNsPerMs) {
        linger_timer_ = after(50 * kNsPerMs, &Client::on_linger);
        return;
      }
    }
    destroy(true);
  }

  void stop_watching() {
    if (watching_) --server_.watchers_;
    watching_ = false;
  }

  void destroy(bool reset) {
    if (dead_) return;
    dead_ = true;
    stop_watching();
    cancel(quiet_timer_);
    cancel(watch_timer_);
    cancel(linger_timer_);
    loop_.remove(fd_.get());
    if (reset && tcp_) set_reset_on_close(fd_.get());
    fd_.reset();
    server_.forget(id_);  // disposes of this object after the current batch
  }

  Impl& server_;
  EventLoop& loop_;
  uint64_t id_;
  Fd fd_;
  bool tcp_;
  LineReader reader_;
  std::vector<std::string> lines_;
  std::string out_;
  size_t out_off_ = 0;
  int64_t last_progress_ = 0;
  int last_unacked_ = 0;
  int errors_ = 0;
  bool answered_ = false;
  bool watching_ = false;
  bool closing_ = false;    // no more commands; close once the output is written
  bool wr_shut_ = false;    // FIN sent
  bool read_closed_ = false;
  bool dead_ = false;
  int64_t watch_ns_ = 0;
  int64_t next_watch_ = 0;
  EventLoop::TimerId quiet_timer_ = 0;
  EventLoop::TimerId watch_timer_ = 0;
  EventLoop::TimerId linger_timer_ = 0;
};

void StatsServer::Impl::sweep() {
  int64_t now = now_ns();
  std::vector<Client*> stalled;
  for (auto& [id, client] : clients_)
    if (client->stalled(now)) stalled.push_back(client.get());
  for (Client* c : stalled) {
    log::debug("stats: dropping a client whose output stalled");
    c->drop();
  }
  loop_->run_after(kSweepNs, [this] { sweep(); });
}

void StatsServer::Impl::accept(Fd client) {
  // Watchers are counted apart (Client::start_watch): however many there are, a one-shot request
  // still gets its answer.
  if (clients_.size() - watchers_ >= limits_.max_clients) {
    std::string line = render_error("too many stats clients (" + std::to_string(limits_.max_clients) + ")") + "\n";
    ssize_t n = ::send(client.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n;
    return;  // closed by Fd
  }
  bool tcp = endpoint_.kind == StatsEndpoint::Kind::kTcp;
  ::setsockopt(client.get(), SOL_SOCKET, SO_SNDBUF, &kClientSendBuffer, sizeof kClientSendBuffer);
  uint64_t id = next_client_++;
  Client* c = new Client(*this, id, std::move(client), tcp);
  clients_.emplace(id, std::unique_ptr<Client, ClientDeleter>(c));
  try {
    c->start();
  } catch (const std::exception& e) {  // epoll_ctl out of memory: give up on this client only
    log::warn("stats client: ", e.what());
    c->shutdown_now();
    forget(id);
  }
}

StatsServer::Impl::Client* StatsServer::Impl::find(uint64_t id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

void StatsServer::Impl::forget(uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  loop_->dispose(std::unique_ptr<Disposable>(it->second.release()));
  clients_.erase(it);
}

void StatsServer::Impl::close_clients() {
  for (auto& [id, client] : clients_) client->shutdown_now();
  clients_.clear();
  watchers_ = 0;
}

void StatsServer::Impl::ClientDeleter::operator()(Client* c) const { delete c; }

}  // namespace sp::metrics
