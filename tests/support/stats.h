// Reads a snapshot from a stats socket (the plain `stats` command over TCP), for tests.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

namespace sp::test {

// One JSON snapshot from 127.0.0.1:port; an empty object if the socket does not answer.
nlohmann::json stats_snapshot(uint16_t port);

}  // namespace sp::test
