#include "common/flags.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "spliceproxy_version.h"

namespace sp {

FlagParser::FlagParser(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {
  // Built-ins have no apply function: try_parse recognises them, so a moved parser stays valid.
  add({'h', "help", "", "print this help and exit", "", nullptr});
  add({0, "version", "", "print the version and exit", "", nullptr});
}

FlagParser& FlagParser::add(Flag flag) {
  flags_.push_back(std::move(flag));
  return *this;
}

FlagParser& FlagParser::operand(Flag flag) {
  operand_ = std::move(flag);
  return *this;
}

FlagParser& FlagParser::then(std::function<void()> finish) {
  finish_ = std::move(finish);
  return *this;
}

const Flag* FlagParser::find_short(char c) const {
  for (const auto& f : flags_)
    if (f.short_name == c) return &f;
  return nullptr;
}

const Flag* FlagParser::find_long(std::string_view name) const {
  for (const auto& f : flags_)
    if (f.long_name == name) return &f;
  return nullptr;
}

namespace {

std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ' || text[i] == '\n') {
      ++i;
      continue;
    }
    size_t end = text.find_first_of(" \n", i);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(i, end - i));
    i = end;
  }
  return out;
}

// `lead` (e.g. "  -p, --port PORT"), then `chunks` filled up to kHelpWidth with continuation
// lines starting at `column`; a lead reaching the column gets a line of its own. A chunk wider
// than the room overflows rather than being cut: a path must stay whole to be copied.
std::string wrap(std::string lead, const std::vector<std::string>& chunks, size_t column) {
  std::string out;
  if (column > 0 && lead.size() >= column) {
    out += lead + "\n";
    lead.clear();
  }
  std::string line = std::move(lead);
  line.resize(column, ' ');
  bool empty = true;
  for (const std::string& chunk : chunks) {
    if (!empty && line.size() + 1 + chunk.size() > kHelpWidth) {
      out += line + "\n";
      line.assign(column, ' ');
      empty = true;
    }
    if (!empty) line += ' ';
    line += chunk;
    empty = false;
  }
  return out + line + "\n";
}

// The help's words, then "(default: X)" kept on one line when it fits, so it reads at a glance.
std::vector<std::string> description(const Flag& f) {
  std::vector<std::string> chunks = words(f.help);
  if (f.default_text.empty()) return chunks;
  std::string def = "(default: " + f.default_text + ")";
  if (def.size() <= kHelpWidth - kHelpColumn) {
    chunks.push_back(def);
  } else {
    for (auto& w : words(def)) chunks.push_back(std::move(w));
  }
  return chunks;
}

}  // namespace

std::string FlagParser::usage() const {
  // "Usage:" and "Options:" spelled as GNU tools do: help2man reads them as SYNOPSIS and OPTIONS
  // when it makes the man pages (dist/CMakeLists.txt).
  std::string head = "Usage: " + program_ + " [options]";
  if (operand_) head += " [" + operand_->long_name + "]";
  std::string out = head + "\n" + wrap("", words(summary_), 0) + "\n";
  if (operand_) out += wrap("  " + operand_->long_name, description(*operand_), kHelpColumn) + "\n";
  out += "Options:\n";
  for (const auto& f : flags_) {
    std::string left = f.short_name ? std::string("  -") + f.short_name + ", " : std::string("      ");
    left += "--" + f.long_name;
    if (!f.value_name.empty()) left += " " + f.value_name;
    out += wrap(left, description(f), kHelpColumn);
  }
  return out;
}

