// FramePool: recycles the memory of coroutine frames and tasks, per thread (new in chapter 7).
//
// Every spawn allocates a block, the task with its future, and every coroutine a block for its
// frame (one block for both, since a spawned coroutine's task lives in room in front of its
// frame: rt/coroutine.hpp), and frees them when the task is done. Workloads that spawn thousands of
// short tasks at once do this in bursts: thousands of blocks of a few sizes, freed and
// allocated again. The C library's allocator keeps only a handful of freed blocks of each size
// at hand (7, in glibc's per-thread cache); the rest go back to its bins, where freeing merges
// neighbours and allocating splits them again. Measured with perf on the benchmarks'
// ping_pong, that was a third of the time (docs/benchmarks.md).
//
// The pool keeps freed blocks of every size up to `max_block` in a free list per size class
// (multiples of 16 bytes), on the thread that freed them, and hands them out again, newest
// first (its memory is likely still in the cache). A block is just memory: one allocated on
// one thread may be freed to another thread's pool and reused there.
//
// Slabs. The C library puts 8 bytes of its own in front of every block and rounds the whole up
// to 16: a 192-byte block costs 208, and a million idle tasks 16 MB more than their blocks. So
// the pool does not ask it for blocks one by one: it asks for a slab of about a megabyte and
// cuts blocks of one class off it, as they are needed, end to end. The price is that a block never
// goes back to the C library: a process keeps the pool's memory at its peak, for its next
// burst of tasks. What a thread does not need goes to the depot (below), where any thread takes
// it again before it makes a new slab.
//
// The depot. A thread keeps at most `max_cached` bytes of free blocks; when it frees more, it
// hands the whole list of the class it freed into to the depot, one batch, under the depot's
// mutex. A thread whose list of a class is empty takes a batch from the depot before it cuts a
// new block, and a thread that exits hands all its blocks over. So a block freed on a thread
// that never allocates (a runtime thread that finishes the tasks another thread spawns) comes
// back into use, and the mutex is taken once per batch, never per block.
//
// New in chapter 8: `max_cached` is 1 MiB, not 16. With workers, a task is often spawned on one
// worker and completes on another, so every worker frees blocks that another allocates. With
// 16 MiB a worker kept freeing into its own lists while the spawning worker cut new slabs,
// touching fresh pages: ping_pong on two workers took 3,353 page faults a run; with 1 MiB the
// blocks go back through the depot sooner, and it took 903 (`perf stat -e page-faults`).
//
// Guarantees: allocate(n) returns memory for n bytes aligned like operator new, and every
// block of a size class, wherever it came from, holds the class's largest size; a block goes
// back with a size in the same class. Bigger blocks go to operator new and delete.
// Under AddressSanitizer the pool is off: recycled memory would hide a use after free from it.
// Types aligned beyond what operator new gives (alignas(64)) do not come here: their
// class-scope operator new takes the alignment, and goes to operator new.
#pragma once

#include <cstddef>
#include <mutex>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace rt::detail {

class FramePool {
public:
// GCC says AddressSanitizer with __SANITIZE_ADDRESS__, clang with __has_feature.
#if defined(__SANITIZE_ADDRESS__)
    static constexpr bool enabled = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    static constexpr bool enabled = false;
#else
    static constexpr bool enabled = true;
#endif
#else
    static constexpr bool enabled = true;
#endif
    static constexpr std::size_t granule = 16;
    static constexpr std::size_t max_block = 1024;
    static constexpr std::size_t max_cached = std::size_t{1} << 20;  // per thread
    /// 1 MiB with the C library's own 16 bytes: glibc maps a request this big on its own, and
    /// the 16 bytes make it exactly 256 pages. Only the pages that blocks are cut from become
    /// resident.
    static constexpr std::size_t slab_bytes = (std::size_t{1} << 20) - 16;

    static void* allocate(std::size_t size) {
        if (!enabled || size > max_block) return ::operator new(size);
        const std::size_t index = class_of(size);
        State& s = state;
        if (Block* block = s.free[index]) {
            ++s.handed_out;
            s.free[index] = block->next;
            s.cached[index] -= block_bytes(index);
            s.total -= block_bytes(index);
            return block;
        }
        return refill(index);
    }

    /// The blocks the pool has served on this thread, from its lists, the depot or a slab: what
    /// the tests and the demo count, for a counting operator new sees a slab, not the blocks
    /// cut from it. (Blocks the pool does not serve come from operator new, which counts them.)
    static std::size_t handed_out() noexcept { return state.handed_out; }

