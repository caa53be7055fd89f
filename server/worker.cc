#include "server/worker.h"

#include <pthread.h>
#include <sched.h>

#include <string>
#include <vector>

#include "common/log.h"

namespace sp {

Worker::Worker(int id, const WorkerOptions& options, SessionFactory factory,
               std::vector<Acceptor::Listening> own_listeners, Admission* admission)
    : id_(id),
      factory_(std::move(factory)),
      buffers_(options.buffer_size, options.max_pooled, counters_),
      pipes_(options.pipe_size, options.max_pooled, counters_),
      pump_context_{pipes_, buffers_, counters_, options.memory_budget, BulkChooser::kProbeBytes, &auto_verdict_},
      own_listeners_(std::move(own_listeners)),
      admission_(admission) {
  thread_ = std::make_unique<LoopThread>([this, options](EventLoop& loop) {
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
    if (options.uring) {
      // The process probed io_uring before starting workers; a failure here is a resource limit.
      try {
        uring_ = std::make_unique<Uring>(options.uring_options, counters_);
        loop.set_sleeper(uring_.get());
      } catch (const std::exception& e) {
        log::error(name, ": ", e.what(), "; this worker relays with read/write");
      }
    }
    if (options.sockmap) {
      try {
        sockmap_ = std::make_unique<SockmapWorker>(*options.sockmap, id_, loop, counters_);
      } catch (const std::exception& e) {
        log::error(name, ": ", e.what(), "; this worker relays with splice");
      }
    }
    env_ = std::make_unique<WorkerEnv>(WorkerEnv{id_, loop, counters_, pump_context_, uring_.get(), sockmap_.get(),
                                                 [this](Session* s) { session_finished(s); }});
  });
}

void Worker::start_accepting() {
  thread_->loop().post([this] {
    if (own_listeners_.empty() || acceptor_) return;
    acceptor_ = std::make_unique<Acceptor>(env_->loop, std::move(own_listeners_), [this](Fd client, size_t listener) {
      if (admission_ && !admission_->try_admit()) return false;
      start_session(std::move(client), listener);
      return true;
    });
  });
}

Worker::~Worker() {
  thread_->stop_and_join();
  acceptor_.reset();
  sessions_.clear();  // the loop is stopped: safe to tear sessions down from this thread
  uring_.reset();     // after the sessions: exiting the ring cancels what they left in flight
  sockmap_.reset();
}

void Worker::hand_off(Fd client, size_t listener) {
  handed_off_.fetch_add(1, std::memory_order_relaxed);
  // Posted tasks must be copyable (std::function), an Fd is not: a shared owner keeps the socket
  // owned, so a task that never runs (the loop stopped first) still closes it.
  auto owned = std::make_shared<Fd>(std::move(client));
  thread_->loop().post([this, owned, listener] { start_session(std::move(*owned), listener); });
}

void Worker::abort_all() {
  thread_->loop().post([this] {
    std::vector<Session*> live;
    live.reserve(sessions_.size());
    for (auto& [ptr, owned] : sessions_) live.push_back(ptr);
    for (Session* s : live) s->abort();
  });
}

void Worker::stop_accepting() {
  thread_->loop().post([this] {
    if (acceptor_) acceptor_->close_listeners();
  });
}

void Worker::stop() { thread_->stop_and_join(); }

void Worker::start_session(Fd client, size_t listener) {
  // The posted-task boundary: a failure here closes this session, never the worker.
  Session* raw = nullptr;
  try {
    std::unique_ptr<Session> session = factory_(*env_, std::move(client), listener);
    raw = session.get();
    sessions_.emplace(raw, std::move(session));
    raw->start();
  } catch (const std::exception& e) {
    session_failed(*env_, raw, e);
    if (raw) session_finished(raw);  // no-op once abort() reported it finished
    else if (admission_) admission_->release();  // no session ever held the slot
  }
}

void Worker::session_finished(Session* session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  // Events for this session may still be queued in the current batch: destroy it afterwards.
  env_->loop.dispose(std::move(it->second));
  sessions_.erase(it);
  if (admission_) admission_->release();  // its sockets are closed: the slot is free
  if (sessions_.empty()) {
    // Idle worker: the pools' pipes and buffers only pin kernel and heap memory now.
    pipes_.clear();
    buffers_.clear();
  }
}

}  // namespace sp
