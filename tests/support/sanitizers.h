// Whether this build is instrumented (the whole tree is, binaries under test included). A
// sanitizer's allocator adds redzones to every block and holds freed memory in a quarantine
// (256 MiB by default for ASan), so resident-memory bounds measure the sanitizer, not us: tests
// keep their exact checks (bytes, hashes, counters, gauges) and apply RSS bounds to plain builds.
#pragma once

namespace sp::test {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

}  // namespace sp::test
