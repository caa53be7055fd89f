#include "server/paths/uring_features.h"

#include <sys/mman.h>

#include <algorithm>
#include <stdexcept>

#include "server/paths/uring_abi.h"

namespace sp {
namespace {

constexpr UringFeature kOrder[] = {kUringDeferTaskrun, kUringBatchWait, kUringIncremental};

}  // namespace

const char* uring_feature_name(UringFeature feature) {
  switch (feature) {
    case kUringDeferTaskrun: return "defer_taskrun";
    case kUringBatchWait: return "batch_wait";
    case kUringIncremental: return "incremental";
  }
  return "?";
}

const char* uring_feature_since(UringFeature feature) {
  switch (feature) {
    case kUringDeferTaskrun: return "Linux 6.1";
    case kUringBatchWait: return "Linux 6.12";
    case kUringIncremental: return "Linux 6.12";
  }
  return "?";
}

std::string uring_feature_list(uint32_t features) {
  std::string out;
  for (UringFeature f : kOrder) {
    if (!(features & f)) continue;
    if (!out.empty()) out += ',';
    out += uring_feature_name(f);
  }
  return out;
}

uint32_t parse_uring_features(std::string_view list) {
  if (list == "all") return kUringAllFeatures;
  if (list == "none") return 0;
  uint32_t features = 0;
  for (size_t at = 0; at <= list.size();) {
    size_t comma = std::min(list.find(',', at), list.size());
    std::string_view word = list.substr(at, comma - at);
    at = comma + 1;
    bool known = false;
    for (UringFeature f : kOrder)
      if (word == uring_feature_name(f)) features |= f, known = true;
    if (!known)
      throw std::invalid_argument("unknown io_uring feature '" + std::string(word) + "' (expected all, none or " +
                                  uring_feature_list(kUringAllFeatures) + ")");
  }
  return features;
}

uint32_t probe_uring_features() {
  uint32_t features = 0;
  io_uring ring{};
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  if (io_uring_queue_init_params(8, &ring, &params) == 0) {
    features |= kUringDeferTaskrun;
  } else {
    params = io_uring_params{};
    if (io_uring_queue_init_params(8, &ring, &params) < 0) return 0;
  }
  if (params.features & IORING_FEAT_MIN_TIMEOUT) features |= kUringBatchWait;
  void* mem = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem != MAP_FAILED) {
    if (uring_abi::register_buf_ring(ring, mem, 8, 0, IOU_PBUF_RING_INC) == 0) features |= kUringIncremental;
    ::munmap(mem, 4096);
  }
  io_uring_queue_exit(&ring);
  return features;
}

}  // namespace sp
