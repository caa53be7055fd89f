// The io_uring feature names of --uring-features (server/paths/uring_features.h): lists parse back,
// unknown words are refused with the valid ones, and the probe offers only features it knows.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "server/paths/uring_features.h"

namespace sp {
namespace {

TEST(UringFeatureNames, ListsParseBackAndKeepTheirOrder) {
  EXPECT_EQ(uring_feature_list(kUringAllFeatures), "defer_taskrun,batch_wait,incremental,multishot,linked_sends,connect");
  EXPECT_EQ(uring_feature_list(0), "");
  EXPECT_EQ(parse_uring_features("all"), kUringAllFeatures);
  EXPECT_EQ(parse_uring_features("none"), 0u);
  EXPECT_EQ(parse_uring_features("incremental,defer_taskrun"), kUringIncremental | kUringDeferTaskrun);
  EXPECT_EQ(uring_feature_list(parse_uring_features("incremental,defer_taskrun")), "defer_taskrun,incremental");
  for (uint32_t set = 1; set <= kUringAllFeatures; ++set) {
    EXPECT_EQ(parse_uring_features(uring_feature_list(set)), set) << set;
  }
  EXPECT_EQ(uring_feature_list(kUringDefaultFeatures), "defer_taskrun,linked_sends,connect") << "the default -h shows";
}

TEST(UringFeatureNames, UnknownWordsAndEmptyItemsAreRefused) {
  for (const char* bad : {"bundles", "incremental,", ",incremental", "INCREMENTAL", "all,none", ""}) {
    if (std::string(bad).empty()) continue;  // "" is no flag value the parser hands over
    try {
      parse_uring_features(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("expected all, none or defer_taskrun,batch_wait,incremental,multishot,linked_sends,connect"), std::string::npos)
          << e.what();
    }
  }
}

TEST(UringFeatureNames, EveryFeatureNamesTheLinuxThatBringsIt) {
  for (uint32_t bit = 1; bit & kUringAllFeatures; bit <<= 1)
    EXPECT_EQ(std::string(uring_feature_since(static_cast<UringFeature>(bit))).rfind("Linux ", 0), 0u) << bit;
}

TEST(UringFeatureProbe, OffersOnlyKnownFeatures) {
  EXPECT_EQ(probe_uring_features() & ~kUringAllFeatures, 0u);
}

}  // namespace
}  // namespace sp
