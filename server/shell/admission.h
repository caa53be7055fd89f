// Who may connect, decided where a connection is admitted (on the accepting thread, before the
// hand-off): the source rules (server/shell/source_rules.h), then --max-connections. What an
// admitted connection holds — a slot of the global count, a live slot of its source — is given
// back when its session has closed its sockets (on the worker).
//
// The global count is taken at admission, not when a worker starts the session: counting sessions
// once the workers had started them let a burst through (200 connects at once with a limit of 10
// served 19 to 139), because the acceptor compared a count that lagged behind every hand-off
// still queued.
//
// Thread context: admit() and release() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "common/cidr.h"
#include "server/shell/source_rules.h"

namespace sp {

class Admission {
 public:
  enum class Verdict { kAdmitted, kOverCapacity, kDenied, kOverSourceCap, kOverSourceRate };
  // What an admitted connection holds until release().
  struct Ticket {
    bool holds_source = false;
    AddressBytes source{};
  };

  // limit 0: no global limit, nothing counted; rules without any() : no source rules.
  explicit Admission(uint64_t limit, SourceRuleOptions rules = {});
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // The client's address is looked up (getpeername) only when there are source rules.
  Verdict admit(int client_fd, Ticket* ticket);
  void release(const Ticket& ticket);
  uint64_t live() const { return live_.load(std::memory_order_relaxed); }

 private:
  bool take_slot();

  const uint64_t limit_;
  std::atomic<uint64_t> live_{0};
  std::unique_ptr<SourceRules> rules_;  // null: no source rules
};

}  // namespace sp
