#include "server/proxy/backend_pool.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <chrono>
#include <stdexcept>

#include "common/log.h"
#include "common/socket.h"

namespace sp {
namespace {

// splitmix64's finalizer: every input bit reaches every output bit.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

BackendSpec parse_backend(const std::string& text, uint16_t default_port) {
  BackendSpec spec;
  size_t comma = text.find(',');
  spec.where = parse_host_port(text.substr(0, comma), default_port);
  if (spec.where.port == 0)
    throw std::invalid_argument(text + ": remote port 0: nothing can be reached there (-r HOST:PORT, -c PORT)");
  if (comma == std::string::npos) return spec;
  std::string option = text.substr(comma + 1);
  constexpr std::string_view kWeight = "weight=";
  if (option.rfind(kWeight, 0) != 0) throw std::invalid_argument(text + ": unknown option '" + option + "' (weight=N)");
  std::string_view digits = std::string_view(option).substr(kWeight.size());
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), spec.weight);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || spec.weight > 1000)
    throw std::invalid_argument(text + ": the weight is not a number from 0 to 1000");
  return spec;
}

Backend::Backend(const BackendSpec& spec, Remote::Resolver resolver)
    : spec_(spec), remote_(spec.where, std::move(resolver)) {
  counters_.up.add_shared(1);
  counters_.weight.add_shared(spec.weight);
}

BackendPool::BackendPool(const std::vector<BackendSpec>& specs, BackendBalance balance, BackendChecks checks,
                         Remote::Resolver resolver)
    : balance_(balance), checks_(checks) {
  if (specs.empty()) throw std::invalid_argument("no backend");
  for (const BackendSpec& spec : specs) backends_.push_back(std::make_unique<Backend>(spec, resolver));
  // One round of the schedule: each backend appears at the turns where its share of the round
  // crosses a whole number, so the backends take turns through the round (weights 2, 2 and 1:
  // 0 1 0 1 2) instead of each taking its whole share in a row (0 0 1 1 2).
  unsigned total = 0;
  for (const auto& b : backends_) total += b->spec().weight;
  for (unsigned slot = 0; slot < total; ++slot)
    for (size_t i = 0; i < backends_.size(); ++i) {
      unsigned w = backends_[i]->spec().weight;
      if (w && (uint64_t{slot} * w) / total != (uint64_t{slot + 1} * w) / total) schedule_.push_back(i);
    }
  if (checks_.interval_ns > 0) checker_ = std::thread([this] { checker_main(); });
}

BackendPool::~BackendPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_checks_ = true;
  stop_wanted_.notify_all();
  if (checker_.joinable()) checker_.join();
}

size_t BackendPool::index_of(const Backend* b) const {
  for (size_t i = 0; i < backends_.size(); ++i)
    if (backends_[i].get() == b) return i;
  return 0;
}

Backend* BackendPool::pick(const AddressBytes& client, uint64_t tried) {
  size_t n = backends_.size();
  auto untried = [&](size_t i) { return i >= 64 || !(tried & (uint64_t{1} << i)); };
  // Candidates: untried, up and weighted; else untried and up; else untried at all.
  auto usable = [&](size_t i, int level) {
    const Backend& b = *backends_[i];
    if (!untried(i)) return false;
    if (level == 0) return b.up() && b.spec().weight > 0;
    if (level == 1) return b.up();
    return true;
  };
  for (int level = 0; level < 3; ++level) {
    Backend* best = nullptr;
    switch (balance_) {
      case BackendBalance::kRoundRobin: {
        uint64_t start = turn_.fetch_add(1, std::memory_order_relaxed);
        size_t len = schedule_.empty() ? n : schedule_.size();
        for (size_t k = 0; k < len && !best; ++k) {
          size_t i = schedule_.empty() ? (start + k) % n : schedule_[(start + k) % len];
          if (usable(i, level)) best = backends_[i].get();
        }
        for (size_t i = 0; i < n && !best; ++i)  // weight 0 is not in the schedule
          if (usable(i, level)) best = backends_[i].get();
        break;
      }
      case BackendBalance::kLeastConnections: {
        double best_load = 0;
        for (size_t i = 0; i < n; ++i) {
          if (!usable(i, level)) continue;
          const Backend& b = *backends_[i];
          double load = static_cast<double>(b.counters().active.get() + 1) / std::max(1u, b.spec().weight);
          if (!best || load < best_load) best = backends_[i].get(), best_load = load;
        }
        break;
      }
      case BackendBalance::kSourceHash: {
        // Weighted rendezvous hashing: each client address ranks the backends by a hash of both, so
        // the clients of a backend that goes down move and nobody else's does.
        uint64_t address = 1469598103934665603ULL;  // FNV-1a of the address, then mixed per backend
        for (uint8_t byte : client) address = (address ^ byte) * 1099511628211ULL;
        double best_score = 0;
        for (size_t i = 0; i < n; ++i) {
          if (!usable(i, level)) continue;
          double u = (static_cast<double>(mix(address ^ (i * 0x9E3779B97F4A7C15ULL)) >> 11) + 0.5) * 0x1p-53;
          double score = -std::max(1u, backends_[i]->spec().weight) / std::log(u);
          if (!best || score > best_score) best = backends_[i].get(), best_score = score;
        }
        break;
      }
    }
    if (best) return best;
  }
  return nullptr;
}

