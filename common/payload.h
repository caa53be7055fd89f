// The test payload: a deterministic byte stream where the byte at stream offset i is a function
// of i alone (8 bytes of splitmix64 per 8-byte word). Any lost, duplicated, reordered or altered
// byte shows up at a known offset, and generating or checking it costs one mix per 8 bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sp {

class PayloadPattern {
 public:
  explicit PayloadPattern(uint64_t seed = 0xA5A5A5A5A5A5A5A5ULL) : seed_(seed) {}

  uint64_t word(uint64_t index) const {
    uint64_t z = index + seed_ + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  uint8_t at(uint64_t offset) const { return static_cast<uint8_t>(word(offset >> 3) >> (8 * (offset & 7))); }

  // Writes bytes [offset, offset + len) of the stream into out.
  void fill(uint64_t offset, void* out, size_t len) const {
    auto* p = static_cast<uint8_t*>(out);
    size_t i = 0;
    for (; i < len && ((offset + i) & 7); ++i) p[i] = at(offset + i);
    for (; i + 8 <= len; i += 8) {
      uint64_t w = word((offset + i) >> 3);
      std::memcpy(p + i, &w, 8);  // little-endian hosts: byte k of the word is at offset 8w + k
    }
    for (; i < len; ++i) p[i] = at(offset + i);
  }

  // Checks data against bytes [offset, offset + len); returns the index of the first wrong byte
  // within data, or len when all match.
  size_t verify(uint64_t offset, const void* data, size_t len) const {
    const auto* p = static_cast<const uint8_t*>(data);
    size_t i = 0;
    for (; i < len && ((offset + i) & 7); ++i)
      if (p[i] != at(offset + i)) return i;
    for (; i + 8 <= len; i += 8) {
      uint64_t w = word((offset + i) >> 3), got;
      std::memcpy(&got, p + i, 8);
      if (got != w)
        for (size_t k = 0; k < 8; ++k)
          if (p[i + k] != at(offset + i + k)) return i + k;
    }
    for (; i < len; ++i)
      if (p[i] != at(offset + i)) return i;
    return len;
  }

 private:
  uint64_t seed_;
};

}  // namespace sp
