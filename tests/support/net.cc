#include "tests/support/net.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/address.h"
#include "common/socket.h"
#include "metrics/proc.h"

namespace sp::test {

uint16_t free_port() {
  Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  return local_address(fd.get()).port();
}

bool wait_for_port(uint16_t port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto addr = resolve(HostPort{"127.0.0.1", port}, false).front();
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      connect_blocking(addr, 200);
      return true;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return false;
}

Fd connect_to(uint16_t port, std::chrono::milliseconds recv_timeout) {
  Fd fd = connect_blocking(resolve(HostPort{"127.0.0.1", port}, false).front(), 5000);
  timeval tv{static_cast<time_t>(recv_timeout.count() / 1000), static_cast<suseconds_t>((recv_timeout.count() % 1000) * 1000)};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

bool send_all(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

std::vector<uint8_t> read_to_eof(int fd, bool* clean) {
  std::vector<uint8_t> out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (clean) *clean = n == 0;
      return out;
    }
    out.insert(out.end(), buf, buf + n);
  }
}

bool read_exact(int fd, void* out, size_t len) {
  char* p = static_cast<char*>(out);
  while (len > 0) {
    ssize_t n = ::recv(fd, p, len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

HangingRemote::HangingRemote() {
  listener = listen_tcp(resolve(HostPort{"127.0.0.1", 0}, true).front(), 0);
  port = local_address(listener.get()).port();
  for (int i = 0; i < 4; ++i) {
    int err = 0;
    fillers.push_back(connect_nonblocking(resolve(HostPort{"127.0.0.1", port}, false).front(), &err));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the fillers' handshakes fill the queue
}

bool echoes(uint16_t port, size_t bytes) {
  Fd fd = connect_to(port, std::chrono::seconds(5));
  auto data = random_bytes(bytes, 7);
  std::vector<uint8_t> back(data.size());
  return send_all(fd.get(), data.data(), data.size()) && read_exact(fd.get(), back.data(), back.size()) && back == data;
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  for (size_t i = n & ~size_t{7}; i < n; ++i) out[i] = static_cast<uint8_t>(rng());
  return out;
}

namespace {
// Compact SHA-256 (FIPS 180-4) so tests compare hashes without another dependency.
struct Sha256 {
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
  void block(const uint8_t* p) {
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) w[i] = uint32_t(p[4 * i]) << 24 | uint32_t(p[4 * i + 1]) << 16 | uint32_t(p[4 * i + 2]) << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
  }
};
}  // namespace

std::string sha256_hex(const std::vector<uint8_t>& data) {
  Sha256 s;
  size_t full = data.size() / 64 * 64;
  for (size_t i = 0; i < full; i += 64) s.block(data.data() + i);
  uint8_t tail[128] = {};
  size_t rest = data.size() - full;
  std::memcpy(tail, data.data() + full, rest);
  tail[rest] = 0x80;
  size_t tail_len = rest + 9 <= 64 ? 64 : 128;
  uint64_t bits = uint64_t{data.size()} * 8;
  for (int i = 0; i < 8; ++i) tail[tail_len - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
  for (size_t i = 0; i < tail_len; i += 64) s.block(tail + i);
  std::ostringstream out;
  char hex[9];
  for (uint32_t v : s.h) {
    std::snprintf(hex, sizeof hex, "%08x", v);
    out << hex;
  }
  return out.str();
}

int open_fds(int pid) { return static_cast<int>(metrics::proc::open_fds(pid)); }

uint64_t rss_bytes(int pid) { return metrics::proc::rss_bytes(pid); }

double cpu_seconds(int pid) {
  auto ticks = metrics::proc::process_ticks(pid);
  if (!ticks) return 0;
  return static_cast<double>(ticks->utime + ticks->stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace sp::test
