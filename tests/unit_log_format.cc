// The log line's shapes (common/log.h): the RFC 3339 time, the JSON object with its escaping,
// the journal's priority prefix and sd-daemon's JOURNAL_STREAM rule.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/log.h"

namespace sp {
namespace {

// 2026-12-06T14:05:36.123456789Z
constexpr int64_t kWhen = 1796565936'123456789;

TEST(LogFormat, TimestampIsRfc3339UtcWithMilliseconds) {
  EXPECT_EQ(log::timestamp(kWhen), "2026-12-06T14:05:36.123Z");  // truncated, not rounded
  EXPECT_EQ(log::timestamp(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(log::timestamp(999'999'999), "1970-01-01T00:00:00.999Z");
}

TEST(LogFormat, TextLineHasTimeProgramLevelMessageAndFields) {
  std::string line = log::format_line({}, "proxy", kWhen, log::Level::kWarn, "connect 127.0.0.1:9: refused",
                                      {{"client", "127.0.0.1:5000"}, {"error", "Connection refused"}, {"n", "", false}});
  EXPECT_EQ(line,
            "2026-12-06T14:05:36.123Z proxy: warn: connect 127.0.0.1:9: refused client=127.0.0.1:5000 "
            "error=\"Connection refused\" n=\"\"\n");
}

TEST(LogFormat, JournalPrefixReplacesTheTime) {
  log::Style journal{log::Format::kText, true};
  EXPECT_EQ(log::format_line(journal, "proxy", kWhen, log::Level::kError, "x", {}), "<3>proxy: error: x\n");
  EXPECT_EQ(log::format_line(journal, "proxy", kWhen, log::Level::kWarn, "x", {}), "<4>proxy: warn: x\n");
  EXPECT_EQ(log::format_line(journal, "proxy", kWhen, log::Level::kInfo, "x", {}), "<6>proxy: info: x\n");
  EXPECT_EQ(log::format_line(journal, "proxy", kWhen, log::Level::kDebug, "x", {}), "<7>proxy: debug: x\n");
}

TEST(LogFormat, JsonLineIsOneObjectWithEscapedStrings) {
  std::string nasty = "a \"quoted\" back\\slash\nnew line\ttab \x01 and \xff bad UTF-8";
  std::string line = log::format_line({log::Format::kJson, false}, "proxy", kWhen, log::Level::kInfo, nasty,
                                      {{"client", "[::1]:5000"}, log::number_field("bytes_to_remote", 42), {"k\"ey", nasty}});
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
  EXPECT_EQ(line.rfind("{\"ts\":\"2026-12-06T14:05:36.123Z\",\"level\":\"info\",\"program\":\"proxy\",\"msg\":", 0), 0u)
      << line;
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["msg"], "a \"quoted\" back\\slash\nnew line\ttab \x01 and \xEF\xBF\xBD bad UTF-8");
  EXPECT_EQ(j["client"], "[::1]:5000");
  EXPECT_EQ(j["bytes_to_remote"], 42);  // a number, not a string
  EXPECT_TRUE(j.contains("k\"ey"));
  EXPECT_NE(line.find("\\u0001"), std::string::npos) << line;
  // The journal changes text lines only: a JSON line keeps its time.
  EXPECT_EQ(log::format_line({log::Format::kJson, true}, "proxy", kWhen, log::Level::kInfo, "x", {}),
            "{\"ts\":\"2026-12-06T14:05:36.123Z\",\"level\":\"info\",\"program\":\"proxy\",\"msg\":\"x\"}\n");
}

TEST(LogFormat, ParseFormat) {
  EXPECT_EQ(log::parse_format("text"), log::Format::kText);
  EXPECT_EQ(log::parse_format("json"), log::Format::kJson);
  EXPECT_THROW(log::parse_format("JSON"), std::invalid_argument);
}

TEST(LogFormat, JournalStreamMustMatchTheDescriptor) {
  char path[] = "/tmp/unit_log_XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  std::string mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  EXPECT_TRUE(log::journal_stream_matches(mine.c_str(), fd));
  std::string other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
  EXPECT_FALSE(log::journal_stream_matches(other.c_str(), fd));  // stderr redirected by a parent
  EXPECT_FALSE(log::journal_stream_matches(nullptr, fd));
  EXPECT_FALSE(log::journal_stream_matches("", fd));
  EXPECT_FALSE(log::journal_stream_matches((mine + "x").c_str(), fd));
  EXPECT_FALSE(log::journal_stream_matches("12", fd));
  ::close(fd);
}

}  // namespace
}  // namespace sp
