// Tests of chapter 7's fast paths, each against the promise it must keep while going faster:
// the one-byte SpinLock still excludes; the FramePool hands a freed block out again (same
// class, newest first, on the thread that freed it; beyond its cap and at the thread's exit,
// to other threads through the depot) and coroutine frames come from it; the two-list ready queue
// runs remote wakes while the executor is busy, never starves them, keeps local wakes in order and
// releases both lists at shutdown; a short read or write clears readiness without losing the edge
// that follows.
#include <doctest/doctest.h>

#include <malloc.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/frame_pool.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/net/tcp_stream.hpp"
#include "rt/sync/oneshot.hpp"
#include "rt/sync/spin_lock.hpp"
#include "rt/yield_now.hpp"
#include "testing/bounded.hpp"
#include "testing/descriptors.hpp"
#include "testing/lifetimes.hpp"
#include "testing/printing.hpp"

using rt::detail::FramePool;
using rt::detail::SpinLock;
using rt::net::TcpListener;
using rt::net::TcpStream;

TEST_SUITE("spin lock") {
    TEST_CASE("two threads incrementing a plain counter under the lock lose no increment") {
        constexpr long per_thread = 200'000;
        SpinLock lock;
        long counter = 0;  // not atomic: only the lock protects it
        std::latch start(2);
        auto increment = [&] {
            start.arrive_and_wait();  // both threads contend from the first increment
            for (long i = 0; i < per_thread; ++i) {
                std::lock_guard guard(lock);
                const long seen = counter;
                // Now and then give the processor away inside the critical section, so that
                // even on one core the other thread tries to enter now: were it let in, its
                // increments would be undone by the write below.
                if (i % 64 == 0) std::this_thread::yield();
                counter = seen + 1;
            }
        };
        std::thread first(increment);
        std::thread second(increment);
        first.join();
        second.join();
        CHECK(counter == 2 * per_thread);
    }

    TEST_CASE("try_lock fails while another thread holds the lock, and succeeds after unlock") {
        SpinLock lock;
        lock.lock();
        bool taken_while_held = true;
        std::thread([&] { taken_while_held = lock.try_lock(); }).join();
        lock.unlock();
        bool taken_after_unlock = false;
        std::thread([&] {
            taken_after_unlock = lock.try_lock();
            if (taken_after_unlock) lock.unlock();
        }).join();
        CHECK_FALSE(taken_while_held);
        CHECK(taken_after_unlock);
        CHECK(lock.try_lock());        // and it was released again: free for anyone
        CHECK_FALSE(lock.try_lock());  // not recursive: held, even by this thread
        lock.unlock();
    }

    TEST_CASE("a thread waiting in lock() gets the lock once it is released, and sees the writes") {
        SpinLock lock;
        int value = 0;  // written under the lock by this thread, read under it by the waiter
        int seen = -1;
        std::atomic<bool> waiting{false};
        lock.lock();
        std::thread waiter([&] {
            waiting.store(true);
            std::lock_guard guard(lock);
            seen = value;
        });
        while (!waiting.load()) std::this_thread::yield();
        value = 42;
        lock.unlock();
        waiter.join();
        CHECK(seen == 42);
    }
}

namespace {

/// Run `fn` on a new thread and give back what it returned. A new thread's pool is empty, so
/// what the pool hands out there depends on that test alone.
template <class Fn>
auto on_new_thread(Fn fn) {
    std::optional<std::invoke_result_t<Fn&>> result;
    std::thread([&] { result.emplace(fn()); }).join();
    return std::move(*result);
}

/// A block's address, as a number: comparing addresses of freed blocks is all the pool tests do.
std::uintptr_t address(const void* block) { return reinterpret_cast<std::uintptr_t>(block); }

/// The largest and the smallest size of the pool's class `k` (16k+1 ... 16k+16 bytes). glibc's
/// malloc puts the two in different bins (48 and 32 bytes for class 1), so only the pool can
/// hand a block freed with the one out for the other: a pointer that comes back proves the pool
/// kept it, not the C library.
constexpr std::size_t largest_of(std::size_t k) { return FramePool::granule * (k + 1); }
constexpr std::size_t smallest_of(std::size_t k) { return FramePool::granule * k + 1; }
constexpr std::size_t classes = FramePool::max_block / FramePool::granule;

/// Whether this build's pool recycles blocks. When it does not (AddressSanitizer: recycled
/// memory would hide a use after free), the test says so in its output and checks no reuse.
bool pool_recycles() {
    if (!FramePool::enabled) {
        MESSAGE("FramePool is off in this build (AddressSanitizer): reuse is not checked");
    }
    return FramePool::enabled;
}

/// A future aligned on 64 bytes, more than operator new's 16, that counts the objects made or
/// polled at an address that is not (a task, or a channel's shared state, from memory aligned
/// like operator new only). Its poll is ready with whether it is aligned.
struct alignas(64) OverAligned {
    using Output = bool;
    static inline int misplaced = 0;  // objects constructed or polled misaligned
    char bytes[64] = {};

