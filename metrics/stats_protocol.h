// The stats socket's plain-text protocol: commands, one per line, and the limits that keep a
// misbehaving client from costing more than a bounded amount of memory and time. The command list
// and the limits are tables too, rendered into `help` and docs/stats.md.
//
// Pure code: no sockets (see stats_server.h for those).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sp::metrics {

struct StatsLimits {
  int64_t first_command_wait_ms = 150;  // silence before the first command: answer with a snapshot
  int64_t linger_ms = 300;              // after our last byte, wait this long for the client to close
  int64_t stall_timeout_ms = 5000;      // output pending without progress this long: drop the client
  size_t max_line = 4096;               // a command line longer than this: error, close
  size_t max_output = 1 << 20;          // output queued for a client beyond this: drop it
  size_t max_clients = 256;             // concurrent connections not watching; more get an error
  size_t max_watchers = 256;            // concurrent watch streams, counted apart: they never lock out one-shots
  int max_errors = 8;                   // bad commands on one connection before it is closed
  int64_t min_watch_ms = 50;
  int64_t max_watch_ms = 3'600'000;
};

struct LimitInfo {
  std::string name;
  std::string value;
  std::string description;
};
std::vector<LimitInfo> limit_table(const StatsLimits& limits);

struct CommandInfo {
  std::string syntax;
  std::string description;
};
std::vector<CommandInfo> command_table(const StatsLimits& limits);

enum class CommandKind { kEmpty, kStats, kMetrics, kWatch, kHelp, kSchema, kQuit, kError };

struct Command {
  CommandKind kind = CommandKind::kEmpty;
  int64_t watch_ms = 0;  // kWatch
  std::string error;     // kError: what to tell the client (printable ASCII)
};

// Parses one line (without its newline). Surrounding blanks and a trailing CR are ignored;
// commands are lowercase words. Never throws, whatever the bytes.
Command parse_command(std::string_view line, const StatsLimits& limits);

// Splits a byte stream into lines, holding at most max_line bytes of an unfinished line.
class LineReader {
 public:
  explicit LineReader(size_t max_line) : max_line_(max_line) {}
  // Appends data and moves every complete line (without "\n") to `lines`. Returns false when an
  // unfinished line grew past max_line: the stream is unusable from then on.
  bool feed(std::string_view data, std::vector<std::string>& lines);
  // At end of stream: the last line if it had no newline.
  std::string take_rest() { return std::exchange(partial_, {}); }
  size_t pending() const { return partial_.size(); }

 private:
  size_t max_line_;
  std::string partial_;
};

// The `help` reply: commands, behaviour and limits, then the metric table.
std::string help_text(const StatsLimits& limits);

// The reference part of docs/stats.md: commands, limits and metrics, as Markdown.
std::string reference_markdown(const StatsLimits& limits);

// docs/stats.md holds the generated reference between these two marker lines.
inline constexpr std::string_view kReferenceBegin = "<!-- BEGIN GENERATED REFERENCE (build/bin/stats_doc --write docs/stats.md) -->";
inline constexpr std::string_view kReferenceEnd = "<!-- END GENERATED REFERENCE -->";
// The document with its generated part replaced by `reference`; nullopt without the markers.
std::optional<std::string> replace_reference(std::string_view document, std::string_view reference);

}  // namespace sp::metrics
