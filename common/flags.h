// Declarative command-line flags: each flag is declared once with its help and default, and the
// usage text is generated from those declarations, so -h can never drift from what is parsed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sp {

struct Flag {
  char short_name = 0;         // 0: long form only
  std::string long_name;       // without the leading "--"
  std::string value_name;      // empty: a switch that takes no value
  std::string help;
  std::string default_text;    // shown as "(default: ...)"; empty: nothing shown
  // Applies the value (empty for a switch). Throws std::invalid_argument with the reason.
  std::function<void(const std::string&)> apply;
  // Given twice is an error ("option '--mode' given twice": which one did the user mean?) unless
  // the flag collects its values (-s for several NICs). A switch may always repeat: it sets the
  // same thing again, or counts (-vv).
  bool repeatable = false;
};

// -h text is wrapped to this many columns, descriptions hanging under kHelpColumn.
constexpr size_t kHelpWidth = 80;
constexpr size_t kHelpColumn = 30;

class FlagParser {
 public:
  FlagParser(std::string program, std::string summary);
  FlagParser& add(Flag flag);
  // At most one optional operand after the options (e.g. proxy-top's ADDRESS): `flag.long_name`
  // is shown as its name in the usage line, `value_name` is unused. Without it, any operand is an error.
  FlagParser& operand(Flag flag);
  // Runs after every flag was applied (not after -h/--version), for rules that span flags and
  // values derived from several; throws std::invalid_argument, reported like a bad flag.
  FlagParser& then(std::function<void()> finish);

  // Parses argv. Returns an exit code when the program should exit now: 0 after -h/--help or
  // --version (text on stdout), 2 after a bad flag (on stderr, one line naming it and one
  // pointing at --help: GNU habit; the whole usage would bury the reason).
  // Returns nullopt when the program should go on.
  std::optional<int> parse(int argc, const char* const* argv);
  std::string usage() const;
  // Parse and return the error text instead of printing; nullopt means success. For tests.
  std::optional<std::string> try_parse(int argc, const char* const* argv, bool* wants_help = nullptr);

  const std::string& program() const { return program_; }

 private:
  const Flag* find_short(char c) const;
  const Flag* find_long(std::string_view name) const;

  std::string program_;
  std::string summary_;
  std::vector<Flag> flags_;
  std::optional<Flag> operand_;
  std::function<void()> finish_;
  bool help_ = false;
  bool version_ = false;
};

// Value parsers shared by every program; each throws std::invalid_argument naming the problem.
int64_t parse_int(std::string_view text, int64_t min, int64_t max);
double parse_double(std::string_view text, double min, double max);
// "1M", "64K", "1048576", "1MiB": bytes, binary multiples.
uint64_t parse_size(std::string_view text, uint64_t min, uint64_t max);
// "5", "5s", "250ms", "1.5s": a duration, returned in nanoseconds. A bare number is seconds.
int64_t parse_duration_ns(std::string_view text, int64_t min_ns, int64_t max_ns);

}  // namespace sp
