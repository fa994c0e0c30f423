// Tests of exercise 07-02, the specification of ex::FramePool and of ex::Lazy's frames: a
// request is served by a block of its size class, at the class's full size; a freed block is
// handed out again on the thread that freed it, newest first, without operator new; a thread
// keeps no more than its cap, and nothing once it ends; requests beyond max_block go to operator
// new; a coroutine's frame comes from the pool, so that frames are reused.
//
// What operator new and delete do is observed by replacing them for this program (below): they
// count, per thread, while a test asks them to. Every test runs on a thread of its own, so that
// it starts with an empty pool whatever the tests before it kept, and so that the end of the
// thread, when its pool must give everything back, can be observed too.
#include <doctest/doctest.h>

#include <frame_pool.hpp>
#include <lazy.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#include "testing/eventually.hpp"
#include "testing/printing.hpp"

using ex::FramePool;

namespace {

/// What operator new and delete did on one thread while it was counted.
struct AllocationLog {
    static constexpr std::size_t capacity = 2048;
    std::size_t news = 0;                   // calls to operator new
    std::size_t last_new_size = 0;          // the size the latest one asked for
    std::size_t deletes = 0;                // calls to operator delete
    std::array<void*, capacity> deleted{};  // the first `capacity` blocks given to operator delete

    bool was_deleted(const void* block) const {
        const std::size_t n = std::min(deletes, capacity);
        return std::find(deleted.begin(), deleted.begin() + static_cast<std::ptrdiff_t>(n),
                         block) != deleted.begin() + static_cast<std::ptrdiff_t>(n);
    }
};

/// Where this thread's operator new and delete are counted now; nullptr: nowhere. Trivially
/// destructible, so it can be read until the very end of the thread.
thread_local AllocationLog* counting = nullptr;

/// Counts this thread's operator new and delete in `log` while it lives.
class Counting {
public:
    explicit Counting(AllocationLog& log) : previous_(std::exchange(counting, &log)) {}
    Counting(const Counting&) = delete;
    Counting& operator=(const Counting&) = delete;
    ~Counting() { counting = previous_; }

private:
    AllocationLog* previous_;
};

/// What operator new and delete did during `body`, on this thread. The body must do nothing but
/// what is counted: no doctest check (which may allocate) inside.
template <class Body>
AllocationLog counted(Body body) {
    AllocationLog log;
    {
        Counting on(log);
        body();
    }
    return log;
}

/// The last call of a thread's body: from the moment the thread's thread_local objects are
/// destroyed (the pool's included, which gives its blocks back then), its operator delete calls
/// are logged in `log`. A thread_local made last is destroyed first: it turns the counting on.
void log_thread_exit(AllocationLog& log) {
    struct StartLogging {
        AllocationLog* log = nullptr;
        ~StartLogging() { counting = log; }
    };
    thread_local StartLogging start;
    start.log = &log;
}

/// Runs `body` on a new thread, with a pool of its own, and waits for it; a failed REQUIRE in the
/// body fails the test.
template <class Body>
void on_a_new_thread(Body body) {
    std::exception_ptr failure;
    std::thread([&] {
        try {
            body();
        } catch (...) {
            failure = std::current_exception();
        }
    }).join();
    if (failure) std::rethrow_exception(failure);
}

/// Puts the cap of the calling thread back as it was, at the end of a scope.
class CapRestorer {
public:
    CapRestorer() : saved_(FramePool::max_cached()) {}
    CapRestorer(const CapRestorer&) = delete;
    CapRestorer& operator=(const CapRestorer&) = delete;
    ~CapRestorer() { FramePool::set_max_cached(saved_); }

private:
    std::size_t saved_;
};

constexpr std::size_t new_alignment = __STDCPP_DEFAULT_NEW_ALIGNMENT__;

/// Writes `bytes` bytes of `block`: AddressSanitizer reports a block smaller than that. Not
/// inlined, so that the compiler does not judge the size from where the block came from.
[[gnu::noinline]] void fill(void* block, int value, std::size_t bytes) {
    std::memset(block, value, bytes);
}

bool aligned(const void* block) {
    return reinterpret_cast<std::uintptr_t>(block) % new_alignment == 0;
}

// Coroutines for the tests. noinline: a compiler that inlines a coroutine into its caller may
// put the frame on the caller's stack (clang does, with -O2), and there would be no frame to
// count.
[[gnu::noinline]] ex::Lazy<int> answer() { co_return 42; }

[[gnu::noinline]] ex::Lazy<long> square(long n) { co_return n* n; }

/// A coroutine whose frame holds a buffer of twice max_block bytes.
[[gnu::noinline]] ex::Lazy<int> sum_of_a_big_buffer(unsigned char fill) {
    std::array<unsigned char, 2 * FramePool::max_block> buffer;
    buffer.fill(fill);
    co_await std::suspend_never{};  // the buffer lives across a suspension point: in the frame
    int sum = 0;
    for (const unsigned char byte : buffer) sum += byte;
    co_return sum;
}

}  // namespace

