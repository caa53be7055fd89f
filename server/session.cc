#include "server/session.h"

#include "common/log.h"

namespace sp {

void session_failed(WorkerEnv& env, Session* session, const std::exception& error) {
  env.counters.session_errors.add();
  thread_local log::RateLimit limit;
  log::warn_limited(limit, "worker-", env.worker_id, ": closing a session: ", error.what());
  if (session) session->abort();
}

}  // namespace sp
