// The stats socket's command parser and line splitter, including garbage: random bytes, NULs,
// huge lines.
#include <gtest/gtest.h>

#include <random>

#include <nlohmann/json.hpp>

#include "metrics/metric_table.h"
#include "metrics/stats_protocol.h"

namespace sp::metrics {
namespace {

const StatsLimits kLimits;

Command parse(std::string_view line) { return parse_command(line, kLimits); }

TEST(StatsCommand, KnownCommands) {
  EXPECT_EQ(parse("stats").kind, CommandKind::kStats);
  EXPECT_EQ(parse("  stats \r").kind, CommandKind::kStats);
  EXPECT_EQ(parse("\tstats\t").kind, CommandKind::kStats);
  EXPECT_EQ(parse("help").kind, CommandKind::kHelp);
  EXPECT_EQ(parse("schema").kind, CommandKind::kSchema);
  EXPECT_EQ(parse(" metrics\r").kind, CommandKind::kMetrics);
  EXPECT_EQ(parse("metrics 1").kind, CommandKind::kError);
  EXPECT_EQ(parse("quit").kind, CommandKind::kQuit);
  EXPECT_EQ(parse("exit").kind, CommandKind::kQuit);
  EXPECT_EQ(parse("").kind, CommandKind::kEmpty);
  EXPECT_EQ(parse(" \r").kind, CommandKind::kEmpty);
  Command w = parse("watch 200");
  EXPECT_EQ(w.kind, CommandKind::kWatch);
  EXPECT_EQ(w.watch_ms, 200);
  EXPECT_EQ(parse("watch   50  ").watch_ms, 50);
  EXPECT_EQ(parse("watch 3600000").watch_ms, 3'600'000);
}

TEST(StatsCommand, BadCommandsAreErrorsWithAReason) {
  for (const char* bad : {"STATS", "stat", "stats now", "help me", "watch", "watch 49", "watch 3600001", "watch -5",
                          "watch 1e3", "watch 200ms", "watch 200 300", "watch 99999999999999999999999", "watch 0x100",
                          "GET / HTTP/1.1", "{\"cmd\":\"stats\"}"}) {
    Command c = parse(bad);
    EXPECT_EQ(c.kind, CommandKind::kError) << bad;
    EXPECT_FALSE(c.error.empty()) << bad;
  }
  EXPECT_NE(parse("watch 10").error.find("50..3600000"), std::string::npos);
  EXPECT_NE(parse("frobnicate").error.find("frobnicate"), std::string::npos);
}

TEST(StatsCommand, ErrorTextIsShortPrintableAscii) {
  std::string nasty("\x00\x01\xff\"\\ZZ", 7);
  nasty += std::string(10'000, 'x');
  Command c = parse(nasty);
  ASSERT_EQ(c.kind, CommandKind::kError);
  EXPECT_LT(c.error.size(), 120u);
  for (char ch : c.error) EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << int(ch);
}

TEST(LineReader, SplitsAcrossReads) {
  LineReader r(16);
  std::vector<std::string> lines;
  EXPECT_TRUE(r.feed("sta", lines));
  EXPECT_TRUE(lines.empty());
  EXPECT_TRUE(r.feed("ts\nhelp\nwat", lines));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "stats");
  EXPECT_EQ(lines[1], "help");
  EXPECT_EQ(r.pending(), 3u);
  EXPECT_TRUE(r.feed("ch 100\n\n", lines));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2], "watch 100");
  EXPECT_EQ(lines[3], "");
  EXPECT_TRUE(r.feed("tail", lines));
  EXPECT_EQ(r.take_rest(), "tail");
  EXPECT_EQ(r.pending(), 0u);
}

TEST(LineReader, KeepsNulsAndBoundsLongLines) {
  LineReader r(16);
  std::vector<std::string> lines;
  EXPECT_TRUE(r.feed(std::string_view("a\0b\n", 4), lines));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].size(), 3u);
  EXPECT_TRUE(r.feed(std::string(16, 'x') + "\n", lines));  // exactly the limit: fine
  EXPECT_EQ(lines.back().size(), 16u);
  EXPECT_TRUE(r.feed(std::string(10, 'y'), lines));
  EXPECT_FALSE(r.feed(std::string(7, 'y'), lines));  // 17 bytes, no newline
  EXPECT_EQ(r.pending(), 0u);                        // nothing kept
  LineReader big(4096);
  EXPECT_FALSE(big.feed(std::string(1 << 20, 'z'), lines));  // a 1 MiB line in one read
}

TEST(StatsFuzz, RandomBytesNeverBreakTheParser) {
  std::mt19937_64 rng(12345);
  for (int round = 0; round < 200; ++round) {
    LineReader r(kLimits.max_line);
    std::vector<std::string> lines;
    bool ok = true;
    for (int chunk = 0; chunk < 8 && ok; ++chunk) {
      std::string bytes(rng() % 600, '\0');
      for (char& c : bytes) {
        uint64_t pick = rng() % 10;
        c = pick == 0 ? '\n' : pick == 1 ? '\0' : pick < 5 ? "stawch 0159help"[rng() % 15] : static_cast<char>(rng());
      }
      ok = r.feed(bytes, lines);
    }
    for (const std::string& line : lines) {
      ASSERT_LE(line.size(), kLimits.max_line);
      Command c = parse(line);
      if (c.kind == CommandKind::kWatch) {
        EXPECT_GE(c.watch_ms, kLimits.min_watch_ms);
        EXPECT_LE(c.watch_ms, kLimits.max_watch_ms);
      }
      if (c.kind == CommandKind::kError) {
        auto j = nlohmann::json::parse(render_error(c.error));  // throws if not valid JSON
        EXPECT_TRUE(j.contains("error"));
      }
    }
  }
}

TEST(StatsHelp, ListsCommandsLimitsAndEveryMetric) {
  std::string help = help_text(kLimits);
  for (const auto& c : command_table(kLimits)) EXPECT_NE(help.find(c.syntax), std::string::npos) << c.syntax;
  for (const auto& l : limit_table(kLimits)) EXPECT_NE(help.find(l.name), std::string::npos) << l.name;
  for (const auto& m : metric_table()) EXPECT_NE(help.find(m.name), std::string::npos) << m.name;
  EXPECT_EQ(help.back(), '\n');
}

// A document whose reference section holds `body`. (Appended piece by piece: GCC 12 at -O3 takes
// a chain of operator+ on literals for an out-of-bounds copy, -Warray-bounds.)
std::string doc_around(std::string_view body) {
  std::string doc = "intro\n";
  doc.append(kReferenceBegin).append("\n").append(body).append(kReferenceEnd).append("\noutro\n");
  return doc;
}

TEST(StatsDocs, ReplaceReference) {
  auto updated = replace_reference(doc_around("old\n"), "NEW\n");
  ASSERT_TRUE(updated);
  EXPECT_EQ(*updated, doc_around("NEW\n"));
  EXPECT_EQ(replace_reference(*updated, "NEW\n"), *updated);  // idempotent
  EXPECT_FALSE(replace_reference("no markers", "x"));
}

}  // namespace
}  // namespace sp::metrics
