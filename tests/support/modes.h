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

// The proxy sends new sockmap sessions to splice while the kernel's TCP memory is at or above
// --sockmap-tcp-memory (50 % of tcp_mem's first mark by default), because two-way bulk through the
// kernel relay leaks that memory (docs/sockmap.md). The leak outlives every process, and a CI
// container shares its kernel with earlier runs, so the tests that examine the kernel relay raise
// the mark to 90 %: far enough for a machine that has run many suites, still short of the first
// mark, which no leak of theirs may pass. The decline itself has its own test (at 0 %).
inline const std::vector<std::string> kKernelRelayMark = {"--sockmap-tcp-memory", "90"};

// extra with kKernelRelayMark added when mode is sockmap and extra sets no mark of its own.
inline std::vector<std::string> with_kernel_relay_mark(const std::string& mode, std::vector<std::string> extra) {
  bool has_mark = false;
  for (const auto& arg : extra) has_mark |= arg == kKernelRelayMark.front();
  if (mode == "sockmap" && !has_mark) extra.insert(extra.end(), kKernelRelayMark.begin(), kKernelRelayMark.end());
  return extra;
}

// The same for a shell command line: " --sockmap-tcp-memory 90" in sockmap mode, else nothing.
inline std::string kernel_relay_mark_flag(const std::string& mode) {
  return mode == "sockmap" ? " " + kKernelRelayMark[0] + " " + kKernelRelayMark[1] : "";
}

// The test name suffix: the mode itself (".../splice" rather than ".../1").
inline std::string mode_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

}  // namespace sp::test

// INSTANTIATE_TEST_SUITE_P(Modes, Suite, ...) over every mode.
#define SP_INSTANTIATE_FOR_ALL_MODES(suite) \
  INSTANTIATE_TEST_SUITE_P(Modes, suite, ::testing::ValuesIn(::sp::test::kAllModes), ::sp::test::mode_name)
