#include "server/shell/session.h"

#include "common/log.h"

namespace sp {

void session_failed(WorkerEnv& env, Session* session, const std::exception& error) {
  env.counters.session_errors.add();
  static log::RateLimit limit;  // shared by the workers: one line a second in all
  log::Fields fields;
  if (std::string who = session ? session->client() : std::string(); !who.empty()) fields.push_back({"client", who});
  log::warn_limited(limit, fields, "worker-", env.worker_id, ": closing a session: ", error.what());
  if (session) session->fail(error);
}

}  // namespace sp