    OverAligned() { note(); }
    OverAligned(const OverAligned&) { note(); }
    OverAligned(OverAligned&&) noexcept { note(); }
    OverAligned& operator=(const OverAligned&) = default;
    rt::Poll<bool> poll(rt::Context&) {
        note();
        return address(this) % 64 == 0;
    }
    void note() const {
        if (address(this) % 64 != 0) ++misplaced;
    }
};

/// A coroutine that writes the address of one of its locals to `where`: the local lives
/// across a co_await, so it lives in the coroutine's frame.
rt::Task<void> note_frame_address(std::uintptr_t& where) {
    int in_frame = 0;
    where = address(&in_frame);
    co_await rt::yield_now();
    in_frame = 1;
}

/// Poll a Task to completion on this thread, without an executor (every wake here is a
/// yield_now's, which asks to be polled again at once).
void poll_to_end(rt::Task<void>& task) {
    rt::Waker waker = rt::noop_waker();
    rt::Context cx(waker);
    while (task.poll(cx).is_pending()) {
    }
}

}  // namespace

TEST_SUITE("frame pool") {
    TEST_CASE("blocks of every size are usable, aligned, and never overlap while allocated") {
        // In every build, the pool's or not: what allocate returns is memory for n bytes.
        const std::vector<std::size_t> sizes{0,    1,    15,   16,   17,   100,
                                             1000, 1023, 1024, 1025, 4096, 1 << 16};
        auto blocks_intact = [&sizes] {
            std::vector<unsigned char*> blocks;
            for (std::size_t i = 0; i < sizes.size(); ++i) {
                blocks.push_back(static_cast<unsigned char*>(FramePool::allocate(sizes[i])));
                std::memset(blocks[i], static_cast<int>(i + 1), sizes[i]);
            }
            bool intact = true;
            for (std::size_t i = 0; i < sizes.size(); ++i) {
                intact = intact && address(blocks[i]) % alignof(std::max_align_t) == 0;
                intact =
                    intact && std::all_of(blocks[i], blocks[i] + sizes[i], [i](unsigned char c) {
                        return c == static_cast<unsigned char>(i + 1);
                    });
            }
            for (std::size_t i = 0; i < sizes.size(); ++i) {
                FramePool::deallocate(blocks[i], sizes[i]);
            }
            return intact;
        };
        CHECK(blocks_intact());
        CHECK(blocks_intact());  // again: now (with the pool) from recycled blocks
        CHECK(on_new_thread(blocks_intact));
    }

    TEST_CASE("a freed block is handed out again for another size of its class") {
        if (!pool_recycles()) return;
        const auto [freed, reused] = on_new_thread([] {
            void* block = FramePool::allocate(largest_of(2));  // class 2: 33 to 48 bytes
            const std::uintptr_t freed = address(block);
            FramePool::deallocate(block, largest_of(2));
            void* again = FramePool::allocate(smallest_of(2));
            const std::uintptr_t reused = address(again);
            FramePool::deallocate(again, smallest_of(2));
            return std::pair{freed, reused};
        });
        CHECK(reused == freed);
    }

    TEST_CASE("freed blocks of a class come back newest first") {
        if (!pool_recycles()) return;
        const auto [freed, reused] = on_new_thread([] {
            std::vector<std::uintptr_t> freed;
            std::vector<std::uintptr_t> reused;
            std::vector<void*> blocks;
            for (int i = 0; i < 3; ++i) blocks.push_back(FramePool::allocate(largest_of(3)));
            for (void* block : blocks) {
                freed.push_back(address(block));
                FramePool::deallocate(block, largest_of(3));
            }
            for (void*& block : blocks) {
                block = FramePool::allocate(smallest_of(3));
                reused.push_back(address(block));
            }
            for (void* block : blocks) FramePool::deallocate(block, smallest_of(3));
            return std::pair{freed, reused};
        });
        CHECK(reused == std::vector<std::uintptr_t>{freed[2], freed[1], freed[0]});
    }

    TEST_CASE("a block bigger than max_block is neither served from the pool nor kept in it") {
        if (!pool_recycles()) return;
        constexpr std::size_t big = 2000;
        const auto [kept, big_block, usable, reused] = on_new_thread([] {
            // The pool's largest class now holds one known block.
            void* kept = FramePool::allocate(FramePool::max_block);
            const std::uintptr_t kept_block = address(kept);
            FramePool::deallocate(kept, FramePool::max_block);
            auto* block = static_cast<unsigned char*>(FramePool::allocate(big));
            const std::uintptr_t big_block = address(block);
            bool usable = false;
            if (big_block != kept_block) {  // else writing 2000 bytes would wreck the heap
                std::memset(block, 0x5a, big);
                usable = std::all_of(block, block + big, [](unsigned char c) { return c == 0x5a; });
            }
            FramePool::deallocate(block, big);
            // Had the big block gone into the pool, it would be the newest and come first.
            void* again = FramePool::allocate(smallest_of(classes - 1));
            const std::uintptr_t reused = address(again);
            FramePool::deallocate(again, smallest_of(classes - 1));
            return std::tuple{kept_block, big_block, usable, reused};
        });
        CHECK(big_block != kept);  // a 1024-byte block was not given for 2000 bytes
        CHECK(usable);
        CHECK(reused == kept);  // the pool still held its block, and nothing newer
    }

    TEST_CASE("a block freed on another thread is recycled by the thread that freed it, only") {
        if (!pool_recycles()) return;
        // Allocated on one thread...
        const std::uintptr_t block =
            on_new_thread([] { return address(FramePool::allocate(112)); });
        const auto [elsewhere, reused] = on_new_thread([block] {
            // ...freed on this one (class 6: 97 to 112 bytes)...
            FramePool::deallocate(reinterpret_cast<void*>(block), 112);
            // ...is not in a third thread's pool...
            const std::uintptr_t elsewhere = on_new_thread([] {
                void* other = FramePool::allocate(97);
                const std::uintptr_t elsewhere = address(other);
                FramePool::deallocate(other, 97);
                return elsewhere;
            });
            // ...but is in this one's.
            void* again = FramePool::allocate(97);
            const std::uintptr_t reused = address(again);
            FramePool::deallocate(again, 97);
            return std::pair{elsewhere, reused};
        });
        CHECK(elsewhere != block);
        CHECK(reused == block);
    }

    TEST_CASE("beyond max_cached bytes, a thread's free blocks go to the depot, for others") {
        if (!pool_recycles()) return;
        constexpr std::size_t fit = FramePool::max_cached / FramePool::max_block;
        const auto [given, taken_elsewhere] = on_new_thread([] {
            std::vector<void*> blocks;
            for (std::size_t i = 0; i <= fit; ++i) {
                blocks.push_back(FramePool::allocate(FramePool::max_block));
            }
            // The first `fit` blocks fill the thread's cache; the one after overflows it, and
            // the thread's whole list of the class goes to the depot, newest block on top.
            const std::uintptr_t given = address(blocks[fit]);
            for (void* block : blocks) FramePool::deallocate(block, FramePool::max_block);
            // A thread with no block of the class takes the batch before it cuts a new one.
            const std::uintptr_t taken_elsewhere = on_new_thread([] {
                void* block = FramePool::allocate(smallest_of(classes - 1));
                const std::uintptr_t taken = address(block);
                FramePool::deallocate(block, smallest_of(classes - 1));
                return taken;
            });
            return std::pair{given, taken_elsewhere};
        });
        CHECK(taken_elsewhere == given);
    }

    TEST_CASE("a thread that exits hands its free blocks to the next thread that needs some") {
        if (!pool_recycles()) return;
        const std::uintptr_t freed = on_new_thread([] {
            void* block = FramePool::allocate(largest_of(5));  // class 5: 81 to 96 bytes
            const std::uintptr_t freed = address(block);
            FramePool::deallocate(block, largest_of(5));
            return freed;
        });
        const std::uintptr_t reused = on_new_thread([] {
            void* block = FramePool::allocate(smallest_of(5));
            const std::uintptr_t reused = address(block);
            FramePool::deallocate(block, smallest_of(5));
            return reused;
        });
        CHECK(reused == freed);
    }

    TEST_CASE("a block allocated after the thread's pool is gone holds its whole class") {
        // At thread exit the pool is gone, but destructors of thread_locals made before it
        // may still allocate. Such a block can be freed on another thread, kept in its class
        // there, and handed out for the class's largest size: it must hold that many bytes.
        constexpr std::size_t asked = smallest_of(4);  // 65 bytes; the class holds 80
        struct AllocatesAtExit {
            std::promise<void*>* out = nullptr;
            ~AllocatesAtExit() {
                if (out != nullptr) out->set_value(FramePool::allocate(asked));
            }
        };
        std::promise<void*> block_promise;
        std::future<void*> block_future = block_promise.get_future();
        std::thread([&block_promise] {
            thread_local AllocatesAtExit at_exit;  // made first: destroyed after the pool's
            at_exit.out = &block_promise;
            FramePool::deallocate(FramePool::allocate(asked), asked);  // the pool exists now
        }).join();
        void* block = block_future.get();
        // Without the pool (AddressSanitizer) a block is exactly what was asked, and never
        // enters a class: there is nothing to check but that it goes back cleanly.
        const bool pooled = pool_recycles();
        if (pooled) CHECK(::malloc_usable_size(block) >= largest_of(4));
        const auto [reused, usable] = on_new_thread([block] {
            FramePool::deallocate(block, asked);  // kept by this thread's pool, class 4
            void* again = FramePool::allocate(largest_of(4));
            const auto seen = std::pair(address(again), ::malloc_usable_size(again));
            FramePool::deallocate(again, largest_of(4));
            return seen;
        });
        if (pooled) CHECK(reused == address(block));
        CHECK(usable >= largest_of(4));
    }

    TEST_CASE("a future aligned beyond operator new's alignment is spawned aligned") {
        OverAligned::misplaced = 0;
        rt::Executor executor;
        for (int i = 0; i < 8; ++i) {  // several: one aligned by chance proves nothing
            CHECK(executor.block_on(OverAligned{}));  // polled in place, inside its task
        }
        auto [sender, receiver] = rt::sync::oneshot::channel<OverAligned>();
        CHECK(std::move(sender).send(OverAligned{}));  // moved into the shared state
        CHECK(executor.block_on(std::move(receiver)).has_value());
        CHECK(OverAligned::misplaced == 0);
    }

    TEST_CASE("a coroutine's frame comes from the pool, and the next coroutine reuses it") {
        if (!pool_recycles()) return;
        struct Frames {
            bool from_pool = false;  // the first frame is one of the blocks put in the pool
            std::uintptr_t first = 0;
            std::uintptr_t second = 0;
        };
        const Frames frames = on_new_thread([] {
            // One known block in each class: whatever the frame's size, the pool has a block
            // for it, and a frame inside one of these can only have come from the pool.
            std::vector<void*> seeds;
            std::vector<std::uintptr_t> starts;
            for (std::size_t k = 0; k < classes; ++k) {
                seeds.push_back(FramePool::allocate(largest_of(k)));
                starts.push_back(address(seeds[k]));
            }
            for (std::size_t k = 0; k < classes; ++k) {
                FramePool::deallocate(seeds[k], largest_of(k));
            }
            Frames seen;
            {
                rt::Task<void> task = note_frame_address(seen.first);
                poll_to_end(task);
            }  // the frame is freed here
            for (std::size_t k = 0; k < classes; ++k) {
                if (seen.first >= starts[k] && seen.first < starts[k] + largest_of(k)) {
                    seen.from_pool = true;
                }
            }
            rt::Task<void> task = note_frame_address(seen.second);
            poll_to_end(task);
            return seen;
        });
        CHECK(frames.from_pool);
        CHECK(frames.second == frames.first);
    }
}