    static void deallocate(void* memory, std::size_t size) noexcept {
        if (!enabled || size > max_block) {
            ::operator delete(memory);
            return;
        }
        const std::size_t index = class_of(size);
        State& s = state;
        if (s.gone) {  // late in the thread's exit: straight to the depot
            Depot::put(index, Batch{new (memory) Block{nullptr}, block_bytes(index)});
            return;
        }
        release_at_exit();
        s.free[index] = new (memory) Block{s.free[index]};
        s.cached[index] += block_bytes(index);
        if ((s.total += block_bytes(index)) > max_cached) {
            s.total -= s.cached[index];
            Depot::put(index, Batch{std::exchange(s.free[index], nullptr),
                                    std::exchange(s.cached[index], 0)});
        }
    }

private:
    struct Block {
        Block* next;
    };
    /// A list of free blocks of one class, and their bytes.
    struct Batch {
        Block* head;
        std::size_t bytes;
    };
    /// The part of a slab that no block of its class has been cut from yet.
    struct Uncut {
        std::byte* from;
        std::size_t bytes;
    };
    static constexpr std::size_t classes = max_block / granule;
    static std::size_t class_of(std::size_t size) noexcept {
        return size == 0 ? 0 : (size - 1) / granule;
    }
    static std::size_t block_bytes(std::size_t index) noexcept { return (index + 1) * granule; }

    /// The process's memory for blocks that no thread keeps: per class, batches of free blocks
    /// and uncut parts of slabs, under a mutex. Last in, first out.
    class Depot {
    public:
        template <class Part>
        static void put(std::size_t index, Part part) noexcept {
            if (part.bytes == 0) return;
            Depot& depot = the();
            const std::lock_guard lock(depot.mutex_);
            try {
                depot.parts<Part>()[index].push_back(part);
            } catch (const std::bad_alloc&) {
                // No memory for the entry: that memory stays unused, and that is all.
            }
        }
        /// A part of class `index`, or an empty one.
        template <class Part>
        static Part take(std::size_t index) noexcept {
            Depot& depot = the();
            const std::lock_guard lock(depot.mutex_);
            std::vector<Part>& parts = depot.parts<Part>()[index];
            if (parts.empty()) return Part{nullptr, 0};
            const Part part = parts.back();
            parts.pop_back();
            return part;
        }

    private:
        /// Never destroyed: a thread may free a block during the process's exit.
        static Depot& the() {
            static Depot* const depot = new Depot();
            return *depot;
        }
        template <class Part>
        std::vector<Part>* parts() noexcept {
            if constexpr (std::is_same_v<Part, Batch>) {
                return batches_;
            } else {
                return uncut_;
            }
        }
        std::mutex mutex_;
        std::vector<Batch> batches_[classes];
        std::vector<Uncut> uncut_[classes];
    };

    /// Trivially destructible, so that it is never destroyed: a frame freed late in a thread's
    /// exit (by another thread_local's destructor) still finds it, with `gone` set.
    struct State {
        Block* free[classes];         // the free list of each class...
        std::size_t cached[classes];  // ...and its bytes
        std::size_t total;            // the bytes in all of them
        Uncut uncut[classes];         // where the next block of each class is cut from
        std::size_t handed_out;       // blocks asked for, ever (handed_out())
        bool gone;
    };

    /// A thread's list of the class is empty: a batch from the depot, else a block cut from
    /// the thread's slab of the class, else from an uncut part in the depot, else from a new
    /// slab. Out of line: the hot path is the pop in allocate.
    [[gnu::noinline]] static void* refill(std::size_t index) {
        State& s = state;
        const std::size_t bytes = block_bytes(index);
        // A thread whose pool is gone keeps nothing: the block comes from operator new, at the
        // class's full size, for it may be freed on another thread, kept in this class there,
        // and handed out for the class's largest size.
        if (s.gone) return ::operator new(bytes);
        release_at_exit();  // what the thread takes now goes back to the depot at its exit
        ++s.handed_out;
        if (const Batch batch = Depot::take<Batch>(index); batch.head != nullptr) {
            s.free[index] = batch.head->next;
            s.cached[index] = batch.bytes - bytes;
            s.total += batch.bytes - bytes;
            return batch.head;
        }
        Uncut& uncut = s.uncut[index];
        if (uncut.bytes == 0) uncut = Depot::take<Uncut>(index);
        if (uncut.bytes == 0) {
            const std::size_t slab = slab_bytes / bytes * bytes;  // whole blocks, no tail
            uncut = Uncut{static_cast<std::byte*>(::operator new(slab)), slab};
        }
        uncut.bytes -= bytes;
        return std::exchange(uncut.from, uncut.from + bytes);
    }

    /// Hands the thread's memory to the depot at its exit, and from then on sends every block
    /// freed on it there. The uncut part of a slab goes first, so that the free blocks, the
    /// ones most likely in the cache, come out of the depot first.
    struct Releaser {
        ~Releaser() {
            State& s = state;
            s.gone = true;
            for (std::size_t index = 0; index < classes; ++index) {
                Depot::put(index, std::exchange(s.uncut[index], Uncut{nullptr, 0}));
                Depot::put(index, Batch{std::exchange(s.free[index], nullptr),
                                        std::exchange(s.cached[index], 0)});
            }
            s.total = 0;
        }
    };

    /// Makes sure this thread's Releaser exists: called before the thread keeps a block or
    /// makes a slab, so that only those pay for the check, and allocating (a pop from a list)
    /// does not.
    static void release_at_exit() noexcept {
        thread_local Releaser releaser;  // constructed on the first call on this thread
        (void)releaser;
    }
    static inline thread_local State state{};
};

}  // namespace rt::detail
