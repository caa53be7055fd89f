// docs/stats.md carries the generated reference (commands, limits, every metric) of the current
// tables; this fails when a metric is added or changed without regenerating it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "metrics/prometheus.h"
#include "metrics/stats_protocol.h"

namespace sp::metrics {
namespace {

TEST(StatsDocs, ReferenceInDocsMatchesTheTables) {
  std::filesystem::path doc = std::filesystem::path(__FILE__).parent_path().parent_path() / "docs" / "stats.md";
  std::ifstream in(doc);
  ASSERT_TRUE(in) << "cannot read " << doc;
  std::stringstream text;
  text << in.rdbuf();
  auto expected = replace_reference(text.str(), reference_markdown(StatsLimits{}));
  ASSERT_TRUE(expected) << doc << " lacks the generated-reference markers";
  EXPECT_TRUE(*expected == text.str()) << doc << " is out of date: run build/bin/stats_doc --write docs/stats.md";
}

TEST(StatsDocs, PrometheusRenamesInDocsMatchTheSpelling) {
  std::filesystem::path doc = std::filesystem::path(__FILE__).parent_path().parent_path() / "docs" / "prometheus.md";
  std::ifstream in(doc);
  ASSERT_TRUE(in) << "cannot read " << doc;
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find(prometheus_renames_markdown()), std::string::npos)
      << doc << " lacks the current rename table: paste the output of build/bin/stats_doc --prometheus-renames";
}

}  // namespace
}  // namespace sp::metrics
