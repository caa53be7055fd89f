// stats_doc: the generated reference of docs/stats.md (commands, limits, every metric), from the
// same tables the stats socket uses.
//   stats_doc                 print the reference
//   stats_doc --check FILE    exit 1 if FILE's generated part is out of date
//   stats_doc --write FILE    rewrite FILE's generated part
//   stats_doc --prometheus-renames   the old-to-new name table of docs/prometheus.md
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "metrics/prometheus.h"
#include "metrics/stats_protocol.h"

int main(int argc, char** argv) {
  using namespace sp::metrics;
  std::string reference = reference_markdown(StatsLimits{});
  if (argc == 2 && std::strcmp(argv[1], "--prometheus-renames") == 0) {
    std::fputs(prometheus_renames_markdown().c_str(), stdout);
    return 0;
  }
  if (argc == 1) {
    std::fputs(reference.c_str(), stdout);
    return 0;
  }
  if (argc != 3 || (std::strcmp(argv[1], "--check") != 0 && std::strcmp(argv[1], "--write") != 0)) {
    std::fprintf(stderr, "usage: stats_doc [--check FILE | --write FILE | --prometheus-renames]\n");
    return 2;
  }
  std::ifstream in(argv[2]);
  if (!in) {
    std::fprintf(stderr, "stats_doc: cannot read %s\n", argv[2]);
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto updated = replace_reference(text.str(), reference);
  if (!updated) {
    std::fprintf(stderr, "stats_doc: %s has no generated-reference markers\n", argv[2]);
    return 2;
  }
  if (std::strcmp(argv[1], "--check") == 0) {
    if (*updated == text.str()) return 0;
    std::fprintf(stderr, "stats_doc: %s is out of date; run stats_doc --write %s\n", argv[2], argv[2]);
    return 1;
  }
  std::ofstream out(argv[2], std::ios::trunc);
  out << *updated;
  return out ? 0 : 2;
}
