#include "server/shell/worker.h"

#include <pthread.h>
#include <sched.h>

#include <string>
#include <vector>

#include "common/log.h"

namespace sp {

Worker::Worker(int id, const WorkerOptions& options, const WorkerProgramFactory& program,
               std::vector<Acceptor::Listening> own_listeners, Admission* admission)
    : id_(id), own_listeners_(std::move(own_listeners)), admission_(admission) {
  thread_ = std::make_unique<LoopThread>([this, options, &program](EventLoop& loop) {
    std::string name = "worker-" + std::to_string(id_);
    pthread_setname_np(pthread_self(), name.c_str());
    if (options.pin_cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(options.pin_cpu, &set);
      if (int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set))
        log::warn("cannot pin ", name, " to CPU ", options.pin_cpu, ": ", log::errno_text(rc));
    }
    loop.set_busy_poll(options.busy_poll_ns);
    env_ = std::make_unique<WorkerEnv>(WorkerEnv{id_, loop, counters_, [this](Session* s) { session_finished(s); }});
    program_ = program(*env_);
    mode_effective_ = program_->mode_effective();
  });
}

void Worker::start_accepting() {
  thread_->loop().post([this] {
    if (own_listeners_.empty() || acceptor_) return;
    acceptor_ = std::make_unique<Acceptor>(env_->loop, std::move(own_listeners_), [this](Fd& client, size_t listener) {
      Admission::Ticket ticket;
      Admission::Verdict verdict = admission_ ? admission_->admit(client.get(), &ticket) : Admission::Verdict::kAdmitted;
      if (verdict == Admission::Verdict::kAdmitted) start_session(std::move(client), listener, ticket);
      return verdict;
    });
  });
}

Worker::~Worker() {
  thread_->stop_and_join();
  acceptor_.reset();
  sessions_.clear();  // the loop is stopped: safe to tear sessions down from this thread
  program_.reset();   // after the sessions: what they hold (a ring's requests, pooled buffers) is its
}

void Worker::hand_off(Fd client, size_t listener, const Admission::Ticket& ticket) {
  handed_off_.fetch_add(1, std::memory_order_relaxed);
  // Posted tasks must be copyable (std::function), an Fd is not: a shared owner keeps the socket
  // owned, so a task that never runs (the loop stopped first) still closes it.
  auto owned = std::make_shared<Fd>(std::move(client));
  thread_->loop().post([this, owned, listener, ticket] { start_session(std::move(*owned), listener, ticket); });
}

void Worker::abort_all() {
  thread_->loop().post([this] {
    std::vector<Session*> live;
    live.reserve(sessions_.size());
    for (auto& [ptr, owned] : sessions_) live.push_back(ptr);
    for (Session* s : live) s->abort();
  });
}

void Worker::stop_accepting(std::function<void()> closed) {
  thread_->loop().post([this, closed] {
    if (acceptor_) acceptor_->close_listeners();
    if (closed) closed();
  });
}

void Worker::stop() { thread_->stop_and_join(); }

void Worker::start_session(Fd client, size_t listener, const Admission::Ticket& ticket) {
  // The posted-task boundary: a failure here closes this session, never the worker.
  Session* raw = nullptr;
  try {
    std::unique_ptr<Session> session = program_->make_session(std::move(client), listener);
    raw = session.get();
    sessions_.emplace(raw, Live{std::move(session), ticket});
    raw->start();
  } catch (const std::exception& e) {
    session_failed(*env_, raw, e);
    if (raw) session_finished(raw);  // no-op once abort() reported it finished
    else if (admission_) admission_->release(ticket);  // no session ever held the slot
  }
}

void Worker::session_finished(Session* session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  // Events for this session may still be queued in the current batch: destroy it afterwards.
  env_->loop.dispose(std::move(it->second.session));
  Admission::Ticket ticket = it->second.ticket;
  sessions_.erase(it);
  if (admission_) admission_->release(ticket);  // its sockets are closed: the slots are free
  if (sessions_.empty()) program_->idle();
}

}  // namespace sp
