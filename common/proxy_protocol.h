// The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): the header a proxy sends
// first on its connection to a backend so that the backend learns the client's address, and the
// strict reader of one received from a load balancer in front.
//
// Pure code: bytes in, bytes out; no sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/address.h"

namespace sp::proxy_protocol {

// v1: "PROXY TCP4 192.0.2.1 198.51.100.2 51234 443\r\n" (TCP6 for IPv6; "PROXY UNKNOWN\r\n" when
// the two addresses are of different families, which v1 cannot express).
std::string encode_v1(const SocketAddress& source, const SocketAddress& destination);
// v2: the 16-byte binary header and the addresses (AF_INET or AF_INET6, STREAM), command PROXY;
// LOCAL (no addresses) when the families differ.
std::string encode_v2(const SocketAddress& source, const SocketAddress& destination);

// The longest header the reader accepts: v1's 107 bytes, or v2's 16 plus at most this much of
// addresses and TLVs (which are skipped).
inline constexpr size_t kMaxV1 = 107;
inline constexpr size_t kMaxV2Body = 1024;

struct Header {
  enum class Status {
    kNeedMore,  // a valid prefix: read more (at most kMaxV1 or 16 + kMaxV2Body in all)
    kInvalid,   // not a PROXY header, or a malformed one: `error` says what; close the connection
    kDone,      // `length` bytes are the header; what follows is the client's stream
  };
  Status status = Status::kNeedMore;
  size_t length = 0;
  int version = 0;
  // The addresses it carries; empty for v1 UNKNOWN and v2 LOCAL (a health check of the balancer:
  // the connection's own addresses stand).
  std::optional<SocketAddress> source;
  std::optional<SocketAddress> destination;
  std::string error;
};

// Reads a header from the first `size` bytes received on a connection.
Header parse(const uint8_t* data, size_t size);

}  // namespace sp::proxy_protocol