// This program's operator new and delete: malloc and free, counted on a thread that asks for it.
// (operator new[], the nothrow forms and the sized delete all end up here.) Never inlined: the
// compiler would then see memory from operator new given to free, and warn.
[[gnu::noinline]] void* operator new(std::size_t size) {
    if (AllocationLog* log = counting) {
        ++log->news;
        log->last_new_size = size;
    }
    if (void* block = std::malloc(size == 0 ? 1 : size)) return block;
    throw std::bad_alloc();
}

[[gnu::noinline]] void operator delete(void* block) noexcept {
    if (block == nullptr) return;
    if (AllocationLog* log = counting) {
        if (log->deletes < AllocationLog::capacity) log->deleted[log->deletes] = block;
        ++log->deletes;
    }
    std::free(block);
}

void operator delete(void* block, std::size_t) noexcept { operator delete(block); }

TEST_SUITE("frame pool: size classes") {
    TEST_CASE("a request is rounded up to a whole granule, and each granule is a class") {
        CHECK(FramePool::class_of(1) == 0);
        CHECK(FramePool::class_of(16) == 0);
        CHECK(FramePool::class_of(17) == 1);
        CHECK(FramePool::class_of(32) == 1);
        CHECK(FramePool::class_of(33) == 2);
        CHECK(FramePool::class_of(FramePool::max_block) == FramePool::classes - 1);
        CHECK(FramePool::block_bytes(0) == 16);
        CHECK(FramePool::block_bytes(1) == 32);
        CHECK(FramePool::block_bytes(FramePool::classes - 1) == FramePool::max_block);
        int wrong = 0;
        for (std::size_t size = 1; size <= FramePool::max_block; ++size) {
            const std::size_t bytes = FramePool::block_bytes(FramePool::class_of(size));
            if (bytes < size || bytes >= size + FramePool::granule) ++wrong;
        }
        CHECK_MESSAGE(wrong == 0,
                      wrong << " size(s) got a block too small, or a whole granule too big");
    }

    TEST_CASE("a block is made at its class's full size, not at the size asked for") {
        on_a_new_thread([] {
            void* block = nullptr;
            const AllocationLog log = counted([&] { block = FramePool::allocate(97); });
            CHECK(log.news == 1);
            CHECK_MESSAGE(log.last_new_size == 112,
                          "97 bytes are in the class of 97 to 112: the block must hold 112, for "
                          "it may serve a request of 112 later");
            if (log.last_new_size >= 112) fill(block, 0xab, 112);
            FramePool::deallocate(block, 97);
        });
    }

    TEST_CASE("every block is aligned as operator new aligns, new or handed out again") {
        on_a_new_thread([] {
            std::vector<std::pair<void*, std::size_t>> blocks;
            int misaligned = 0;
            for (int pass = 0; pass < 2; ++pass) {  // the second pass reuses the first's blocks
                for (std::size_t size = 1; size <= FramePool::max_block + 64; size += 7) {
                    void* block = FramePool::allocate(size);
                    if (!aligned(block)) ++misaligned;
                    blocks.emplace_back(block, size);
                }
                for (auto [block, size] : blocks) FramePool::deallocate(block, size);
                blocks.clear();
            }
            CHECK(misaligned == 0);
        });
    }
}