namespace {

/// First poll: leaves its waker in `slot` and answers pending. The next poll (after a wake)
/// appends its name to `log` and is ready.
class WaitsForWake {
public:
    using Output = void;
    WaitsForWake(std::string name, std::optional<rt::Waker>& slot, std::vector<std::string>& log)
        : name_(std::move(name)), slot_(&slot), log_(&log) {}

    rt::Poll<void> poll(rt::Context& cx) {
        if (!polled_) {
            polled_ = true;
            slot_->emplace(cx.waker());
            return rt::pending;
        }
        log_->push_back(name_);
        return rt::ready;
    }

private:
    std::string name_;
    std::optional<rt::Waker>* slot_;  // where the first poll leaves the waker
    std::vector<std::string>* log_;   // where the second poll records the run
    bool polled_ = false;
};

/// Never completes. Counts its polls; leaves its waker in `slot` if given one; adds one to its
/// own destruction count when destroyed (moved-from copies count nothing).
class NeverDone {
public:
    using Output = void;
    NeverDone(std::shared_ptr<int> destroyed, std::shared_ptr<int> polls,
              std::optional<rt::Waker>* slot = nullptr)
        : counter_(std::make_unique<testing::DestructionCounter>(std::move(destroyed))),
          polls_(std::move(polls)),
          slot_(slot) {}

