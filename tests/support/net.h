// Small blocking-socket helpers for end-to-end tests (loopback only).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/fd.h"

namespace sp::test {

// A port that was free a moment ago on 127.0.0.1 (bound to 0 and released).
uint16_t free_port();
// Polls until something accepts on 127.0.0.1:port; false after the timeout.
bool wait_for_port(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
// Blocking connection to 127.0.0.1:port (throws on failure); receive timeout set.
Fd connect_to(uint16_t port, std::chrono::milliseconds recv_timeout = std::chrono::seconds(30));
bool send_all(int fd, const void* data, size_t len);
// Reads until EOF (or error/timeout): returns what arrived; *clean says whether it ended in EOF.
std::vector<uint8_t> read_to_eof(int fd, bool* clean = nullptr);
// Reads exactly len bytes; false on EOF/error/timeout.
bool read_exact(int fd, void* out, size_t len);
std::vector<uint8_t> random_bytes(size_t n, uint64_t seed);
std::string sha256_hex(const std::vector<uint8_t>& data);
// Sends `bytes` random bytes to 127.0.0.1:port and reads them back: true if the echo is exact.
bool echoes(uint16_t port, size_t bytes);
// How often `what` occurs in `text` (a log line said once, say).
size_t occurrences(const std::string& text, const std::string& what);
// A remote whose connects hang: a listener with a backlog of 0, filled, so that the kernel drops
// new SYNs (connects to it wait for a connect timeout). It holds while the object lives.
struct HangingRemote {
  HangingRemote();
  Fd listener;
  std::vector<Fd> fillers;
  uint16_t port = 0;
};
// Open fds of a process (count of /proc/PID/fd), and resident memory in bytes.
int open_fds(int pid);
uint64_t rss_bytes(int pid);
// CPU seconds (user+system) a process has used, from /proc/PID/stat.
double cpu_seconds(int pid);

}  // namespace sp::test
