// The bytes tcp_ping_client sends when the server echoes them (ping-pong and stream), and how the
// echo is checked.
//
// Message k of connection c is `length` bytes of the test pattern (common/payload.h) taken at an
// offset of its own connection, with its first 8 bytes XORed with a stamp: the connection number
// (16 bits) and the message's sequence number (48 bits). So the content says which connection
// and which message it is, and any corrupted, lost, duplicated, reordered or cross-connection
// byte is found: inside a message the pattern does not repeat (a shifted byte compares against
// a different one), and at each message start the stamp must carry the next sequence number.
//
// The pattern block is generated once per thread (64 KiB + length), so sending costs nothing
// (the socket reads straight from the block) and checking is a memcmp: unlike generating the
// pattern for every byte (about 0.25 ns/byte each way, as much as the TCP copy itself), this
// keeps the client from becoming the bottleneck of a stream test.
//
// Thread context: immutable after construction; share freely.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sp::client {

class MessageFormat {
 public:
  static constexpr uint64_t kPatternBase = uint64_t{1} << 40;  // pattern offset of the block
  static constexpr size_t kPhases = 1024;                      // distinct per-connection offsets
  static constexpr size_t kPhaseStep = 64;
  static constexpr uint64_t kSequenceMask = (uint64_t{1} << 48) - 1;

  explicit MessageFormat(size_t length);

  size_t length() const { return length_; }

  // Writes message `seq` of connection `conn` into out[0, length).
  void write(uint32_t conn, uint64_t seq, uint8_t* out) const;

  // The bytes [offset, length) of message `seq` as at most two pieces, for sendmsg: the rest of
  // the stamped first word (kept in *stamp_buf, which must outlive the send) and the rest of the
  // block. Returns the number of pieces.
  int pieces(uint32_t conn, uint64_t seq, size_t offset, uint8_t (&stamp_buf)[8], iovec (&out)[2]) const;

  // Checks bytes received at stream position `position` of connection `conn` (message
  // position / length, at offset position % length); they may span messages. Returns the index of
  // the first wrong byte within data, or len when all are right.
  size_t verify(uint32_t conn, uint64_t position, const uint8_t* data, size_t len) const;

  // The byte expected at a stream position (for error messages).
  uint8_t expected(uint32_t conn, uint64_t position) const;

  // When data holds a whole stamp (8 bytes at a message start) whose pattern part is right,
  // decodes the connection and sequence it claims; false otherwise. For error messages.
  bool decode_stamp(uint32_t conn, const uint8_t* data, size_t len, uint32_t* stamp_conn, uint64_t* stamp_seq) const;

 private:
  const uint8_t* block(uint32_t conn) const { return block_.data() + (conn % kPhases) * kPhaseStep; }
  uint64_t stamped_word(uint32_t conn, uint64_t seq) const;
  size_t stamp_len() const { return length_ < 8 ? length_ : 8; }

  size_t length_;
  std::vector<uint8_t> block_;  // pattern bytes [kPatternBase, kPatternBase + kPhases * kPhaseStep + length)
};

// Checks a download: the raw pattern from offset 0, as tcp_ping_server --source sends it. All
// connections read the same stream at roughly the same pace, so the pattern is generated a page
// at a time into a small direct-mapped cache and every connection compares against it with
// memcmp: generating the pattern for every received byte would cost about 0.25 ns/byte and make
// the client the bottleneck. Pages are 256 KiB; 64 of them (16 MiB, allocated as used) cover
// connections up to 16 MiB apart; beyond that a page is regenerated (correct, only slower).
//
// Thread context: one per thread.
class PatternCache {
 public:
  static constexpr size_t kPageSize = 256 << 10;
  static constexpr size_t kPages = 64;

  PatternCache();
  // Returns the index of the first byte of data that differs from pattern bytes
  // [offset, offset + len), or len when all match.
  size_t verify(uint64_t offset, const uint8_t* data, size_t len);
  uint64_t pages_generated() const { return generated_; }

 private:
  const uint8_t* page(uint64_t index);

  std::vector<std::vector<uint8_t>> pages_;
  std::vector<uint64_t> index_;  // which page each slot holds; UINT64_MAX: none
  uint64_t generated_ = 0;
};

}  // namespace sp::client