    rt::Poll<void> poll(rt::Context& cx) {
        ++*polls_;
        if (slot_ != nullptr) slot_->emplace(cx.waker());
        return rt::pending;
    }

private:
    std::unique_ptr<testing::DestructionCounter> counter_;  // one per future, whatever moves
    std::shared_ptr<int> polls_;
    std::optional<rt::Waker>* slot_;
};

/// Wake `waker` from a new thread, and wait until that thread is done: the wake is a push from
/// another thread, made while the caller (a task being polled) keeps the executor running.
void wake_from_another_thread(std::optional<rt::Waker>& waker) {
    std::thread([waker = std::move(*waker)]() mutable { std::move(waker).wake(); }).join();
    waker.reset();
}

/// Spawn a task, let it leave its waker, wake it from another thread inside this poll (so the
/// executor is running, not parked), then wait for it to run.
rt::Task<std::vector<std::string>> wake_from_afar_while_running() {
    std::vector<std::string> log;
    std::optional<rt::Waker> slot;
    rt::JoinHandle<void> waiting = rt::spawn(WaitsForWake("woken from afar", slot, log));
    while (!slot) co_await rt::yield_now();  // until the task has run once
    wake_from_another_thread(slot);
    co_await waiting;
    co_return log;
}

/// Once the other task has left its waker in `remote` (at most `give_up` yields), wake it
/// from another thread, then yield until `stop`, or `give_up` times. `yields` counts the
/// yields from that wake until `stop` was seen.
rt::Task<void> yield_until_stopped(const bool& stop, std::optional<rt::Waker>& remote, int& yields,
                                   int give_up) {
    for (int i = 0; !remote && i < give_up; ++i) co_await rt::yield_now();
    if (!remote) co_return;
    wake_from_another_thread(remote);
    for (yields = 0; !stop && yields < give_up; ++yields) co_await rt::yield_now();
}

/// Once A, B and C have left their wakers (at most `give_up` yields), wake them in that
/// order, from this task: on the executor's thread, while it runs.
rt::Task<void> wake_a_b_c(std::optional<rt::Waker>& a, std::optional<rt::Waker>& b,
                          std::optional<rt::Waker>& c, int give_up) {
    for (int i = 0; !(a && b && c) && i < give_up; ++i) co_await rt::yield_now();
    if (!(a && b && c)) co_return;
    std::move(*a).wake();
    std::move(*b).wake();
    std::move(*c).wake();
}

/// One count of destructions, and one of polls, per future.
struct Counts {
    std::vector<std::shared_ptr<int>> destroyed;
    std::vector<std::shared_ptr<int>> polls;
    NeverDone next(std::optional<rt::Waker>* slot = nullptr) {
        destroyed.push_back(std::make_shared<int>(0));
        polls.push_back(std::make_shared<int>(0));
        return NeverDone(destroyed.back(), polls.back(), slot);
    }
};

/// Inside a running executor: spawn a task that leaves its waker in `slot`, let it run once,
/// then spawn `local` more, which go to the local list, and return before they run.
rt::Task<void> leave_tasks_queued_locally(Counts& counts, std::optional<rt::Waker>& slot,
                                          int local) {
    rt::spawn(counts.next(&slot));
    co_await rt::yield_now();
    for (int i = 0; i < local; ++i) rt::spawn(counts.next());
}

}  // namespace

