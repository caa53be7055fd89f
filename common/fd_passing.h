// Descriptors passed between processes over a unix stream socket (SCM_RIGHTS), each message a
// short text with the descriptors attached: how a new proxy takes the listening sockets over.
//
// Blocking calls, each bounded by the socket's SO_RCVTIMEO/SO_SNDTIMEO.
#pragma once

#include <string>
#include <vector>

#include "common/fd.h"

namespace sp {

// Sends `text` (non-empty) with `fds` attached; false with errno set on failure.
bool send_with_fds(int socket, const std::string& text, const std::vector<int>& fds);
// Receives one message of at most 4 KiB and the descriptors attached (at most 253, the kernel's
// limit); false on EOF or error. Descriptors arrive close-on-exec.
bool receive_with_fds(int socket, std::string* text, std::vector<Fd>* fds);

}  // namespace sp