TEST_SUITE("frame pool: reuse") {
    TEST_CASE("a freed block is handed out again to a request of its class, without operator new") {
        on_a_new_thread([] {
            void* first = FramePool::allocate(100);
            const AllocationLog freeing = counted([&] { FramePool::deallocate(first, 100); });
            CHECK_MESSAGE(freeing.deletes == 0, "the block went to operator delete, not the pool");
            void* second = nullptr;
            const AllocationLog again = counted([&] { second = FramePool::allocate(112); });
            CHECK(again.news == 0);
            CHECK(second == first);
            FramePool::deallocate(second, 112);
        });
    }

    TEST_CASE("a request of another class does not get the block") {
        on_a_new_thread([] {
            void* block = FramePool::allocate(100);
            FramePool::deallocate(block, 100);
            void* other = nullptr;
            const AllocationLog log = counted([&] { other = FramePool::allocate(113); });
            CHECK(log.news == 1);
            CHECK(other != block);
            void* same_class = FramePool::allocate(97);
            CHECK(same_class == block);
            FramePool::deallocate(other, 113);
            FramePool::deallocate(same_class, 97);
        });
    }

    TEST_CASE("the block freed last is handed out first") {
        on_a_new_thread([] {
            void* a = FramePool::allocate(64);
            void* b = FramePool::allocate(64);
            void* c = FramePool::allocate(64);
            FramePool::deallocate(a, 64);
            FramePool::deallocate(b, 64);
            FramePool::deallocate(c, 64);
            void* first = FramePool::allocate(64);
            void* second = FramePool::allocate(64);
            void* third = FramePool::allocate(64);
            CHECK(first == c);
            CHECK(second == b);
            CHECK(third == a);
            for (void* block : {first, second, third}) FramePool::deallocate(block, 64);
        });
    }

    TEST_CASE("cached_bytes counts the bytes of the blocks a thread keeps") {
        on_a_new_thread([] {
            CHECK(FramePool::cached_bytes() == 0);
            void* big = FramePool::allocate(100);
            void* small = FramePool::allocate(20);
            FramePool::deallocate(big, 100);
            CHECK(FramePool::cached_bytes() == 112);
            FramePool::deallocate(small, 20);
            CHECK(FramePool::cached_bytes() == 144);
            big = FramePool::allocate(100);
            CHECK(FramePool::cached_bytes() == 32);
            small = FramePool::allocate(20);
            CHECK(FramePool::cached_bytes() == 0);
            FramePool::deallocate(big, 100);
            FramePool::deallocate(small, 20);
        });
    }

    TEST_CASE("a thousand blocks freed and asked for again come from the pool, the same blocks") {
        on_a_new_thread([] {
            constexpr std::size_t count = 1000;
            std::vector<void*> first(count), second(count);
            const AllocationLog making = counted([&] {
                for (void*& block : first) block = FramePool::allocate(200);
            });
            const AllocationLog freeing = counted([&] {
                for (void* block : first) FramePool::deallocate(block, 200);
            });
            const AllocationLog again = counted([&] {
                for (void*& block : second) block = FramePool::allocate(200);
            });
            CHECK(making.news == count);
            CHECK(freeing.deletes == 0);
            CHECK(again.news == 0);
            std::sort(first.begin(), first.end());
            std::sort(second.begin(), second.end());
            CHECK(first == second);
            for (void* block : second) FramePool::deallocate(block, 200);
        });
    }
}

