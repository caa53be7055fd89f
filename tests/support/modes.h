// The proxy's pump modes as --mode spells them. Every suite parameterised by mode instantiates
// with kAllModes, so a mode added here (uring, sockmap, ...) runs in all of them at once.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sp::test {

inline const std::vector<std::string> kAllModes = {"rw", "splice", "auto", "uring", "sockmap"};

// Modes that move bytes through pipes from the first byte, and so meet pipe exhaustion (and fall
// back to read/write). auto splices only once a bulk direction has timed splice faster than
// read/write, after a 64 MiB read/write probe: no short test reaches it.
inline bool uses_pipes(const std::string& mode) { return mode == "splice"; }

// The test name suffix: the mode itself (".../splice" rather than ".../1").
inline std::string mode_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

}  // namespace sp::test

// INSTANTIATE_TEST_SUITE_P(Modes, Suite, ...) over every mode.
#define SP_INSTANTIATE_FOR_ALL_MODES(suite) \
  INSTANTIATE_TEST_SUITE_P(Modes, suite, ::testing::ValuesIn(::sp::test::kAllModes), ::sp::test::mode_name)
