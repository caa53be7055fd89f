// The session log line's fields (server/shell/session_log.h): their order and names in text, their
// types in JSON, and the keys a refusal leaves out.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "server/shell/session_log.h"

namespace sp {
namespace {

constexpr int64_t kWhen = 1796565936'123456789;  // 2026-12-06T14:05:36.123Z

TEST(SessionLog, FieldsInOrderWithNumbers) {
  SessionRecord r;
  r.client = "127.0.0.1:40000";
  r.listener = "127.0.0.1:9998";
  r.remote = "127.0.0.1:9999";
  r.mode = "splice";
  r.bytes_to_remote = 10;
  r.bytes_to_client = 20;
  r.duration_ms = 7;
  r.end = SessionEnd::kConnectFailed;
  r.error = "Connection refused";
  std::string text = log::format_line({}, "proxy", kWhen, log::Level::kInfo, "session", session_fields(r));
  EXPECT_EQ(text,
            "2026-12-06T14:05:36.123Z proxy: info: session client=127.0.0.1:40000 listener=127.0.0.1:9998 "
            "remote=127.0.0.1:9999 mode=splice bytes_to_remote=10 bytes_to_client=20 duration_ms=7 "
            "end=connect-failed error=\"Connection refused\"\n");
  nlohmann::json j = nlohmann::json::parse(
      log::format_line({log::Format::kJson, false}, "proxy", kWhen, log::Level::kInfo, "session", session_fields(r)));
  EXPECT_EQ(j["bytes_to_client"], 20);
  EXPECT_EQ(j["duration_ms"], 7);
  EXPECT_EQ(j["end"], "connect-failed");
  // A refusal has no remote and no error: those keys are left out.
  SessionRecord refused;
  refused.client = "127.0.0.1:1";
  refused.listener = "127.0.0.1:2";
  refused.end = SessionEnd::kRefused;
  for (const auto& f : session_fields(refused)) EXPECT_NE(f.key, "error");
  EXPECT_STREQ(to_string(SessionEnd::kClientEof), "client-eof");
  EXPECT_STREQ(to_string(SessionEnd::kRemoteReset), "remote-reset");
  EXPECT_STREQ(to_string(SessionEnd::kDrain), "drain");
}

}  // namespace
}  // namespace sp