TEST_SUITE("frame pool: limits") {
    TEST_CASE("a request bigger than max_block goes to operator new at its size, and back") {
        on_a_new_thread([] {
            constexpr std::size_t size = FramePool::max_block + 1;
            void* block = nullptr;
            const AllocationLog making = counted([&] { block = FramePool::allocate(size); });
            CHECK(making.news == 1);
            CHECK(making.last_new_size == size);
            const AllocationLog freeing = counted([&] { FramePool::deallocate(block, size); });
            CHECK(freeing.deletes == 1);
            CHECK(freeing.was_deleted(block));
            CHECK(FramePool::cached_bytes() == 0);
        });
    }

    TEST_CASE("a request of exactly max_block is the pool's") {
        on_a_new_thread([] {
            void* block = FramePool::allocate(FramePool::max_block);
            const AllocationLog freeing =
                counted([&] { FramePool::deallocate(block, FramePool::max_block); });
            CHECK(freeing.deletes == 0);
            CHECK(FramePool::cached_bytes() == FramePool::max_block);
            void* again = FramePool::allocate(FramePool::max_block);
            CHECK(again == block);
            FramePool::deallocate(again, FramePool::max_block);
        });
    }

    TEST_CASE("a thread keeps no more than its cap, and gives the rest to operator delete") {
        on_a_new_thread([] {
            CapRestorer restore;
            FramePool::set_max_cached(4 * 64);
            CHECK(FramePool::max_cached() == 4 * 64);
            std::vector<void*> blocks(10);
            for (void*& block : blocks) block = FramePool::allocate(64);
            const AllocationLog freeing = counted([&] {
                for (void* block : blocks) FramePool::deallocate(block, 64);
            });
            CHECK(freeing.deletes == 6);
            CHECK(FramePool::cached_bytes() == 4 * 64);
            const AllocationLog again = counted([&] {
                for (void*& block : blocks) block = FramePool::allocate(64);
            });
            CHECK(again.news == 6);
            CHECK(FramePool::cached_bytes() == 0);
            for (void* block : blocks) FramePool::deallocate(block, 64);
        });
    }

    TEST_CASE("a cap of zero keeps nothing: every block goes to operator new and back") {
        on_a_new_thread([] {
            CapRestorer restore;
            FramePool::set_max_cached(0);
            void* block = FramePool::allocate(64);
            const AllocationLog freeing = counted([&] { FramePool::deallocate(block, 64); });
            const AllocationLog again = counted([&] { block = FramePool::allocate(64); });
            CHECK(freeing.deletes == 1);
            CHECK(again.news == 1);
            CHECK(FramePool::cached_bytes() == 0);
            FramePool::deallocate(block, 64);
        });
    }

    TEST_CASE("the cap is each thread's own") {
        on_a_new_thread([] {
            CapRestorer restore;
            FramePool::set_max_cached(0);
            std::size_t other_cap = 0, other_kept = 0;
            std::thread([&] {
                other_cap = FramePool::max_cached();
                FramePool::deallocate(FramePool::allocate(64), 64);
                other_kept = FramePool::cached_bytes();
            }).join();
            CHECK(other_cap == FramePool::default_max_cached);
            CHECK(other_kept == 64);
        });
    }
}

