// The stats thread's start-up and shutdown, the sampling tick, and rendering the snapshot; the
// clients are in stats_connection.cc, the endpoint in stats_endpoint.cc, the log in stats_log.cc.
#include "metrics/stats_server.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>

#include "common/log.h"
#include "common/socket.h"
#include "metrics/metric_table.h"
#include "metrics/prometheus.h"
#include "metrics/stats_impl.h"

namespace sp::metrics {

StatsServer::Impl::Impl(const StatsOptions& options, StatsSource source)
    : options_(options),
      limits_(options.limits),
      endpoint_(parse_stats_endpoint(options.where)),
      log_(options.log_path),  // first: a failure there must not leave a socket file behind
      prom_(options.prom_path),
      sampler_(std::move(source), static_cast<double>(options.interval_ns) / 1e9) {
  if (options_.interval_ns <= 0) throw std::invalid_argument("stats interval must be positive");
  try {
    if (endpoint_.kind == StatsEndpoint::Kind::kTcp) {
      auto addresses = resolve(endpoint_.tcp, true);
      if (addresses.empty()) throw std::runtime_error("stats address " + endpoint_.tcp.to_string() + ": nothing to bind");
      listen_fd_ = listen_tcp(addresses.front(), kListenBacklog);
      SocketAddress bound = local_address(listen_fd_.get());
      address = bound.to_string();
      if (!bound.is_loopback())
        log::warn("stats socket on ", address, " is reachable from other hosts (no authentication)");
    } else if (endpoint_.kind == StatsEndpoint::Kind::kUnix) {
      listen_fd_ = listen_unix(endpoint_.path, &unix_stat_);
      unix_bound_ = true;
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
  // The loop has stopped: close the listener and the clients from here.
  listener_.reset();
  close_clients();
  if (unix_bound_) {
    struct stat st;  // only our own socket file, not one a newer process put there
    if (::lstat(endpoint_.path.c_str(), &st) == 0 && st.st_ino == unix_stat_.st_ino && st.st_dev == unix_stat_.st_dev)
      ::unlink(endpoint_.path.c_str());
  }
}

void StatsServer::Impl::reopen_log() {
  thread_->loop().post([this] { log_.reopen(); });
}

void StatsServer::Impl::start_on_thread(EventLoop& loop) {
  loop_ = &loop;
  pthread_setname_np(pthread_self(), "stats");
  sampler_.add_thread("stats", static_cast<int>(::gettid()));
  start_ = sampler_.take();
  render(start_);
  if (prom_.on()) prom_.write(render_prometheus(snapshot_, PromTarget::kTextfile));  // the file exists from the start
  next_tick_ = start_.mono_ns + options_.interval_ns;
  loop.run_after(options_.interval_ns, [this] { tick(); });
  loop.run_after(kSweepNs, [this] { sweep(); });
  if (listen_fd_) {
    // Out of descriptors the reserved one serves a stats client: the operator's view must not
    // go dark exactly when the proxy runs out.
    AcceptLoop::Callbacks callbacks;
    callbacks.name = "stats socket " + address;
    callbacks.on_client = [this](Fd client) { accept(std::move(client)); };
    callbacks.on_reserved = callbacks.on_client;
    callbacks.reserved_verb = "answered";
    listener_ = std::make_unique<AcceptLoop>(loop, std::move(listen_fd_), std::move(callbacks));
  }
}

void StatsServer::Impl::tick() {
  begin_ = have_window_ ? end_ : start_;
  end_ = sampler_.take();
  have_window_ = true;
  render(end_);
  log_.write(json_);
  if (prom_.on()) prom_.write(render_prometheus(snapshot_, PromTarget::kTextfile));
  int64_t now = now_ns();
  next_tick_ += options_.interval_ns;
  if (next_tick_ <= now) next_tick_ = now + options_.interval_ns;  // fell behind: skip, don't burst
  loop_->run_after(next_tick_ - now, [this] { tick(); });
}

void StatsServer::Impl::render(const RawSample& now) {
  const RawSample& begin = have_window_ ? begin_ : start_;
  const RawSample& end = have_window_ ? end_ : now;
  snapshot_ = make_snapshot(sampler_.layout(), start_, begin, end, now);
  json_ = render_json(snapshot_);
  json_at_ = now.mono_ns;
}

const std::string& StatsServer::Impl::current_json() {
  if (now_ns() - json_at_ >= kFreshNs) render(sampler_.take());
  return json_;
}

std::string StatsServer::Impl::current_prometheus() {
  current_json();  // fresh, as for `stats`
  return render_prometheus(snapshot_);
}

StatsServer::StatsServer(const StatsOptions& options, StatsSource source)
    : impl_(std::make_unique<Impl>(options, std::move(source))) {}

StatsServer::~StatsServer() = default;

const std::string& StatsServer::address() const { return impl_->address; }

int StatsServer::tid() const { return impl_->tid; }

void StatsServer::reopen_log() { impl_->reopen_log(); }

std::unique_ptr<StatsServer> start_stats(const StatsOptions& options, StatsSource source, bool best_effort) {
  StatsEndpoint endpoint = parse_stats_endpoint(options.where);
  if (endpoint.kind == StatsEndpoint::Kind::kOff && options.log_path.empty() && options.prom_path.empty()) return nullptr;
  try {
    return std::make_unique<StatsServer>(options, source);
  } catch (const SocketError& e) {
    if (!best_effort) throw;
    log::warn(e.what(), "; running without the stats socket (choose one with --stats)");
    StatsOptions without = options;
    without.where = "off";
    if (without.log_path.empty() && without.prom_path.empty()) return nullptr;
    return std::make_unique<StatsServer>(without, std::move(source));
  }
}

}  // namespace sp::metrics
