#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "client/message.h"
#include "common/payload.h"

namespace sp::client {
namespace {

// The stream of messages first..first+count-1 of a connection, as sent.
std::vector<uint8_t> stream(const MessageFormat& f, uint32_t conn, uint64_t first, uint64_t count) {
  std::vector<uint8_t> out(f.length() * count);
  for (uint64_t k = 0; k < count; ++k) f.write(conn, first + k, out.data() + k * f.length());
  return out;
}

TEST(MessageFormat, VerifiesWhatWasWrittenInAnyChunking) {
  for (size_t length : {1u, 5u, 8u, 9u, 1024u, 65536u}) {
    MessageFormat f(length);
    auto s = stream(f, 3, 0, 7);
    EXPECT_EQ(f.verify(3, 0, s.data(), s.size()), s.size()) << length;
    // Arbitrary chunk boundaries, as TCP delivers them.
    for (size_t chunk : {1u, 3u, 7u, 1000u, 70000u}) {
      for (size_t pos = 0; pos < s.size(); pos += chunk) {
        size_t n = std::min(chunk, s.size() - pos);
        ASSERT_EQ(f.verify(3, pos, s.data() + pos, n), n) << length << " " << chunk << " " << pos;
      }
    }
    for (size_t i = 0; i < s.size(); i += 997) EXPECT_EQ(f.expected(3, i), s[i]) << length << " " << i;
  }
}

TEST(MessageFormat, PiecesConcatenateToTheMessage) {
  MessageFormat f(1000);
  std::vector<uint8_t> whole(1000);
  f.write(9, 123456789, whole.data());
  for (size_t offset : {0u, 1u, 7u, 8u, 9u, 999u}) {
    uint8_t stamp[8];
    iovec iov[2];
    int n = f.pieces(9, 123456789, offset, stamp, iov);
    std::vector<uint8_t> got;
    for (int i = 0; i < n; ++i) {
      auto* p = static_cast<uint8_t*>(iov[i].iov_base);
      got.insert(got.end(), p, p + iov[i].iov_len);
    }
    EXPECT_EQ(got, std::vector<uint8_t>(whole.begin() + static_cast<long>(offset), whole.end())) << offset;
  }
}

TEST(MessageFormat, BodyIsThePatternAtTheConnectionsOffset) {
  MessageFormat f(256);
  std::vector<uint8_t> m(256);
  f.write(2, 0, m.data());
  PayloadPattern p;
  uint64_t base = MessageFormat::kPatternBase + 2 * MessageFormat::kPhaseStep;
  for (size_t i = 8; i < 256; ++i) ASSERT_EQ(m[i], p.at(base + i)) << i;
}

TEST(MessageFormat, EveryFlippedByteIsFound) {
  MessageFormat f(100);
  auto s = stream(f, 0, 0, 5);
  for (size_t i = 0; i < s.size(); ++i) {
    s[i] ^= 0x10;
    ASSERT_EQ(f.verify(0, 0, s.data(), s.size()), i);
    s[i] ^= 0x10;
  }
}

TEST(MessageFormat, DroppedOrDuplicatedBytesAreFound) {
  MessageFormat f(1024);
  auto s = stream(f, 1, 0, 4);
  for (size_t at : {0u, 5u, 8u, 500u, 1023u, 1024u, 3000u}) {
    auto dropped = s;
    dropped.erase(dropped.begin() + static_cast<long>(at));
    EXPECT_LT(f.verify(1, 0, dropped.data(), dropped.size()), dropped.size()) << "drop " << at;
    auto dup = s;
    dup.insert(dup.begin() + static_cast<long>(at), dup[at]);
    EXPECT_LT(f.verify(1, 0, dup.data(), dup.size()), dup.size()) << "dup " << at;
  }
}

TEST(MessageFormat, LostRepeatedAndForeignMessagesAreFound) {
  MessageFormat f(512);
  // Message 1 is lost: message 2 arrives where 1 was expected.
  auto lost = stream(f, 4, 2, 1);
  EXPECT_LT(f.verify(4, 512, lost.data(), lost.size()), 8u);
  uint32_t conn;
  uint64_t seq;
  ASSERT_TRUE(f.decode_stamp(4, lost.data(), lost.size(), &conn, &seq));
  EXPECT_EQ(conn, 4u);
  EXPECT_EQ(seq, 2u);
  // Message 0 again where 1 was expected.
  auto repeated = stream(f, 4, 0, 1);
  EXPECT_LT(f.verify(4, 512, repeated.data(), repeated.size()), 8u);
  // A message of another connection (same sequence number).
  auto foreign = stream(f, 5, 1, 1);
  EXPECT_LT(f.verify(4, 512, foreign.data(), foreign.size()), foreign.size());
  EXPECT_FALSE(f.decode_stamp(4, foreign.data(), foreign.size(), &conn, &seq));
  // Sequence numbers far apart differ in their high bytes, still inside the stamp.
  auto far = stream(f, 4, 1 + (uint64_t{1} << 40), 1);
  EXPECT_LT(f.verify(4, 512, far.data(), far.size()), 8u);
}

TEST(MessageFormat, TinyMessagesCarryTheLowSequenceBytes) {
  MessageFormat f(3);
  auto s = stream(f, 0, 0, 300);
  EXPECT_EQ(f.verify(0, 0, s.data(), s.size()), s.size());
  auto skipped = stream(f, 0, 1, 1);  // message 1 where 0 was expected
  EXPECT_EQ(f.verify(0, 0, skipped.data(), skipped.size()), 0u);
}

}  // namespace
}  // namespace sp::client

namespace sp::client {
namespace {

TEST(PatternCache, AgreesWithThePattern) {
  PatternCache cache;
  PayloadPattern p;
  std::vector<uint8_t> buf(PatternCache::kPageSize * 2 + 123);
  // Offsets inside a page, across page boundaries, and pages that share a cache slot.
  for (uint64_t offset : {uint64_t{0}, uint64_t{5}, uint64_t{PatternCache::kPageSize - 7},
                          uint64_t{PatternCache::kPageSize * PatternCache::kPages + 11}, uint64_t{3} << 40}) {
    p.fill(offset, buf.data(), buf.size());
    ASSERT_EQ(cache.verify(offset, buf.data(), buf.size()), buf.size()) << offset;
    buf[PatternCache::kPageSize + 1] ^= 0x80;
    EXPECT_EQ(cache.verify(offset, buf.data(), buf.size()), PatternCache::kPageSize + 1) << offset;
    EXPECT_EQ(cache.verify(offset + 1, buf.data(), 64), 0u) << "a shifted stream must not verify";
  }
}

TEST(PatternCache, ConnectionsAtTheSamePaceShareThePages) {
  PatternCache cache;
  PayloadPattern p;
  std::vector<uint8_t> chunk(64 << 10);
  // Eight "connections" reading the same stream in lockstep: each page is generated once.
  for (uint64_t offset = 0; offset < 4 * PatternCache::kPageSize; offset += chunk.size()) {
    p.fill(offset, chunk.data(), chunk.size());
    for (int c = 0; c < 8; ++c) ASSERT_EQ(cache.verify(offset, chunk.data(), chunk.size()), chunk.size());
  }
  EXPECT_EQ(cache.pages_generated(), 4u);
}

}  // namespace
}  // namespace sp::client