TEST_SUITE("frame pool: threads") {
    TEST_CASE("a block freed on another thread is kept there, and serves that thread's requests") {
        on_a_new_thread([] {
            std::vector<void*> blocks(8);
            for (void*& block : blocks) block = FramePool::allocate(100);  // class of 97..112
            std::vector<void*> reused(blocks.size());
            std::size_t kept_there = 0;
            AllocationLog there;
            std::thread([&] {
                for (void* block : blocks) FramePool::deallocate(block, 100);
                kept_there = FramePool::cached_bytes();
                there = counted([&] {
                    for (void*& block : reused) block = FramePool::allocate(112);
                });
                // The largest request of the class: the blocks must hold all of it.
                for (void* block : reused) fill(block, 0xcd, 112);
                for (void* block : reused) FramePool::deallocate(block, 112);
            }).join();
            CHECK(kept_there == 8 * 112);
            CHECK(there.news == 0);
            CHECK_MESSAGE(FramePool::cached_bytes() == 0,
                          "the thread that made the blocks keeps some, though it freed none");
            std::sort(blocks.begin(), blocks.end());
            std::sort(reused.begin(), reused.end());
            CHECK(blocks == reused);
        });
    }

    TEST_CASE("the blocks a thread keeps go back to operator delete when it ends") {
        AllocationLog at_exit;
        std::vector<void*> kept;
        on_a_new_thread([&] {
            for (std::size_t size : {16, 40, 40, 300, 1024}) {
                void* block = FramePool::allocate(size);
                kept.push_back(block);
                FramePool::deallocate(block, size);
            }
            log_thread_exit(at_exit);
        });
        int still_kept = 0;
        for (void* block : kept) {
            if (!at_exit.was_deleted(block)) ++still_kept;
        }
        CHECK_MESSAGE(still_kept == 0,
                      still_kept << " block(s) kept by the thread were never given back");
    }

    TEST_CASE("a block freed after its thread's pool is gone goes to operator delete") {
        // A thread_local made before the pool's first kept block is destroyed after the pool
        // gave its blocks back, at the thread's end; a block it frees then must not be kept.
        struct FreesLate {
            void* block = nullptr;
            ~FreesLate() {
                if (block != nullptr) FramePool::deallocate(block, 48);
            }
        };
        AllocationLog at_exit;
        void* late = nullptr;
        void* kept = nullptr;
        on_a_new_thread([&] {
            thread_local FreesLate frees_late;  // made first, destroyed last
            frees_late.block = late = FramePool::allocate(48);
            kept = FramePool::allocate(48);
            FramePool::deallocate(kept, 48);  // the first block this thread keeps
            log_thread_exit(at_exit);
        });
        CHECK(at_exit.was_deleted(kept));
        CHECK_MESSAGE(at_exit.was_deleted(late),
                      "a block freed after the pool gave its blocks back was kept, and leaked");
    }

    TEST_CASE("threads passing blocks to one another never share one, and keep within their cap") {
        // Four threads in a ring: each makes blocks of many classes, writes its mark in every
        // byte, and passes them to the next, which checks the marks and frees them. A block
        // handed out twice at once would carry another thread's mark.
        constexpr int threads = 4;
        constexpr int rounds = 300;
        constexpr int blocks_each = 16;
        struct Mailbox {
            std::mutex mutex;
            std::vector<std::pair<unsigned char*, std::size_t>> blocks;  // under mutex
        };
        std::array<Mailbox, threads> mailboxes;
        std::atomic<int> senders_done{0};
        std::atomic<int> wrong_marks{0}, over_cap{0}, gave_up{0};
        std::atomic<long> received{0};
        auto receive = [&](int me) {
            std::vector<std::pair<unsigned char*, std::size_t>> mail;
            {
                std::lock_guard lock(mailboxes[static_cast<std::size_t>(me)].mutex);
                mail.swap(mailboxes[static_cast<std::size_t>(me)].blocks);
            }
            for (auto [block, size] : mail) {
                const unsigned char mark = block[0];
                for (std::size_t i = 0; i < size; ++i) {
                    if (block[i] != mark) {
                        ++wrong_marks;
                        break;
                    }
                }
                FramePool::deallocate(block, size);
            }
            received += static_cast<long>(mail.size());
            return mail.empty();
        };
        std::vector<std::thread> ring;
        for (int me = 0; me < threads; ++me) {
            ring.emplace_back([&, me] {
                CapRestorer restore;
                FramePool::set_max_cached(64 * 1024);
                Mailbox& next = mailboxes[static_cast<std::size_t>((me + 1) % threads)];
                for (int round = 0; round < rounds; ++round) {
                    std::vector<std::pair<unsigned char*, std::size_t>> made;
                    for (int i = 0; i < blocks_each; ++i) {
                        const std::size_t size =
                            1 + static_cast<std::size_t>((round * 37 + i * 61 + me * 11) % 1100);
                        auto* block = static_cast<unsigned char*>(FramePool::allocate(size));
                        fill(block, (round * threads + me) % 251, size);
                        made.emplace_back(block, size);
                    }
                    {
                        std::lock_guard lock(next.mutex);
                        next.blocks.insert(next.blocks.end(), made.begin(), made.end());
                    }
                    receive(me);
                    if (FramePool::cached_bytes() > FramePool::max_cached()) ++over_cap;
                }
                ++senders_done;
                const bool drained = testing::eventually([&] {
                    const bool all_sent = senders_done.load() == threads;  // before the look
                    const bool nothing_came = receive(me);
                    return all_sent && nothing_came;
                });
                if (!drained) ++gave_up;
            });
        }
        for (std::thread& thread : ring) thread.join();
        REQUIRE(gave_up.load() == 0);
        CHECK(received.load() == long{threads} * rounds * blocks_each);
        CHECK_MESSAGE(wrong_marks.load() == 0, "a block was handed to two owners at once");
        CHECK(over_cap.load() == 0);
    }
}

