// Runs tcp_ping_client: starts the worker threads, holds the start barrier, times the warmup,
// the run and the intervals, handles SIGINT/SIGTERM, merges the results and prints them.
#pragma once

#include "client/options.h"

namespace sp::client {

// Returns the process exit code: 0 when every byte checked out and no connection failed, 1 on
// any error (mismatch, short read, reset, connect failure) or when the server cannot be resolved.
int run(const Options& options);

}  // namespace sp::client