TEST_SUITE("ready queue") {
    TEST_CASE("a task woken from another thread while the executor is running is run") {
        const auto log = testing::block_on_bounded(wake_from_afar_while_running());
        REQUIRE_MESSAGE(log.has_value(), "the task woken from another thread never ran");
        CHECK(*log == std::vector<std::string>{"woken from afar"});
    }

    TEST_CASE("a task that yields for ever does not starve a task woken from another thread") {
        constexpr int give_up = 10'000;
        bool stop = false;  // set by the task woken from afar, read by the yielder
        std::optional<rt::Waker> remote;
        std::vector<std::string> log;
        int yields = -1;
        rt::Executor executor;
        executor.spawn([&]() -> rt::Task<void> {
            co_await WaitsForWake("woken from afar", remote, log);
            stop = true;
        });
        executor.spawn(yield_until_stopped(stop, remote, yields, give_up));
        // Never sleeps: the remote wake is queued before the yielder's poll that makes it ends.
        executor.run_until_idle();
        CHECK(executor.pending_tasks() == 0);
        CHECK(log == std::vector<std::string>{"woken from afar"});
        REQUIRE_MESSAGE(yields < give_up, "the yielder ran ", give_up,
                        " times while the task woken from afar waited");
        // The queue holds only the yielder when the remote wake comes: the woken task goes
        // behind it, and runs before the yielder's second turn after the wake.
        CHECK(yields <= 2);
    }

    TEST_CASE("tasks woken on the executor's thread run in the order they were woken") {
        std::vector<std::string> log;
        std::optional<rt::Waker> a;
        std::optional<rt::Waker> b;
        std::optional<rt::Waker> c;
        rt::Executor executor;
        // Spawned in an order that is neither the wake order nor its reverse.
        executor.spawn(WaitsForWake("C", c, log));
        executor.spawn(WaitsForWake("A", a, log));
        executor.spawn(WaitsForWake("B", b, log));
        executor.spawn(wake_a_b_c(a, b, c, 100));
        executor.run_until_idle();  // never sleeps: every wake is made while it runs
        CHECK(executor.pending_tasks() == 0);
        CHECK(log == std::vector<std::string>{"A", "B", "C"});
    }

    TEST_CASE("an executor destroyed with tasks in both lists releases every one, once") {
        constexpr int local = 3;
        constexpr int spawned_from_outside = 2;
        const testing::DescriptorSnapshot descriptors_before;
        Counts counts;
        {
            rt::Executor executor;
            std::optional<rt::Waker> slot;
            // Three tasks queued on the executor's own thread, left in the local list.
            executor.block_on(leave_tasks_queued_locally(counts, slot, local));
            // The first task, woken from another thread after the run: the remote list.
            REQUIRE(slot.has_value());
            wake_from_another_thread(slot);
            // Spawned outside a run, from this thread: the remote list too.
            for (int i = 0; i < spawned_from_outside; ++i) executor.spawn(counts.next());
            CHECK(executor.pending_tasks() == 1 + local + spawned_from_outside);
            CHECK(*counts.polls[0] == 1);  // it ran once, and is queued again
            for (std::size_t i = 1; i < counts.polls.size(); ++i) CHECK(*counts.polls[i] == 0);
            for (const auto& destroyed : counts.destroyed) CHECK(*destroyed == 0);
        }
        REQUIRE(counts.destroyed.size() == 1 + local + spawned_from_outside);
        for (const auto& destroyed : counts.destroyed) CHECK(*destroyed == 1);
        // Every task holds the ready queue, which owns an eventfd: a task not released would
        // keep it open. (The AddressSanitizer build's leak check sees the task itself.)
        CHECK(descriptors_before.opened_since() == std::vector<std::string>{});
    }
}

