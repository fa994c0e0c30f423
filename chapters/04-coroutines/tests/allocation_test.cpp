// What a coroutine task costs in heap allocations, counted by replacing the global operator
// new for this test program: a coroutine's frame is one allocation per call, spawning it adds
// the task (one more), and awaiting futures inside it allocates nothing.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/yield_now.hpp"

// GCC, inlining these replacements, warns that free() releases memory from operator new: here
// both are replaced and both are malloc's, so they match (a false positive of the warning,
// which only the ASan build, inlining more, showed).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
    throw std::bad_alloc();
}
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }

namespace {

/// Allocations made while `body` runs.
template <class Body>
long allocations_during(Body&& body) {
    const long before = allocations.load();
    body();
    return allocations.load() - before;
}

rt::Task<int> leaf(int n) { co_return n; }

rt::Task<int> awaits_futures(int yields) {
    for (int i = 0; i < yields; ++i) co_await rt::yield_now();
    co_return yields;
}

rt::Task<int> awaits_children(int children) {
    int sum = 0;
    for (int i = 0; i < children; ++i) sum += co_await leaf(1);
    co_return sum;
}

}  // namespace

TEST_SUITE("allocations") {
    TEST_CASE("calling a coroutine allocates its frame, once") {
        CHECK(allocations_during([] { rt::Task<int> task = leaf(1); }) == 1);
    }

    TEST_CASE("spawning a coroutine adds one allocation: the task, which holds its outcome") {
        rt::Executor executor;  // the ready queue allocates its first block here
        rt::Task<int> task = awaits_futures(1);
        CHECK(allocations_during(
                  [&] { rt::JoinHandle<int> handle = executor.spawn(std::move(task)); }) == 1);
    }

    TEST_CASE("awaiting futures in a coroutine allocates nothing") {
        rt::Task<int> task = awaits_futures(10'000);
        rt::Waker waker = rt::noop_waker();
        rt::Context cx(waker);
        // yield_now wakes a no-op waker here, so no queue is involved: only the coroutine.
        const long during = allocations_during([&] {
            for (int i = 0; i < 10'000; ++i) CHECK(task.poll(cx).is_pending());
        });
        CHECK(during == 0);
        CHECK(task.poll(cx).is_ready());
    }

    TEST_CASE("each awaited child task allocates its own frame, and nothing more") {
        rt::Task<int> task = awaits_children(1'000);
        rt::Waker waker = rt::noop_waker();
        rt::Context cx(waker);
        rt::Poll<int> result = rt::Poll<int>(rt::pending);
        CHECK(allocations_during([&] { result = task.poll(cx); }) == 1'000);
        REQUIRE(result.is_ready());
        CHECK(result.value() == 1'000);
    }
}