void BackendPool::connected(Backend& b) {
  b.counters_.connects.add_shared();
  b.counters_.active.add_shared();
  b.failures_in_a_row_.store(0, std::memory_order_relaxed);
  // Without active checks, a backend taken out comes back when a session finds it working.
  if (!b.up() && checks_.interval_ns == 0) mark(b, true, "a connect worked");
}

void BackendPool::failed(Backend& b) {
  b.counters_.connect_failures.add_shared();
  unsigned in_a_row = b.failures_in_a_row_.fetch_add(1, std::memory_order_relaxed) + 1;
  // One backend alone is tried whatever its state: marking it down would only add log lines.
  if (backends_.size() > 1 && in_a_row >= checks_.fall && b.up())
    mark(b, false, std::to_string(in_a_row) + " connects in a row failed");
}

void BackendPool::finished(Backend& b) { b.counters_.active.sub_shared(); }

void BackendPool::mark(Backend& b, bool up, const std::string& why) {
  if (b.up_.exchange(up, std::memory_order_relaxed) == up) return;  // another thread said it first
  if (up) {
    b.counters_.up.add_shared(1);
  } else {
    b.counters_.up.sub_shared(1);
    b.counters_.went_down.add_shared();
  }
  b.failures_in_a_row_.store(0, std::memory_order_relaxed);
  log::warn("backend ", b.spec().where.to_string(), " is ", up ? "up" : "down", ": ", why);
}

bool BackendPool::check(Backend& b) {
  auto addresses = b.remote().current();
  int timeout_ms = static_cast<int>(std::max<int64_t>(1, checks_.timeout_ns / 1'000'000));
  for (const SocketAddress& address : *addresses) {
    try {
      connect_blocking(address, timeout_ms);  // closed at once: a TCP check is the handshake
      return true;
    } catch (const std::exception& e) {
      log::debug("check of ", b.spec().where.to_string(), ": ", e.what());
    }
  }
  b.remote().refresh();
  return false;
}

void BackendPool::checker_main() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    for (auto& backend : backends_) {
      if (stop_checks_.load(std::memory_order_relaxed)) break;  // each check may take its timeout
      Backend& b = *backend;
      bool passed = check(b);
      (passed ? b.counters_.checks_passed : b.counters_.checks_failed).add_shared();
      if (passed) {
        b.failures_in_a_row_.store(0, std::memory_order_relaxed);
        if (!b.up() && ++b.checks_passed_in_a_row_ >= checks_.rise)
          mark(b, true, std::to_string(checks_.rise) + " checks in a row passed");
      } else {
        b.checks_passed_in_a_row_ = 0;
        unsigned in_a_row = b.failures_in_a_row_.fetch_add(1, std::memory_order_relaxed) + 1;
        if (in_a_row >= checks_.fall && b.up()) mark(b, false, std::to_string(in_a_row) + " checks in a row failed");
      }
    }
    lock.lock();
    // Bounded: every wait ends at stopping_ or after one interval.
    stop_wanted_.wait_for(lock, std::chrono::nanoseconds(checks_.interval_ns), [this] { return stopping_; });
  }
}

std::string BackendPool::describe() const {
  std::string out;
  for (const auto& b : backends_) {
    out += (out.empty() ? "" : ", ") + b->spec().where.to_string();
    if (b->spec().weight != 1) out += " (weight " + std::to_string(b->spec().weight) + ")";
  }
  return out;
}

}  // namespace sp
