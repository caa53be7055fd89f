#include "common/fd_passing.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sp {
namespace {
constexpr size_t kMaxFds = 253;  // SCM_MAX_FD
}

bool send_with_fds(int socket, const std::string& text, const std::vector<int>& fds) {
  if (text.empty() || fds.size() > kMaxFds) {
    errno = EINVAL;
    return false;
  }
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(text.size())) return true;
  if (n >= 0) errno = EMSGSIZE;  // a short send would split the text from its descriptors
  return false;
}

bool receive_with_fds(int socket, std::string* text, std::vector<Fd>* fds) {
  char buf[4096];
  iovec iov{buf, sizeof buf};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * kMaxFds));
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  do n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  fds->clear();
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); n >= 0 && c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds->emplace_back(fd);  // owned at once: closed if anything below fails
    }
  }
  if (n <= 0) {
    if (n == 0) errno = ECONNRESET;
    return false;
  }
  if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
    errno = EMSGSIZE;
    return false;
  }
  text->assign(buf, static_cast<size_t>(n));
  return true;
}

}  // namespace sp
