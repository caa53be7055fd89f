#include "metrics/stats_server.h"

#include <fcntl.h>
#include <pthread.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <unordered_map>

#include "common/clock.h"
#include "common/event_loop.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/socket.h"
#include "metrics/metric_table.h"

namespace sp::metrics {
namespace {

constexpr int64_t kFreshNs = 20 * kNsPerMs;         // snapshots this young are reused, not re-sampled
constexpr int64_t kSweepNs = 500 * kNsPerMs;        // how often stalled clients are looked for
constexpr int64_t kAcceptRetryNs = 100 * kNsPerMs;  // pause after EMFILE and friends
constexpr int kClientSendBuffer = 64 << 10;         // kernel memory per client stays small
constexpr size_t kReadChunk = 16 << 10;
constexpr int kReadsPerTurn = 64;  // then yield to other clients (defer) and go on later

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Removes a leftover socket file from an earlier run; refuses to touch anything else.
void remove_stale_socket(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return;  // nothing there
  if (!S_ISSOCK(st.st_mode)) throw std::runtime_error("stats socket " + path + ": exists and is not a socket");
  Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
    throw std::runtime_error("stats socket " + path + ": in use by a running process");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw std::system_error(errno, std::generic_category(), "stats socket " + path + ": removing the stale file");
  log::info("stats socket ", path, ": removed a stale socket file");
}

Fd listen_unix(const std::string& path, struct stat* bound) {
  remove_stale_socket(path);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw std::system_error(errno, std::generic_category(), "stats socket " + path);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // Owner-only from the moment the file exists: umask around bind (the only file this process
  // creates while it runs), then chmod to be sure whatever the umask was.
  mode_t old_mask = ::umask(0177);
  int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::umask(old_mask);
  if (rc != 0) throw std::system_error(err, std::generic_category(), "stats socket bind " + path);
  if (::chmod(path.c_str(), 0600) != 0 || ::listen(fd.get(), 64) != 0 || ::lstat(path.c_str(), bound) != 0) {
    err = errno;
    ::unlink(path.c_str());
    throw std::system_error(err, std::generic_category(), "stats socket " + path);
  }
  return fd;
}

}  // namespace

std::string StatsEndpoint::to_string() const {
  switch (kind) {
    case Kind::kOff: return "off";
    case Kind::kTcp: return tcp.to_string();
    case Kind::kUnix: return "unix:" + path;
  }
  return "";
}

StatsEndpoint parse_stats_endpoint(std::string_view text) {
  StatsEndpoint e;
  if (text == "off") return e;
  if (text.substr(0, 5) == "unix:") {
    e.kind = StatsEndpoint::Kind::kUnix;
    e.path = std::string(text.substr(5));
    if (e.path.empty()) throw std::invalid_argument("empty path in '" + std::string(text) + "' (expected unix:PATH)");
    if (e.path.size() >= sizeof(sockaddr_un::sun_path))
      throw std::invalid_argument("unix socket path longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                  " bytes: " + e.path);
    if (e.path.find('\0') != std::string::npos) throw std::invalid_argument("NUL in unix socket path");
    return e;
  }
  e.kind = StatsEndpoint::Kind::kTcp;
  if (all_digits(text)) {
    e.tcp = {"127.0.0.1", parse_port(text)};
  } else if (!text.empty() && text[0] == ':' && all_digits(text.substr(1))) {
    e.tcp = {"127.0.0.1", parse_port(text.substr(1))};
  } else {
    e.tcp = parse_host_port(text, kDefaultStatsPort);
    if (e.tcp.host.empty()) e.tcp.host = "127.0.0.1";
  }
  return e;
}

class StatsServer::Impl {
 public:
  Impl(const StatsOptions& options, StatsSource source);
  ~Impl();

  std::string address;
  int tid = 0;

 private:
  class Client;
  struct Listener : Handler {
    explicit Listener(Impl& s) : server(s) {}
    void on_events(uint32_t) override { server.accept_some(); }
    void on_ready() override { server.accept_some(); }
    Impl& server;
  };

  void start_on_thread(EventLoop& loop);
  void tick();
  void sweep();
  void accept_some();
  const std::string& current_json();
  void render(const RawSample& now);
  void write_log(const std::string& line);
  Client* find(uint64_t id);
  void forget(uint64_t id);

  StatsOptions options_;
  StatsLimits limits_;
  StatsEndpoint endpoint_;
  Fd listen_fd_;
  struct stat unix_stat_ {};
  Fd log_fd_;
  int log_out_ = -1;  // fd the log goes to (log_fd_ or stdout)
  Sampler sampler_;
  Listener listener_{*this};
  EventLoop* loop_ = nullptr;

  // Stats thread only from here on.
  RawSample start_, begin_, end_;
  bool have_window_ = false;
  int64_t next_tick_ = 0;
  std::string json_;
  int64_t json_at_ = 0;
  std::string help_;
  std::string schema_;
  bool accept_paused_ = false;
  std::unordered_map<uint64_t, std::unique_ptr<Client>> clients_;
  uint64_t next_client_ = 1;
  std::unique_ptr<LoopThread> thread_;  // last: starts after, and stops before, everything above
};

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
    watching_ = false;
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

  void destroy(bool reset) {
    if (dead_) return;
    dead_ = true;
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

StatsServer::Impl::Impl(const StatsOptions& options, StatsSource source)
    : options_(options),
      limits_(options.limits),
      endpoint_(parse_stats_endpoint(options.where)),
      sampler_(std::move(source), static_cast<double>(options.interval_ns) / 1e9) {
  if (options_.interval_ns <= 0) throw std::invalid_argument("stats interval must be positive");
  // The log first: a failure there must not leave a socket file behind.
  if (options_.log_path == "-") {
    log_out_ = STDOUT_FILENO;
  } else if (!options_.log_path.empty()) {
    log_fd_.reset(::open(options_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!log_fd_) throw std::system_error(errno, std::generic_category(), "stats log " + options_.log_path);
    log_out_ = log_fd_.get();
  }
  try {
    if (endpoint_.kind == StatsEndpoint::Kind::kTcp) {
      auto addresses = resolve(endpoint_.tcp, true);
      if (addresses.empty()) throw std::runtime_error("stats address " + endpoint_.tcp.to_string() + ": nothing to bind");
      listen_fd_ = listen_tcp(addresses.front(), 64);
      SocketAddress bound = local_address(listen_fd_.get());
      address = bound.to_string();
      if (!bound.is_loopback())
        log::warn("stats socket on ", address, " is reachable from other hosts (no authentication)");
    } else if (endpoint_.kind == StatsEndpoint::Kind::kUnix) {
      listen_fd_ = listen_unix(endpoint_.path, &unix_stat_);
      address = "unix:" + endpoint_.path;
    }
  } catch (const std::exception& e) {
    throw SocketError(e.what());
  }
  help_ = help_text(limits_);
  schema_ = render_schema();
  try {
    thread_ = std::make_unique<LoopThread>([this](EventLoop& loop) { start_on_thread(loop); });
  } catch (...) {
    if (endpoint_.kind == StatsEndpoint::Kind::kUnix) ::unlink(endpoint_.path.c_str());
    throw;
  }
  tid = thread_->tid();
}

StatsServer::Impl::~Impl() {
  if (thread_) thread_->stop_and_join();
  // The loop has stopped: close the clients from here.
  for (auto& [id, client] : clients_) client->shutdown_now();
  clients_.clear();
  if (listen_fd_ && endpoint_.kind == StatsEndpoint::Kind::kUnix) {
    struct stat st;  // only our own socket file, not one a newer process put there
    if (::lstat(endpoint_.path.c_str(), &st) == 0 && st.st_ino == unix_stat_.st_ino && st.st_dev == unix_stat_.st_dev)
      ::unlink(endpoint_.path.c_str());
  }
}

void StatsServer::Impl::start_on_thread(EventLoop& loop) {
  loop_ = &loop;
  pthread_setname_np(pthread_self(), "stats");
  sampler_.add_thread("stats", static_cast<int>(::gettid()));
  start_ = sampler_.take();
  render(start_);
  next_tick_ = start_.mono_ns + options_.interval_ns;
  loop.run_after(options_.interval_ns, [this] { tick(); });
  loop.run_after(kSweepNs, [this] { sweep(); });
  if (listen_fd_) loop.add(listen_fd_.get(), EPOLLIN | EPOLLET, &listener_);
}

void StatsServer::Impl::tick() {
  begin_ = have_window_ ? end_ : start_;
  end_ = sampler_.take();
  have_window_ = true;
  render(end_);
  if (log_out_ >= 0) write_log(json_);
  int64_t now = now_ns();
  next_tick_ += options_.interval_ns;
  if (next_tick_ <= now) next_tick_ = now + options_.interval_ns;  // fell behind: skip, don't burst
  loop_->run_after(next_tick_ - now, [this] { tick(); });
}

void StatsServer::Impl::render(const RawSample& now) {
  const RawSample& begin = have_window_ ? begin_ : start_;
  const RawSample& end = have_window_ ? end_ : now;
  json_ = render_json(make_snapshot(sampler_.layout(), start_, begin, end, now));
  json_at_ = now.mono_ns;
}

const std::string& StatsServer::Impl::current_json() {
  if (now_ns() - json_at_ >= kFreshNs) render(sampler_.take());
  return json_;
}

void StatsServer::Impl::write_log(const std::string& json) {
  std::string line = json + "\n";
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(log_out_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      log::warn("stats log ", options_.log_path, ": ", log::errno_text(errno), "; no more stats lines");
      log_out_ = -1;
      return;
    }
    done += static_cast<size_t>(n);
  }
}

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

void StatsServer::Impl::accept_some() {
  if (accept_paused_) return;
  for (int i = 0; i < 64; ++i) {
    int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN) return;
      log::warn("stats socket accept: ", log::errno_text(errno), "; pausing");
      accept_paused_ = true;
      loop_->run_after(kAcceptRetryNs, [this] {
        accept_paused_ = false;
        accept_some();
      });
      return;
    }
    Fd client(fd);
    if (clients_.size() >= limits_.max_clients) {
      std::string line = render_error("too many stats clients (" + std::to_string(limits_.max_clients) + ")") + "\n";
      ssize_t n = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      (void)n;
      continue;  // closed by Fd
    }
    bool tcp = endpoint_.kind == StatsEndpoint::Kind::kTcp;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kClientSendBuffer, sizeof kClientSendBuffer);
    uint64_t id = next_client_++;
    auto owned = std::make_unique<Client>(*this, id, std::move(client), tcp);
    Client* c = owned.get();
    clients_.emplace(id, std::move(owned));
    try {
      c->start();
    } catch (const std::exception& e) {  // epoll_ctl out of memory: give up on this client only
      log::warn("stats client: ", e.what());
      c->shutdown_now();
      forget(id);
    }
  }
  loop_->defer(&listener_);  // more may be waiting: continue after the others had a turn
}

StatsServer::Impl::Client* StatsServer::Impl::find(uint64_t id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

void StatsServer::Impl::forget(uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  loop_->dispose(std::move(it->second));
  clients_.erase(it);
}

StatsServer::StatsServer(const StatsOptions& options, StatsSource source)
    : impl_(std::make_unique<Impl>(options, std::move(source))) {}

StatsServer::~StatsServer() = default;

const std::string& StatsServer::address() const { return impl_->address; }

int StatsServer::tid() const { return impl_->tid; }

std::unique_ptr<StatsServer> start_stats(const StatsOptions& options, StatsSource source, bool best_effort) {
  StatsEndpoint endpoint = parse_stats_endpoint(options.where);
  if (endpoint.kind == StatsEndpoint::Kind::kOff && options.log_path.empty()) return nullptr;
  try {
    return std::make_unique<StatsServer>(options, source);
  } catch (const SocketError& e) {
    if (!best_effort) throw;
    log::warn(e.what(), "; running without the stats socket (choose one with --stats)");
    StatsOptions without = options;
    without.where = "off";
    if (without.log_path.empty()) return nullptr;
    return std::make_unique<StatsServer>(without, std::move(source));
  }
}

}  // namespace sp::metrics