namespace {

/// A connected loopback pair: the client's end and the server's.
struct StreamPair {
    TcpStream client;
    TcpStream server;
};

/// Connect to a new listener and accept: the kernel completes the handshake before accept,
/// so the two awaits can follow one another.
rt::Task<StreamPair> connected_pair() {
    TcpListener listener = TcpListener::bind("127.0.0.1:0");
    TcpStream client = co_await TcpStream::connect(listener.local_address());
    TcpStream server = co_await listener.accept();
    client.set_nodelay(true);
    server.set_nodelay(true);
    co_return StreamPair{std::move(client), std::move(server)};
}

/// Round `round`'s message from `side`: bytes that differ by round and side, so a byte from
/// another message shows.
std::string message(int round, int side, std::size_t size) {
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        bytes[i] = static_cast<char>((round * 31 + side * 101 + i) % 251);
    }
    return bytes;
}

/// What one side of the ping-pong saw.
struct ReadCounts {
    int intact = 0;          // messages that arrived whole and unchanged
    int short_reads = 0;     // reads that returned fewer bytes than the buffer held
    int whole_at_once = 0;   // messages that one read, into a bigger buffer, returned whole
    int bigger_buffers = 0;  // messages read into a buffer bigger than the message
};

/// Read one message of `size` bytes in reads of `chunk` bytes, and count what happened.
rt::Task<std::string> read_message(TcpStream& stream, std::size_t size, std::size_t chunk,
                                   ReadCounts& counts) {
    std::string got;
    std::vector<char> buffer(chunk);
    while (got.size() < size) {
        const std::size_t n = co_await stream.read(buffer);
        if (n == 0) break;  // end of stream: the message is short, and the check says so
        if (n < chunk) ++counts.short_reads;
        if (got.empty() && chunk > size && n == size) ++counts.whole_at_once;
        got.append(buffer.data(), n);
    }
    co_return got;
}

