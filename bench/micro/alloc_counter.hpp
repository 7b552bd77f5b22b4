// Counts heap allocations in the microbenchmark binary, so that a benchmark can report allocations per
// iteration. malloc, calloc, realloc and aligned allocations are interposed (glibc's __libc_* are the real
// ones), which covers operator new and OpenSSL's allocations too. Only for bench/: never link it into a
// shipped binary, nor together with mimalloc.
#pragma once

#include <cstdint>

namespace surge::bench {

std::uint64_t allocation_count() noexcept;

}  // namespace surge::bench
