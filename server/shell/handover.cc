#include "server/shell/handover.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "common/fd_passing.h"
#include "common/log.h"

namespace sp {
namespace {

constexpr int kStepTimeoutS = 5;  // each step of the exchange; a stuck peer cannot hang a start

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    throw std::invalid_argument("--handover " + path + ": a unix socket path of 1 to " +
                                std::to_string(sizeof addr.sun_path - 1) + " bytes");
  path.copy(addr.sun_path, path.size());
  return addr;
}

Fd unix_socket() {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw std::system_error(errno, std::generic_category(), "socket(AF_UNIX)");
  timeval tv{kStepTimeoutS, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

std::runtime_error failed(const std::string& path, const std::string& step, int err) {
  return std::runtime_error("taking the listeners over from " + path + ": " + step + ": " + log::errno_text(err));
}

}  // namespace

Takeover take_listeners_over(const std::string& path) {
  sockaddr_un addr = unix_address(path);
  Fd fd = unix_socket();
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) return {};  // nobody there: a first start
    throw failed(path, "connect", errno);
  }
  std::string hello = "takeover " + std::to_string(::getpid()) + "\n";
  if (::send(fd.get(), hello.data(), hello.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(hello.size()))
    throw failed(path, "send", errno);
  std::string text;
  std::vector<Fd> fds;
  if (!receive_with_fds(fd.get(), &text, &fds)) throw failed(path, "receive the listeners", errno);
  if (text != "listeners " + std::to_string(fds.size()) + "\n")
    throw std::runtime_error("taking the listeners over from " + path + ": unexpected answer '" + text + "'");
  return {std::move(fd), std::move(fds)};
}

void confirm_takeover(Takeover& takeover) {
  if (!takeover.connection) return;
  int fd = takeover.connection.get();
  if (::send(fd, "taken\n", 6, MSG_NOSIGNAL) != 6)
    log::warn("--handover: telling the old proxy it may stop: ", log::errno_text(errno));
  // It gives the path up, then closes: wait for that, so that binding the path cannot race.
  char c;
  ssize_t n;
  do n = ::recv(fd, &c, 1, 0);
  while (n > 0 || (n < 0 && errno == EINTR));
  takeover.connection.reset();
}

HandoverPoint::HandoverPoint(EventLoop& loop, std::string path, Listening listening, HandedOver handed_over)
    : loop_(loop), path_(std::move(path)), listening_(std::move(listening)), handed_over_(std::move(handed_over)) {
  sockaddr_un addr = unix_address(path_);
  listener_ = unix_socket();
  struct stat st;
  // A socket file that nobody answers on is what a killed proxy leaves: replaced. Anything else
  // at the path is not ours to remove.
  if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path_.c_str());
  if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_.get(), 4) != 0)
    throw std::system_error(errno, std::generic_category(), "--handover: listen on " + path_);
  ::chmod(path_.c_str(), 0600);  // whoever may take the listeners may also stop this proxy
  loop_.add(listener_.get(), EPOLLIN, this);
}

HandoverPoint::~HandoverPoint() { give_up_path(); }

void HandoverPoint::give_up_path() {
  if (!listener_) return;
  loop_.remove(listener_.get());
  listener_.reset();
  ::unlink(path_.c_str());
}

void HandoverPoint::on_events(uint32_t) {
  if (!listener_) return;
  Fd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn) return;
  timeval tv{kStepTimeoutS, 0};
  ::setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(conn.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  char buf[64] = {};
  ssize_t n = ::recv(conn.get(), buf, sizeof buf - 1, 0);
  std::string hello(buf, n > 0 ? static_cast<size_t>(n) : 0);
  int pid = 0;
  if (hello.rfind("takeover ", 0) != 0 || (pid = std::atoi(hello.c_str() + 9)) <= 0) {
    log::warn("--handover ", path_, ": not a takeover request; ignored");
    return;
  }
  std::vector<int> fds = listening_();
  std::string answer;
  if (!send_with_fds(conn.get(), "listeners " + std::to_string(fds.size()) + "\n", fds) ||
      (n = ::recv(conn.get(), buf, sizeof buf - 1, 0)) != 6 || std::string(buf, 6) != "taken\n") {
    log::warn("--handover ", path_, ": pid ", pid, " did not take the listeners (", log::errno_text(errno),
              "); serving on");
    return;
  }
  give_up_path();
  handed_over_(pid);
}  // conn closes here: the new proxy binds the path now

}  // namespace sp