/// The sizes of round `round`: the message, and the buffer it is read with. Even rounds read
/// into a buffer bigger than the message (one short read); odd rounds into a third of it
/// (full reads that must leave the rest readable, then maybe a short one).
std::size_t size_of_round(int round) { return 1 + static_cast<std::size_t>(round * 37) % 300; }
std::size_t chunk_of_round(int round) {
    return round % 2 == 0 ? 4096 : std::max<std::size_t>(1, size_of_round(round) / 3);
}

/// One side of the ping-pong: for every round, the client (side 0) writes its message and
/// reads the reply; the server (side 1) reads the message and writes its reply.
rt::Task<ReadCounts> ping_pong_side(TcpStream& stream, int side, int rounds) {
    ReadCounts counts;
    for (int round = 0; round < rounds; ++round) {
        const std::size_t size = size_of_round(round);
        const std::size_t chunk = chunk_of_round(round);
        if (chunk > size) ++counts.bigger_buffers;
        if (side == 0) co_await stream.write_all(message(round, 0, size));
        const std::string got = co_await read_message(stream, size, chunk, counts);
        if (got == message(round, 1 - side, size)) ++counts.intact;
        if (side == 1) co_await stream.write_all(message(round, 1, size));
    }
    co_return counts;
}

struct PingPong {
    ReadCounts client;
    ReadCounts server;
};

