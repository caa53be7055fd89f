#include "server/paths/uring_features.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "common/fd.h"

#include "server/paths/uring_abi.h"

namespace sp {
namespace {

constexpr UringFeature kOrder[] = {kUringDeferTaskrun, kUringBatchWait, kUringIncremental, kUringMultishot,
                                   kUringLinkedSends, kUringConnect};

// A multishot receive over a socket pair, into a buffer ring at the start of `page` (group 1)
// whose one buffer is the page's second half: true when one byte written to the other end
// completes it with IORING_CQE_F_MORE (the request stays armed). A kernel without it fails the
// request (EINVAL) instead. The request ends with the ring, which must go before the page.
bool multishot_receives(io_uring& ring, void* page) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) return false;
  Fd a(pair[0]), b(pair[1]);
  auto* br = static_cast<io_uring_buf_ring*>(page);
  if (uring_abi::register_buf_ring(ring, br, 1, 1, 0) < 0) return false;
  io_uring_buf_ring_init(br);
  io_uring_buf_ring_add(br, static_cast<char*>(page) + 2048, 2048, 0, io_uring_buf_ring_mask(1), 0);
  io_uring_buf_ring_advance(br, 1);
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_recv_multishot(sqe, a.get(), nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = 1;
  bool armed = false;
  if (::write(b.get(), "x", 1) == 1 && io_uring_submit(&ring) == 1) {
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec limit{0, 200'000'000};
    if (io_uring_wait_cqe_timeout(&ring, &cqe, &limit) == 0) {
      armed = cqe->res == 1 && (cqe->flags & IORING_CQE_F_MORE);
      io_uring_cqe_seen(&ring, cqe);
    }
  }
  return armed;  // closing the sockets and the ring ends the request
}

}  // namespace

const char* uring_feature_name(UringFeature feature) {
  switch (feature) {
    case kUringDeferTaskrun: return "defer_taskrun";
    case kUringBatchWait: return "batch_wait";
    case kUringIncremental: return "incremental";
    case kUringMultishot: return "multishot";
    case kUringLinkedSends: return "linked_sends";
    case kUringConnect: return "connect";
  }
  return "?";
}

const char* uring_feature_since(UringFeature feature) {
  switch (feature) {
    case kUringDeferTaskrun: return "Linux 6.1";
    case kUringBatchWait: return "Linux 6.12";
    case kUringIncremental: return "Linux 6.12";
    case kUringMultishot: return "Linux 6.0";
    case kUringLinkedSends: return "Linux 5.18";
    case kUringConnect: return "Linux 5.5";
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
  // CQE_SKIP_SUCCESS came with 5.17 and a send's MSG_WAITALL with 5.18; the base (provided buffer
  // rings) needs 5.19 already.
  if (params.features & IORING_FEAT_CQE_SKIP) features |= kUringLinkedSends;
  if (io_uring_probe* probe = io_uring_get_probe_ring(&ring)) {
    if (io_uring_opcode_supported(probe, IORING_OP_CONNECT)) features |= kUringConnect;
    io_uring_free_probe(probe);
  }
  void* mem = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem != MAP_FAILED) {
    if (uring_abi::register_buf_ring(ring, mem, 8, 0, IOU_PBUF_RING_INC) == 0) features |= kUringIncremental;
    ::munmap(mem, 4096);
  }
  mem = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem != MAP_FAILED && multishot_receives(ring, mem)) features |= kUringMultishot;
  io_uring_queue_exit(&ring);
  if (mem != MAP_FAILED) ::munmap(mem, 4096);  // after the ring: the kernel held the buffer ring
  return features;
}

}  // namespace sp