TEST_SUITE("frame pool: coroutine frames") {
    TEST_CASE("a coroutine's frame comes from the pool and goes back to it") {
        on_a_new_thread([] {
            int value = 0;
            const AllocationLog first = counted([&] {
                ex::Lazy<int> job = answer();
                value = job.get();
            });
            CHECK(value == 42);
            CHECK(first.news == 1);
            CHECK_MESSAGE(first.deletes == 0,
                          "the frame went to operator delete: the promise type has no operator "
                          "delete of the pool's");
            CHECK(FramePool::cached_bytes() > 0);
            const AllocationLog second = counted([&] {
                ex::Lazy<int> job = answer();
                value = job.get();
            });
            CHECK(value == 42);
            CHECK_MESSAGE(second.news == 0,
                          "the second coroutine's frame did not reuse the first's block");
            CHECK(second.deletes == 0);
        });
    }

    TEST_CASE("a thousand frames alive at once are made again without operator new") {
        on_a_new_thread([] {
            constexpr long count = 1000;
            std::vector<ex::Lazy<long>> jobs;
            jobs.reserve(count);
            long sum = 0;
            auto burst = [&] {
                for (long n = 0; n < count; ++n) jobs.push_back(square(n));
                for (ex::Lazy<long>& job : jobs) sum += job.get();
                jobs.clear();  // destroys every frame
            };
            const AllocationLog first = counted(burst);
            const AllocationLog second = counted(burst);
            CHECK(first.news == count);
            CHECK(first.deletes == 0);
            CHECK(second.news == 0);
            CHECK(second.deletes == 0);
            CHECK(sum == 2 * (count - 1) * count * (2 * count - 1) / 6);
        });
    }

    TEST_CASE("a frame bigger than max_block comes from operator new and goes back to it") {
        on_a_new_thread([] {
            int sum = 0;
            const AllocationLog log = counted([&] {
                ex::Lazy<int> job = sum_of_a_big_buffer(1);
                sum = job.get();
            });
            CHECK(sum == 2 * static_cast<int>(FramePool::max_block));
            CHECK(log.news == 1);
            CHECK(log.last_new_size > FramePool::max_block);
            CHECK(log.deletes == 1);
            CHECK(FramePool::cached_bytes() == 0);
        });
    }

    TEST_CASE("a frame destroyed on another thread is reused there") {
        on_a_new_thread([] {
            ex::Lazy<int> job = answer();  // its frame made here
            AllocationLog there;
            int values = 0;
            std::thread([&] {
                values += job.get();
                job = answer();  // the first frame is destroyed here, and its block kept
                there = counted([&] {
                    ex::Lazy<int> next = answer();
                    values += next.get();
                });
                values += job.get();
            }).join();
            CHECK(values == 3 * 42);
            CHECK(there.news == 0);
        });
    }
}
