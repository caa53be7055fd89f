#include "metrics/stats_protocol.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "common/text.h"
#include "metrics/metric_table.h"

namespace sp::metrics {
namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && blank(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !blank(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::string watch_range(const StatsLimits& l) {
  return std::to_string(l.min_watch_ms) + ".." + std::to_string(l.max_watch_ms);
}

}  // namespace

std::vector<LimitInfo> limit_table(const StatsLimits& l) {
  return {
      {"first command wait", std::to_string(l.first_command_wait_ms) + " ms",
       "a client that sends no command (and no EOF) within this time gets one snapshot and is closed; "
       "after a reply, the same silence ends the connection"},
      {"line length", std::to_string(l.max_line) + " bytes",
       "a command line longer than this without a newline: error, then the connection is closed"},
      {"bad commands", std::to_string(l.max_errors),
       "after this many error replies on one connection it is closed"},
      {"output buffer", std::to_string(l.max_output) + " bytes",
       "replies queued for a client that does not read: once this much is waiting, the client is dropped"},
      {"stalled output", std::to_string(l.stall_timeout_ms) + " ms",
       "output waiting this long without the client reading any of it: the client is dropped"},
      {"clients", std::to_string(l.max_clients),
       "concurrent stats connections that are not watching; one more gets an error line and is closed"},
      {"watch streams", std::to_string(l.max_watchers),
       "concurrent `watch` streams, counted apart from the clients above so that watchers never stop a one-shot "
       "request; one more `watch` gets an error line and the connection is closed"},
      {"closing", std::to_string(l.linger_ms) + " ms",
       "after the last reply the server shuts down its side and waits this long for the client to close, then "
       "resets the connection (so `nc` with an open stdin exits)"},
      {"watch interval", watch_range(l) + " ms", "the range `watch` accepts"},
  };
}

std::vector<CommandInfo> command_table(const StatsLimits& l) {
  return {
      {"(nothing, or EOF)", "one JSON snapshot, then the connection closes"},
      {"stats", "one JSON snapshot (one line)"},
      {"metrics", "the same snapshot in the Prometheus text exposition format (HELP, TYPE and sample lines, "
                  "ending with a newline), as --stats-prom writes it"},
      {"watch MS", "one JSON snapshot now and then every MS milliseconds (" + watch_range(l) +
                       ") until the client closes; a new watch changes the interval"},
      {"help", "this text: commands, limits and every metric"},
      {"schema", "the metric table as one line of JSON"},
      {"quit", "close the connection"},
      {"(anything else)", "{\"error\": \"...\"}; the connection stays usable"},
  };
}

Command parse_command(std::string_view line, const StatsLimits& limits) {
  Command c;
  auto w = words(line);
  if (w.empty()) return c;
  auto error = [&c](std::string message) {
    c.kind = CommandKind::kError;
    c.error = std::move(message);
    return c;
  };
  auto no_arguments = [&](CommandKind kind) {
    if (w.size() > 1) return error(std::string(w[0]) + " takes no arguments");
    c.kind = kind;
    return c;
  };
  if (w[0] == "stats") return no_arguments(CommandKind::kStats);
  if (w[0] == "metrics") return no_arguments(CommandKind::kMetrics);
  if (w[0] == "help") return no_arguments(CommandKind::kHelp);
  if (w[0] == "schema") return no_arguments(CommandKind::kSchema);
  if (w[0] == "quit" || w[0] == "exit") return no_arguments(CommandKind::kQuit);
  if (w[0] == "watch") {
    std::string usage = "usage: watch MS, with MS from " + watch_range(limits);
    if (w.size() != 2) return error(usage);
    int64_t ms = 0;
    auto [end, ec] = std::from_chars(w[1].data(), w[1].data() + w[1].size(), ms);
    if (ec != std::errc() || end != w[1].data() + w[1].size() || ms < limits.min_watch_ms || ms > limits.max_watch_ms)
      return error(usage);
    c.kind = CommandKind::kWatch;
    c.watch_ms = ms;
    return c;
  }
  return error("unknown command '" + printable(w[0], 40) + "' (try help)");
}

bool LineReader::feed(std::string_view data, std::vector<std::string>& lines) {
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view piece = data.substr(0, nl);
    if (partial_.size() + piece.size() > max_line_) {
      partial_.clear();
      return false;
    }
    partial_.append(piece);
    if (nl == std::string_view::npos) break;
    lines.push_back(std::exchange(partial_, {}));
    data.remove_prefix(nl + 1);
  }
  return true;
}

std::string help_text(const StatsLimits& limits) {
  std::string out = "Commands, one per line:\n";
  size_t width = 0;
  for (const auto& c : command_table(limits)) width = std::max(width, c.syntax.size());
  for (const auto& c : command_table(limits))
    out += "  " + c.syntax + std::string(width - c.syntax.size() + 2, ' ') + c.description + "\n";
  out += "\nLimits:\n";
  for (const auto& l : limit_table(limits)) out += "  " + l.name + ": " + l.value + " - " + l.description + "\n";
  out += "\nMetrics (JSON paths; [] is each element of an array):\n";
  out += metrics_text();
  return out;
}

std::string reference_markdown(const StatsLimits& limits) {
  std::string out = "### Commands\n\n| Command | Reply |\n|---|---|\n";
  for (const auto& c : command_table(limits)) out += "| `" + c.syntax + "` | " + c.description + " |\n";
  out += "\n### Limits\n\n| Limit | Value | What happens |\n|---|---|---|\n";
  for (const auto& l : limit_table(limits)) out += "| " + l.name + " | " + l.value + " | " + l.description + " |\n";
  out += "\n### Metrics\n\n";
  out += metrics_markdown();
  return out;
}

std::optional<std::string> replace_reference(std::string_view document, std::string_view reference) {
  size_t begin = document.find(kReferenceBegin);
  if (begin == std::string_view::npos) return std::nullopt;
  size_t body = begin + kReferenceBegin.size();
  size_t end = document.find(kReferenceEnd, body);
  if (end == std::string_view::npos) return std::nullopt;
  std::string out(document.substr(0, body));
  out += "\n";
  out += reference;
  out += document.substr(end);
  return out;
}

}  // namespace sp::metrics
