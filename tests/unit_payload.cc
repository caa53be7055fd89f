#include <gtest/gtest.h>

#include <vector>

#include "common/payload.h"

namespace sp {
namespace {

TEST(PayloadPattern, FillMatchesAtForAnyAlignment) {
  PayloadPattern p;
  for (uint64_t offset : {0, 1, 7, 8, 13, 1000003}) {
    std::vector<uint8_t> buf(301);
    p.fill(offset, buf.data(), buf.size());
    for (size_t i = 0; i < buf.size(); ++i) ASSERT_EQ(buf[i], p.at(offset + i)) << offset << "+" << i;
    EXPECT_EQ(p.verify(offset, buf.data(), buf.size()), buf.size());
  }
}

TEST(PayloadPattern, VerifyFindsTheFirstWrongByte) {
  PayloadPattern p;
  std::vector<uint8_t> buf(1024);
  p.fill(5, buf.data(), buf.size());
  buf[700] ^= 1;
  buf[900] ^= 1;
  EXPECT_EQ(p.verify(5, buf.data(), buf.size()), 700u);
}

TEST(PayloadPattern, ShiftedStreamDoesNotVerify) {
  // A lost or duplicated byte shifts everything after it: the check must notice.
  PayloadPattern p;
  std::vector<uint8_t> buf(64);
  p.fill(1, buf.data(), buf.size());
  EXPECT_LT(p.verify(0, buf.data(), buf.size()), 8u);
}

}  // namespace
}  // namespace sp
