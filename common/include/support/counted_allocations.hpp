// Counts the program's heap allocations: this header replaces the global operator new and
// delete with versions that count, for a demo or a test that shows how many allocations an
// operation makes. Include it in exactly one source file of a program (it defines the
// replacements, which a program has once). Read support::allocations before and after the
// operation, and compare only that difference: the program allocates for other reasons too.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace support {
inline std::atomic<std::size_t> allocations{0};
}  // namespace support

// GCC 12 takes the std::free below for a mismatch with the operator new it pairs with.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) {
    support::allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
    throw std::bad_alloc();
}
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
