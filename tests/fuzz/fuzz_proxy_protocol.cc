// libFuzzer target: the PROXY protocol reader (what a load balancer in front sends first). It must
// stay inside the bytes it is given, never take more than a header may be, agree with itself on
// every prefix of a header it accepts (a header arriving in pieces reads the same), and the
// addresses it returns must encode and read back unchanged in both versions.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/proxy_protocol.h"

namespace pp = sp::proxy_protocol;

static bool same(const std::optional<sp::SocketAddress>& a, const std::optional<sp::SocketAddress>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->length == b->length && std::memcmp(&a->storage, &b->storage, a->length) == 0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pp::Header h = pp::parse(data, size);
  if (h.status != pp::Header::Status::kDone) return 0;
  if (h.length > size || h.length > 16 + pp::kMaxV2Body || (h.version == 1 && h.length > pp::kMaxV1)) std::abort();
  for (size_t cut = 0; cut < h.length; ++cut)
    if (pp::parse(data, cut).status != pp::Header::Status::kNeedMore) std::abort();
  if (h.source.has_value() != h.destination.has_value()) std::abort();
  if (!h.source) return 0;
  for (const std::string& again : {pp::encode_v1(*h.source, *h.destination), pp::encode_v2(*h.source, *h.destination)}) {
    pp::Header r = pp::parse(reinterpret_cast<const uint8_t*>(again.data()), again.size());
    if (r.status != pp::Header::Status::kDone || r.length != again.size() || !same(r.source, h.source) ||
        !same(r.destination, h.destination))
      std::abort();
  }
  return 0;
}
