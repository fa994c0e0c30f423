// Exercise 07-02 (solution): ex::FramePool, a per-thread pool of memory blocks in size classes,
// for coroutine frames and whatever else a runtime makes and frees by the thousand.
//
// Requests up to `max_block` bytes are rounded up to a whole `granule`: each multiple of the
// granule is a size class, with a free list of its own on every thread. A block freed goes to
// the freeing thread's list for its class (newest first: its memory is likely in the cache
// still), and the next request of that class on that thread takes it, without operator new.
// The rules that keep it correct:
//  - a block is always as big as its class's largest request: a miss asks operator new for the
//    class's full size, so the block may serve any request of its class later, on any thread;
//  - a block is just memory: one made on one thread may be freed on another, and joins that
//    thread's list;
//  - a thread keeps at most `max_cached()` bytes; beyond that, and for requests bigger than
//    `max_block`, blocks go to operator new and operator delete as if there were no pool;
//  - when a thread ends, the blocks it keeps go back to operator delete, and a block freed on
//    that thread after that (by the destructor of another thread_local) too.
#pragma once

#include <cstddef>
#include <new>

namespace ex {

class FramePool {
public:
    /// Sizes are rounded up to a multiple of this; it is also the alignment operator new gives
    /// (__STDCPP_DEFAULT_NEW_ALIGNMENT__ on x86-64), which every block keeps.
    static constexpr std::size_t granule = 16;
    /// The largest request the pool serves; bigger ones go to operator new.
    static constexpr std::size_t max_block = 1024;
    /// How many size classes there are: 1..16 bytes, 17..32, ..., 1009..1024.
    static constexpr std::size_t classes = max_block / granule;
    /// What a thread keeps at most unless set_max_cached says otherwise.
    static constexpr std::size_t default_max_cached = std::size_t{16} << 20;

    /// The size class of a request of `size` bytes (at most max_block): 0 for 0 to 16 bytes,
    /// 1 for 17 to 32, and so on.
    static constexpr std::size_t class_of(std::size_t size) noexcept {
        return size == 0 ? 0 : (size - 1) / granule;
    }

    /// The size of every block of class `index`: the largest request of the class.
    static constexpr std::size_t block_bytes(std::size_t index) noexcept {
        return (index + 1) * granule;
    }

    /// Memory for `size` bytes, aligned like operator new's. Give it back with deallocate and
    /// the same size, on any thread.
    static void* allocate(std::size_t size) {
        if (size > max_block) return ::operator new(size);
        const std::size_t index = class_of(size);
        State& s = state;
        if (Block* block = s.free[index]) {  // empty once the pool is gone: a miss
            s.free[index] = block->next;
            s.cached -= block_bytes(index);
            return block;
        }
        // The class's full size: the block may be kept later and serve any request of the class.
        return ::operator new(block_bytes(index));
    }

    /// Give back a block of allocate(size): the calling thread keeps it if it may.
    static void deallocate(void* memory, std::size_t size) noexcept {
        State& s = state;
        if (size <= max_block && !s.gone) {
            const std::size_t index = class_of(size);
            if (s.cached + block_bytes(index) <= s.max_cached) {
                release_at_exit();
                s.free[index] = new (memory) Block{s.free[index]};
                s.cached += block_bytes(index);
                return;
            }
        }
        ::operator delete(memory);
    }

    /// The bytes the calling thread keeps now, in blocks ready to be handed out again.
    static std::size_t cached_bytes() noexcept { return state.cached; }

    /// What the calling thread may keep from now on (blocks kept already stay). 0 turns its
    /// pool off: every block goes to operator new and back.
    static void set_max_cached(std::size_t bytes) noexcept { state.max_cached = bytes; }
    static std::size_t max_cached() noexcept { return state.max_cached; }

private:
    /// A free block: its first bytes link it to the next free block of its class.
    struct Block {
        Block* next;
    };

    /// One thread's pool. Trivially destructible, so that it is never destroyed: a block freed
    /// late in the thread's exit still finds it, with `gone` set.
    struct State {
        Block* free[classes] = {};                    // a list per class, newest first
        std::size_t cached = 0;                       // the bytes of every block in `free`
        std::size_t max_cached = default_max_cached;  // what the thread may keep
        bool gone = false;                            // the thread is ending: keep nothing
    };

    /// Gives the thread's blocks back when it ends, and marks its pool gone.
    struct Releaser {
        ~Releaser() {
            State& s = state;
            s.gone = true;  // from now on, deallocate keeps nothing
            for (Block*& head : s.free) {
                while (Block* block = head) {
                    head = block->next;
                    ::operator delete(block);
                }
            }
            s.cached = 0;
        }
    };

    /// Makes sure the calling thread's Releaser exists: called before a block is kept, so that
    /// only keeping pays for the check. The first call constructs it, and registers its
    /// destructor to run when the thread ends.
    static void release_at_exit() noexcept {
        thread_local Releaser releaser;
        (void)releaser;
    }

    /// The calling thread's pool (defined below the class, where State is complete).
    static thread_local State state;
};

// Constant-initialised and trivially destructible: no code runs to make it or to destroy it.
inline thread_local FramePool::State FramePool::state{};

}  // namespace ex
