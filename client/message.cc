#include "client/message.h"

#include <algorithm>
#include <cstring>

#include "common/payload.h"

namespace sp::client {

MessageFormat::MessageFormat(size_t length) : length_(length), block_(kPhases * kPhaseStep + length + 8) {
  PayloadPattern().fill(kPatternBase, block_.data(), block_.size());
}

uint64_t MessageFormat::stamped_word(uint32_t conn, uint64_t seq) const {
  uint64_t w;
  std::memcpy(&w, block(conn), 8);  // little-endian: byte i of the word is byte i of the message
  return w ^ ((uint64_t{conn & 0xffff} << 48) | (seq & kSequenceMask));
}

void MessageFormat::write(uint32_t conn, uint64_t seq, uint8_t* out) const {
  std::memcpy(out, block(conn), length_);
  uint64_t w = stamped_word(conn, seq);
  std::memcpy(out, &w, stamp_len());
}

int MessageFormat::pieces(uint32_t conn, uint64_t seq, size_t offset, uint8_t (&stamp_buf)[8], iovec (&out)[2]) const {
  int n = 0;
  size_t h = stamp_len();
  if (offset < h) {
    uint64_t w = stamped_word(conn, seq);
    std::memcpy(stamp_buf, &w, 8);
    out[n++] = {stamp_buf + offset, h - offset};
    offset = h;
  }
  if (offset < length_) out[n++] = {const_cast<uint8_t*>(block(conn)) + offset, length_ - offset};
  return n;
}

size_t MessageFormat::verify(uint32_t conn, uint64_t position, const uint8_t* data, size_t len) const {
  const uint8_t* b = block(conn);
  const size_t h = stamp_len();
  size_t done = 0;
  while (done < len) {
    uint64_t seq = position / length_;
    size_t offset = static_cast<size_t>(position % length_);
    size_t take = std::min(len - done, length_ - offset);
    const uint8_t* p = data + done;
    size_t i = 0;
    if (offset < h) {  // the stamp
      uint64_t w = stamped_word(conn, seq);
      const auto* stamp = reinterpret_cast<const uint8_t*>(&w);
      for (; i < take && offset + i < h; ++i)
        if (p[i] != stamp[offset + i]) return done + i;
    }
    if (i < take && std::memcmp(p + i, b + offset + i, take - i) != 0) {
      for (; i < take; ++i)
        if (p[i] != b[offset + i]) return done + i;
    }
    done += take;
    position += take;
  }
  return len;
}

uint8_t MessageFormat::expected(uint32_t conn, uint64_t position) const {
  uint8_t byte;
  uint64_t seq = position / length_;
  auto offset = static_cast<size_t>(position % length_);
  if (offset < stamp_len()) {
    uint64_t w = stamped_word(conn, seq);
    std::memcpy(&byte, reinterpret_cast<const uint8_t*>(&w) + offset, 1);
    return byte;
  }
  return block(conn)[offset];
}

bool MessageFormat::decode_stamp(uint32_t conn, const uint8_t* data, size_t len, uint32_t* stamp_conn,
                                 uint64_t* stamp_seq) const {
  if (length_ < 8 || len < 8) return false;
  uint64_t got, pattern;
  std::memcpy(&got, data, 8);
  std::memcpy(&pattern, block(conn), 8);
  uint64_t stamp = got ^ pattern;
  *stamp_conn = static_cast<uint32_t>(stamp >> 48);
  *stamp_seq = stamp & kSequenceMask;
  // Only a stamp if the rest of the message start is ours: otherwise these are just wrong bytes.
  size_t rest = std::min(len, length_) - 8;
  return std::memcmp(data + 8, block(conn) + 8, std::min<size_t>(rest, 64)) == 0;
}

PatternCache::PatternCache() : pages_(kPages), index_(kPages, UINT64_MAX) {}

const uint8_t* PatternCache::page(uint64_t index) {
  size_t slot = static_cast<size_t>(index % kPages);
  std::vector<uint8_t>& p = pages_[slot];
  if (index_[slot] != index) {
    p.resize(kPageSize);
    PayloadPattern().fill(index * kPageSize, p.data(), kPageSize);
    index_[slot] = index;
    ++generated_;
  }
  return p.data();
}

size_t PatternCache::verify(uint64_t offset, const uint8_t* data, size_t len) {
  size_t done = 0;
  while (done < len) {
    uint64_t index = offset / kPageSize;
    auto in_page = static_cast<size_t>(offset % kPageSize);
    size_t take = std::min(len - done, kPageSize - in_page);
    const uint8_t* expected = page(index) + in_page;
    if (std::memcmp(data + done, expected, take) != 0) {
      for (size_t i = 0; i < take; ++i)
        if (data[done + i] != expected[i]) return done + i;
    }
    done += take;
    offset += take;
  }
  return len;
}

}  // namespace sp::client
