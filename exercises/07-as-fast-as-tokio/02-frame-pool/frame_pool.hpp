// Exercise 07-02 (starter): ex::FramePool, a per-thread pool of memory blocks in size classes,
// for coroutine frames and whatever else a runtime makes and frees by the thousand. Compiles, and
// works as no pool at all (everything goes to operator new and delete); the bodies marked
// TODO(exercise) are yours: class_of, block_bytes, allocate, deallocate and the Releaser's
// destructor. The per-thread State, the cap and release_at_exit are written.
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
        // TODO(exercise): 1..16 -> 0, 17..32 -> 1, ..., 1009..1024 -> 63; and 0 -> 0.
        (void)size;
        return 0;
    }

    /// The size of every block of class `index`: the largest request of the class.
    static constexpr std::size_t block_bytes(std::size_t index) noexcept {
        // TODO(exercise): 0 -> 16, 1 -> 32, ..., 63 -> 1024.
        (void)index;
        return granule;
    }

    /// Memory for `size` bytes, aligned like operator new's. Give it back with deallocate and
    /// the same size, on any thread.
    static void* allocate(std::size_t size) {
        // TODO(exercise):
        //  - bigger than max_block: operator new, at `size`;
        //  - else, if the class's free list (state.free[class_of(size)]) has a block: unlink the
        //    first, take its bytes off state.cached, return it;
        //  - else operator new, at the class's full size (why? README.md, and the tests of
        //    blocks freed on another thread).
        return ::operator new(size);
    }

    /// Give back a block of allocate(size): the calling thread keeps it if it may.
    static void deallocate(void* memory, std::size_t size) noexcept {
        // TODO(exercise): keep the block if this thread may: its size is at most max_block, the
        // pool is not gone, and the class's block_bytes still fit under state.max_cached. To keep
        // it: call release_at_exit() (once the thread keeps a block, it must give it back when it
        // ends), write a Block at the start of the memory (placement new) linking it to the
        // front of its class's list, and count its bytes in state.cached. Otherwise, operator
        // delete.
        (void)size;
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
            // TODO(exercise): mark the pool gone (a block freed after this must not be kept:
            // nobody would give it back), then give every block of every list to operator delete,
            // and leave the lists empty and state.cached at 0.
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