rt::Task<PingPong> ping_pong(int rounds) {
    StreamPair pair = co_await connected_pair();
    rt::JoinHandle<ReadCounts> server = rt::spawn(ping_pong_side(pair.server, 1, rounds));
    rt::JoinHandle<ReadCounts> client = rt::spawn(ping_pong_side(pair.client, 0, rounds));
    PingPong seen;
    seen.client = co_await client;
    seen.server = co_await server;
    co_return seen;
}

/// Bytes 0, 1, ... 250, 0, 1, ...: a pattern in which a lost, repeated or reordered chunk shows.
std::string pattern(std::size_t size) {
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i % 251);
    return bytes;
}

int buffer_size(const TcpStream& stream, int option) {
    int size = 0;
    socklen_t length = sizeof size;
    ::getsockopt(stream.native_handle(), SOL_SOCKET, option, &size, &length);
    return size;
}

/// What the slow-reader transfer saw.
struct SlowTransfer {
    std::string received;
    std::size_t kernel_buffers = 0;  // the writer's send buffer plus the reader's receive buffer
};

/// Write `sent` with write_all through small kernel buffers, to a reader that takes 512 bytes
/// at a time and lets every other task run three times between two reads.
rt::Task<SlowTransfer> write_to_slow_reader(const std::string& sent) {
    StreamPair pair = co_await connected_pair();
    // Fixed kernel buffers (no autotuning), far smaller than what is sent, so that writes
    // come back short. Not smaller than a loopback segment (64 KiB) though: then TCP stalls on
    // its own timers, and the transfer would wait for them rather than for the reader.
    const int send_buffer = 65536;
    const int receive_buffer = 131072;
    ::setsockopt(pair.client.native_handle(), SOL_SOCKET, SO_SNDBUF, &send_buffer,
                 sizeof send_buffer);
    ::setsockopt(pair.server.native_handle(), SOL_SOCKET, SO_RCVBUF, &receive_buffer,
                 sizeof receive_buffer);
    SlowTransfer transfer;
    transfer.kernel_buffers = static_cast<std::size_t>(buffer_size(pair.client, SO_SNDBUF)) +
                              static_cast<std::size_t>(buffer_size(pair.server, SO_RCVBUF));
    rt::JoinHandle<void> writer = rt::spawn([&pair, &sent]() -> rt::Task<void> {
        co_await pair.client.write_all(sent);
        pair.client.shutdown_write();
    });
    std::vector<char> buffer(512);
    for (;;) {
        const std::size_t n = co_await pair.server.read(buffer);
        if (n == 0) break;
        transfer.received.append(buffer.data(), n);
        for (int i = 0; i < 3; ++i) co_await rt::yield_now();  // a slow reader
    }
    co_await writer;
    co_return transfer;
}

}  // namespace

TEST_SUITE("short reads and writes") {
    TEST_CASE("after a short read clears readiness, what the peer writes next is still read") {
        constexpr int rounds = 300;
        // A turn is one poll of the test's task, which never lets the executor sleep: 300
        // round trips take 20,000 to 50,000 of them. A lost edge never finishes.
        const auto seen = testing::block_on_bounded(ping_pong(rounds), 1'000'000);
        REQUIRE_MESSAGE(seen.has_value(), "a read waited for an edge that never came");
        for (const ReadCounts& side : {seen->client, seen->server}) {
            CHECK(side.intact == rounds);
            CHECK(side.bigger_buffers == rounds / 2);
            CHECK(side.whole_at_once == side.bigger_buffers);  // one short read, whole message
            CHECK(side.short_reads >= side.bigger_buffers);
        }
    }

    TEST_CASE("write_all to a slow reader completes through short writes, every byte in order") {
        const std::string sent = pattern(2 * 1024 * 1024);
        // 10,000 to 20,000 turns, when no edge is lost (see the test above).
        const auto transfer = testing::block_on_bounded(write_to_slow_reader(sent), 500'000);
        REQUIRE_MESSAGE(transfer.has_value(), "a write waited for an edge that never came");
        // Bigger than both kernel buffers together: the writes cannot all have been whole.
        CHECK(transfer->kernel_buffers < sent.size());
        CHECK(transfer->received.size() == sent.size());
        CHECK(transfer->received == sent);
    }
}
