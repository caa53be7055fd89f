#include "top/feed.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "common/socket.h"

namespace sp::top {
namespace {
constexpr int64_t kFirstBackoffNs = 250 * kNsPerMs;

std::string seconds_text(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g s", static_cast<double>(ns) / 1e9);
  return buf;
}
}  // namespace

StatsFeed::StatsFeed(EventLoop& loop, metrics::StatsEndpoint where, int64_t watch_ms, int64_t retry_max_ns,
                     Callbacks callbacks)
    : loop_(loop),
      where_(std::move(where)),
      where_text_(where_.to_string()),
      watch_ms_(watch_ms),
      retry_max_ns_(retry_max_ns),
      backoff_ns_(kFirstBackoffNs),
      callbacks_(std::move(callbacks)) {}

StatsFeed::~StatsFeed() {
  if (retry_timer_) loop_.cancel(retry_timer_);
  if (fd_) loop_.remove(fd_.get());
}

void StatsFeed::start() { connect(); }

void StatsFeed::connect() {
  retry_timer_ = 0;
  SocketAddress address;
  try {
    if (where_.kind == metrics::StatsEndpoint::Kind::kUnix) {
      sockaddr_un un{};
      un.sun_family = AF_UNIX;
      std::memcpy(un.sun_path, where_.path.c_str(), where_.path.size() + 1);
      address = SocketAddress::from(reinterpret_cast<const sockaddr*>(&un), sizeof un);
    } else {
      // Blocking getaddrinfo on the only thread: proxy-top has nothing else to do meanwhile.
      auto addresses = resolve(where_.tcp, false);
      if (addresses.empty()) throw std::runtime_error("no address");
      address = addresses.front();
    }
  } catch (const std::exception& e) {
    lost(std::string("resolving: ") + e.what());
    return;
  }
  int err = 0;
  fd_ = connect_nonblocking(address, &err);
  if (!fd_) {
    lost(std::string("connect: ") + log::errno_text(err));
    return;
  }
  connecting_ = true;
  partial_.clear();
  loop_.add(fd_.get(), EventLoop::kEdgeAll, this);
}

void StatsFeed::on_events(uint32_t events) {
  if (connecting_) {
    std::optional<int> outcome = connect_outcome(fd_.get(), events);
    if (!outcome) return;
    if (*outcome != 0) {
      lost("connect: " + log::errno_text(*outcome));
      return;
    }
    connected();
    if (!fd_) return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_some();
}

void StatsFeed::connected() {
  connecting_ = false;
  std::string command = "watch " + std::to_string(watch_ms_) + "\n";
  // A fresh socket's send buffer takes a short line whole.
  if (::send(fd_.get(), command.data(), command.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(command.size())) {
    lost("sending the watch command: " + log::errno_text(errno));
    return;
  }
  backoff_ns_ = kFirstBackoffNs;
  callbacks_.on_status(true, "connected");
}

void StatsFeed::read_some() {
  char buf[64 << 10];
  for (int turn = 0; turn < 256 && fd_; ++turn) {
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n == 0) {
      lost("the stats socket closed the connection");
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) lost("reading: " + log::errno_text(errno));
      return;
    }
    partial_.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
      // Only the latest snapshot matters: a burst of lines after a stall draws once, the last one.
      if (partial_.find('\n', nl + 1) == std::string::npos) callbacks_.on_snapshot(partial_.substr(start, nl - start));
      if (!fd_) return;
    }
    partial_.erase(0, start);
    if (partial_.size() > kMaxSnapshotLine) {
      lost("a line longer than " + std::to_string(kMaxSnapshotLine) + " bytes: is this a stats socket?");
      return;
    }
  }
  if (fd_) loop_.defer(this);
}

void StatsFeed::lost(const std::string& why) {
  if (fd_) {
    loop_.remove(fd_.get());
    fd_.reset();
  }
  connecting_ = false;
  int64_t delay = backoff_ns_;
  backoff_ns_ = std::min(backoff_ns_ * 2, retry_max_ns_);
  callbacks_.on_status(false, where_text_ + ": " + why + "; retrying in " + seconds_text(delay));
  retry_timer_ = loop_.run_after(delay, [this] { connect(); });
}

}  // namespace sp::top
