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
// Guarantees: allocate(n) returns memory for n bytes aligned like operator new, and every
// block of a size class, wherever it came from, holds the class's largest size; a block goes
// back with the same n. Each thread keeps at most `max_cached` bytes; beyond that, and for
// bigger blocks, blocks go to operator new and delete. At thread exit the blocks go back too.
// Under AddressSanitizer the pool is off: recycled memory would hide a use after free from it.
// Types aligned beyond what operator new gives (alignas(64)) do not come here: their
// class-scope operator new takes the alignment, and goes to operator new.
#pragma once

#include <cstddef>
#include <new>

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
    static constexpr std::size_t max_cached = std::size_t{16} << 20;  // per thread

    static void* allocate(std::size_t size) {
        if (!enabled || size > max_block) return ::operator new(size);
        const std::size_t index = class_of(size);
        if (!state.gone) {
            if (Block* block = state.free[index]) {
                state.free[index] = block->next;
                state.cached -= block_bytes(index);
                return block;
            }
        }
        // The class's full size, even on a thread whose pool is gone: the block may be freed
        // on another thread, kept in this class there, and handed out for any request of the
        // class, up to block_bytes(index).
        return ::operator new(block_bytes(index));
    }

    static void deallocate(void* memory, std::size_t size) noexcept {
        if (enabled && size <= max_block && !state.gone) {
            const std::size_t index = class_of(size);
            if (state.cached + block_bytes(index) <= max_cached) {
                release_at_exit();
                state.free[index] = new (memory) Block{state.free[index]};
                state.cached += block_bytes(index);
                return;
            }
        }
        ::operator delete(memory);
    }

private:
    struct Block {
        Block* next;
    };
    static constexpr std::size_t classes = max_block / granule;
    static std::size_t class_of(std::size_t size) noexcept {
        return size == 0 ? 0 : (size - 1) / granule;
    }
    static std::size_t block_bytes(std::size_t index) noexcept { return (index + 1) * granule; }

    /// Trivially destructible, so that it is never destroyed: a frame freed late in a thread's
    /// exit (by another thread_local's destructor) still finds it, with `gone` set.
    struct State {
        Block* free[classes];
        std::size_t cached;
        bool gone;
    };
    /// Gives the blocks back at thread exit, and from then on sends every block straight to
    /// operator delete.
    struct Releaser {
        ~Releaser() {
            State& s = state;
            s.gone = true;
            for (std::size_t index = 0; index < classes; ++index) {
                while (Block* block = s.free[index]) {
                    s.free[index] = block->next;
                    ::operator delete(block);
                }
            }
            s.cached = 0;
        }
    };

    /// Makes sure this thread's Releaser exists: called before a block is kept, so that only
    /// keeping pays for the check, and allocating (a pop from a list) does not.
    static void release_at_exit() noexcept {
        thread_local Releaser releaser;  // constructed on the first call on this thread
        (void)releaser;
    }
    static inline thread_local State state{};
};

/// The pool as a standard allocator, for std::allocate_shared: the state a oneshot channel's
/// two ends share (rt/sync/oneshot.hpp) is made and freed as often as tasks are.
template <class T>
struct PoolAllocator {
    using value_type = T;
    PoolAllocator() = default;
    template <class U>
    PoolAllocator(const PoolAllocator<U>&) noexcept {}
    static constexpr bool over_aligned = alignof(T) > __STDCPP_DEFAULT_NEW_ALIGNMENT__;
    T* allocate(std::size_t n) {
        if constexpr (over_aligned) {  // the pool's blocks are aligned like operator new only
            return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(alignof(T))));
        } else {
            return static_cast<T*>(FramePool::allocate(n * sizeof(T)));
        }
    }
    void deallocate(T* p, std::size_t n) noexcept {
        if constexpr (over_aligned) {
            ::operator delete(p, std::align_val_t(alignof(T)));  // unsized, as in rt/task.hpp
        } else {
            FramePool::deallocate(p, n * sizeof(T));
        }
    }
    template <class U>
    bool operator==(const PoolAllocator<U>&) const noexcept {
        return true;
    }
};

}  // namespace rt::detail
