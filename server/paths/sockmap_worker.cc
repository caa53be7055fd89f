#include "server/paths/sockmap_worker.h"

#include <bpf/libbpf.h>
#include <sys/epoll.h>

#include <algorithm>
#include <string>
#include <system_error>

#include "common/clock.h"
#include "common/fd_reserve.h"
#include "metrics/proc.h"
#include "server/paths/bpf/relay_session.h"
#include "server/paths/tcp_memory_guard.h"

namespace sp {
namespace {

constexpr int64_t kSyncEveryNs = 100 * kNsPerMs;
// The kernel queues are measured every this many syncs: six system calls per session.
constexpr unsigned kSyncsPerQueueMeasure = 10;
// A burst of sessions reads the kernel's TCP memory once per this, not once per session.
constexpr int64_t kPagesFreshNs = 10 * kNsPerMs;

std::optional<int64_t> as_signed(std::optional<uint64_t> pages) {
  return pages ? std::optional<int64_t>(static_cast<int64_t>(*pages)) : std::nullopt;
}

void set_gauge(metrics::Counter& gauge, uint64_t now) {
  uint64_t shown = gauge.get();
  if (now > shown) gauge.add(now - shown);
  if (now < shown) gauge.sub(shown - now);
}

}  // namespace

SockmapWorker::SockmapWorker(Sockmap& map, int worker, EventLoop& loop, metrics::WorkerCounters& counters,
                             size_t memory_budget, TcpMemoryGuard& tcp_memory)
    : map_(map),
      worker_(worker),
      loop_(loop),
      counters_(counters),
      tcp_memory_(tcp_memory),
      wide_(memory_budget, kWideSessionCost, tcp_memory.first_mark()) {
  up_ = map_.bytes(counter());  // what an earlier worker of this index counted is not ours
  down_ = map_.bytes(counter() + 1);
  trims_ = map_.trims(ring());
  int err = 0;
  ring_fd_ = map_.create_ring(ring(), &err);
  if (!ring_fd_) throw std::system_error(err, std::generic_category(), "creating the sockmap event ring");
  ring_ = ring_buffer__new(ring_fd_.get(), &SockmapWorker::on_ring_event, this, nullptr);
  if (!ring_) throw std::system_error(errno, std::generic_category(), "ring_buffer__new");
  loop_.add(ring_fd_.get(), EPOLLIN | EPOLLET, this);
}

SockmapWorker::~SockmapWorker() {
  if (timer_) loop_.cancel(timer_);
  loop_.remove(ring_fd_.get());
  ring_buffer__free(ring_);
}

bool SockmapWorker::admit_session() { return tcp_memory_.admit(tcp_pages()); }

void SockmapWorker::session_started(SockmapSession* relay, const Sockmap::Keys& keys) {
  bool first = relays_.empty();
  relays_[keys.client] = relay;
  relays_[keys.remote] = relay;
  if (first) arm();
}

bool SockmapWorker::admit_wide(SockmapSession* session) {
  if (!wide_.admit(session, tcp_pages())) return false;
  counters_.sockmap_widened.add();
  publish_wide_sessions();
  return true;
}

void SockmapWorker::session_ended(const Sockmap::Keys& keys) {
  sync();
  if (auto it = relays_.find(keys.client); it != relays_.end()) {
    wide_.remove(it->second);
    publish_wide_sessions();
  }
  relays_.erase(keys.client);
  relays_.erase(keys.remote);
  if (relays_.empty()) {
    set_gauge(counters_.sockmap_kernel_queued_bytes, 0);
    if (timer_) loop_.cancel(timer_);
    timer_ = 0;
  }
}

void SockmapWorker::sync() {
  uint64_t up = map_.bytes(counter()), down = map_.bytes(counter() + 1);
  if (up > up_) counters_.bytes_in.add(up - up_);
  if (down > down_) counters_.bytes_out.add(down - down_);
  up_ = std::max(up, up_);
  down_ = std::max(down, down_);
  if (uint64_t trims = map_.trims(ring()); trims > trims_) {
    counters_.sockmap_trims.add(trims - trims_);
    trims_ = trims;
  }
}

void SockmapWorker::arm() {
  timer_ = loop_.run_after(kSyncEveryNs, [this] {
    timer_ = 0;
    sync();
    watch_memory();
    if (++syncs_ % kSyncsPerQueueMeasure == 0) measure_kernel_queues();
    if (!relays_.empty()) arm();
  });
}

void SockmapWorker::watch_memory() {
  if (!wide_.watching()) return;
  WideBuffers::Changes changes = wide_.update(tcp_pages());
  for (SockmapSession* session : changes.narrow) session->set_wide(false);
  for (SockmapSession* session : changes.widen) session->set_wide(true);
  counters_.sockmap_narrowed.add(changes.narrow.size());
  counters_.sockmap_widened.add(changes.widen.size());
  publish_wide_sessions();
}

void SockmapWorker::publish_wide_sessions() { set_gauge(counters_.sockmap_wide_sessions, wide_.widened()); }

void SockmapWorker::measure_kernel_queues() {
  int64_t queued = 0;
  for (const auto& [cookie, session] : relays_) queued += session->kernel_queued(cookie);  // each direction once
  set_gauge(counters_.sockmap_kernel_queued_bytes, static_cast<uint64_t>(queued));
}

std::optional<int64_t> SockmapWorker::tcp_pages() {
  int64_t now = now_ns();
  if (pages_at_ns_ == 0 || now - pages_at_ns_ > kPagesFreshNs) {
    {
      // Reading /proc makes a descriptor, which must not take a number fd_reserve::use() freed.
      fd_reserve::Allocation making_a_descriptor;
      pages_ = as_signed(metrics::proc::tcp_memory_pages());
    }
    pages_at_ns_ = now;
  }
  return pages_;
}

void SockmapWorker::on_events(uint32_t) { ring_buffer__consume(ring_); }

int SockmapWorker::on_ring_event(void* self, void* data, size_t size) {
  auto* worker = static_cast<SockmapWorker*>(self);
  if (size < sizeof(sp_relay_event)) return 0;
  const auto* event = static_cast<const sp_relay_event*>(data);
  // A session that ended since the program wrote the event is gone from the table: nothing to do.
  if (auto it = worker->relays_.find(event->cookie); it != worker->relays_.end()) it->second->told(event->cookie, event->what);
  return 0;
}

}  // namespace sp