std::optional<std::string> FlagParser::try_parse(int argc, const char* const* argv, bool* wants_help) {
  std::vector<const Flag*> given;
  auto apply = [&](const Flag& f, const std::string& shown, const std::string& value) -> std::optional<std::string> {
    if (!f.value_name.empty() && !f.repeatable && (!operand_ || &f != &*operand_)) {
      if (std::find(given.begin(), given.end(), &f) != given.end()) {
        std::string name = f.short_name ? std::string("-") + f.short_name + "/--" + f.long_name : "--" + f.long_name;
        return "option '" + name + "' given twice";
      }
      given.push_back(&f);
    }
    if (!f.apply) {
      (f.long_name == "help" ? help_ : version_) = true;
      return std::nullopt;
    }
    try {
      f.apply(value);
    } catch (const std::exception& e) {
      return shown + ": " + e.what();
    }
    return std::nullopt;
  };
  bool operand_seen = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      if (i + 1 < argc) return std::string("unexpected argument '") + argv[i + 1] + "'";
      break;
    }
    if (arg.size() > 2 && arg.substr(0, 2) == "--") {
      auto body = arg.substr(2);
      auto eq = body.find('=');
      auto name = body.substr(0, eq);
      const Flag* f = find_long(name);
      if (!f) return "unknown option '--" + std::string(name) + "'";
      std::string shown = "--" + f->long_name;
      std::string value;
      if (f->value_name.empty()) {
        if (eq != std::string_view::npos) return shown + " takes no value";
      } else if (eq != std::string_view::npos) {
        value = std::string(body.substr(eq + 1));
      } else {
        if (i + 1 >= argc) return shown + " needs a value (" + f->value_name + ")";
        value = argv[++i];
      }
      if (auto err = apply(*f, shown, value)) return err;
      continue;
    }
    if (arg.size() >= 2 && arg[0] == '-') {
      for (size_t k = 1; k < arg.size(); ++k) {
        const Flag* f = find_short(arg[k]);
        if (!f) return std::string("unknown option '-") + arg[k] + "'";
        std::string shown = std::string("-") + f->short_name;
        if (f->value_name.empty()) {
          if (auto err = apply(*f, shown, "")) return err;
          continue;
        }
        std::string value;
        if (k + 1 < arg.size()) value = std::string(arg.substr(k + 1));
        else if (i + 1 < argc) value = argv[++i];
        else return shown + " needs a value (" + f->value_name + ")";
        if (auto err = apply(*f, shown, value)) return err;
        break;
      }
      continue;
    }
    if (operand_ && !operand_seen) {
      operand_seen = true;
      if (auto err = apply(*operand_, operand_->long_name, std::string(arg))) return err;
      continue;
    }
    return "unexpected argument '" + std::string(arg) + "'";
  }
  if (wants_help) *wants_help = help_ || version_;
  if (finish_ && !help_ && !version_) {
    try {
      finish_();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
  }
  return std::nullopt;
}

std::optional<int> FlagParser::parse(int argc, const char* const* argv) {
  if (auto err = try_parse(argc, argv)) {
    std::fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", program_.c_str(), err->c_str(),
                 program_.c_str());
    return 2;
  }
  if (help_) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (version_) {
    std::printf("%s %s\n", program_.c_str(), SPLICEPROXY_VERSION);
    return 0;
  }
  return std::nullopt;
}

int64_t parse_int(std::string_view text, int64_t min, int64_t max) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min || value > max)
    throw std::invalid_argument("invalid value '" + std::string(text) + "' (expected an integer " +
                                std::to_string(min) + "-" + std::to_string(max) + ")");
  return value;
}

double parse_double(std::string_view text, double min, double max) {
  std::string s(text);
  char* end = nullptr;
  double value = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(value) || value < min || value > max) {
    std::ostringstream msg;
    msg << "invalid value '" << s << "' (expected a number " << min << "-" << max << ")";
    throw std::invalid_argument(msg.str());
  }
  return value;
}

uint64_t parse_size(std::string_view text, uint64_t min, uint64_t max) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  std::string_view suffix = text.substr(digits);
  uint64_t mult = 1;
  if (suffix == "" || suffix == "B") mult = 1;
  else if (suffix == "K" || suffix == "k" || suffix == "KiB") mult = 1ULL << 10;
  else if (suffix == "M" || suffix == "m" || suffix == "MiB") mult = 1ULL << 20;
  else if (suffix == "G" || suffix == "g" || suffix == "GiB") mult = 1ULL << 30;
  else digits = 0;  // forces the error below
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, value);
  bool ok = digits > 0 && ec == std::errc() && end == text.data() + digits && value <= max / mult;
  if (ok) value *= mult;
  if (!ok || value < min || value > max)
    throw std::invalid_argument("invalid size '" + std::string(text) + "' (expected " + std::to_string(min) +
                                "-" + std::to_string(max) + " bytes; K, M, G suffixes allowed)");
  return value;
}

int64_t parse_duration_ns(std::string_view text, int64_t min_ns, int64_t max_ns) {
  std::string_view number = text;
  double scale = 1e9;
  if (text.size() > 2 && text.substr(text.size() - 2) == "ms") {
    number = text.substr(0, text.size() - 2);
    scale = 1e6;
  } else if (text.size() > 2 && text.substr(text.size() - 2) == "us") {
    number = text.substr(0, text.size() - 2);
    scale = 1e3;
  } else if (text.size() > 1 && text.back() == 's') {
    number = text.substr(0, text.size() - 1);
  }
  std::string s(number);
  char* end = nullptr;
  double value = std::strtod(s.c_str(), &end);
  double ns = value * scale;
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(ns) || ns < static_cast<double>(min_ns) ||
      ns > static_cast<double>(max_ns)) {
    std::ostringstream msg;
    msg << "invalid duration '" << text << "' (expected " << min_ns / 1e9 << "-" << max_ns / 1e9
        << " seconds, e.g. 5, 2.5s, 250ms)";
    throw std::invalid_argument(msg.str());
  }
  return static_cast<int64_t>(ns);
}

}  // namespace sp
