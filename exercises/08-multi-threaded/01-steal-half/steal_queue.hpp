// Exercise 08-01 (starter): a worker's run queue for a work-stealing scheduler, a fixed ring
// buffer of task pointers (chapter 8's rt/multi_thread/local_queue.hpp, after Tokio's
// runtime/scheduler/multi_thread/queue.rs). One thread, the owner, pushes at the back and pops
// at the front; any other thread may steal, and a thief takes half of what it finds, rounded up,
// in one claim. Compiles; the body marked TODO(exercise) is yours: steal_into. The rest (the
// owner's push_back and pop, len, the Injector) is written, and shows how the indices are used.
// Once it is done: every task pushed comes out exactly once (popped, stolen, or moved to the
// overflow queue), the owner's in the order it pushed them; no operation waits for another
// thread (an overflow takes the injector's lock, nothing else does); a thief never takes more
// than half.
//
// The indices. `tail_` is where the owner pushes next; only the owner writes it. `head_` packs
// two indices in one atomic word, so that one load reads both and one compare-and-swap changes
// both at once:
//  - `real`: the first task still in the queue; the owner's pop and a thief's claim advance it;
//  - `steal`: equal to `real` while no thief is at work. A thief that has claimed the tasks from
//    `steal` up to its new `real` leaves `steal` where it was until it has copied them: the
//    owner does not write over the slots from `steal` on, and a second thief sees
//    `steal != real` and backs off.
//
//         steal        real                      tail
//           v            v                         v
//     ... | claimed by a thief | the owner's tasks | free ...          (slot = index % Capacity)
//
// The indices are never reset: they count up and wrap at 2^32 (2^16 with `Index` = uint16_t,
// Tokio's choice where a 64-bit atomic is missing). A difference of two indices, computed in
// `Index` arithmetic, is a count even across the wrap; `Capacity` is a power of two, so that it
// divides 2^32 and `index % Capacity` still names consecutive slots across it. (With uint16_t,
// `tail - real` is computed in int after promotion: every difference is cast back to `Index`.)
//
// The ABA problem: a thief reads `head_`, then `tail_`, then swaps `head_` if it is unchanged.
// If the indices went all the way round meanwhile (2^32 pops while the thief was preempted), the
// swap would succeed on a head that only looks unchanged, with a stale tail, and claim slots
// that hold other tasks or none. With 32-bit indices that takes billions of operations during
// one preemption; with 16-bit ones, 65,536 pops: possible, which is why the 16-bit variant is
// for single-threaded tests of the wrap, not for threads.
//
// The memory orders are given, with the operation each pairs with, next to every atomic
// operation below; the protocols are numbered: push (P), pop (O), steal (S).
#pragma once

#include <array>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <type_traits>

namespace ex {

/// Where a full queue sends its overflow: a FIFO queue of tasks under a mutex, shared by every
/// thread (the runtime's "global injection queue"). It counts the batches it received, so that a
/// test can see that an overflow came in one batch.
template <class T>
class Injector {
public:
    /// Any thread: append `batch`, in its order, under one lock.
    void push_batch(std::span<T* const> batch) {
        std::lock_guard lock(mutex_);
        items_.insert(items_.end(), batch.begin(), batch.end());
        ++batches_;
    }

    /// Any thread: the oldest task, or nullptr if there is none.
    T* pop() {
        std::lock_guard lock(mutex_);
        if (items_.empty()) return nullptr;
        T* task = items_.front();
        items_.pop_front();
        return task;
    }

    /// Any thread: how many tasks wait here now.
    std::size_t len() const {
        std::lock_guard lock(mutex_);
        return items_.size();
    }

    /// Any thread: how many batches push_batch has received.
    std::size_t batches() const {
        std::lock_guard lock(mutex_);
        return batches_;
    }

private:
    mutable std::mutex mutex_;  // guards the two members below
    std::deque<T*> items_;      // oldest first
    std::size_t batches_ = 0;   // calls of push_batch so far
};

/// A ring buffer of `Capacity` pointers to T, the run queue of one worker. The owner calls
/// push_back, pop and steal_into (stealing into its own queue from another's); any thread may
/// call len and is_empty. The queue does not own the tasks: a task must outlive its time in it.
template <class T, std::size_t Capacity = 256, class Index = std::uint32_t>
class StealQueue {
    static_assert(std::is_same_v<Index, std::uint32_t> || std::is_same_v<Index, std::uint16_t>,
                  "the indices are 32-bit (a 64-bit head) or 16-bit (a 32-bit head)");
    static_assert(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0,
                  "a power of two, so that index % Capacity stays consecutive across the wrap");
    static_assert(Capacity <= (std::size_t{1} << (8 * sizeof(Index) - 1)),
                  "a count of tasks must fit in an Index");

    /// Two indices side by side: `steal` in the high half, `real` in the low half.
    using Head =
        std::conditional_t<std::is_same_v<Index, std::uint32_t>, std::uint64_t, std::uint32_t>;

public:
    static constexpr std::size_t capacity = Capacity;

    StealQueue() = default;
    StealQueue(const StealQueue&) = delete;
    StealQueue& operator=(const StealQueue&) = delete;

    /// Any thread: how many tasks are in the queue (claimed by a thief not included). A
    /// snapshot: other threads may change it at once. Exact for the owner when no thief is at
    /// work; on another thread head and tail are read one after the other, and the owner may
    /// pop and push in between, so the count may be off (never negative).
    std::size_t len() const noexcept {
        // acquire: pairs with the release of whichever compare-and-swap wrote this head (the
        // owner's pop or overflow, a thief's release of its claim). That writer had seen a tail
        // at least as large as `real`, so the tail read next is too: the length is never negative.
        const Index real = real_of(head_.load(std::memory_order_acquire));
        // relaxed: the acquire above already makes this tail at least as new as the one that
        // head's writer had seen; no slot is read here.
        const Index tail = tail_.load(std::memory_order_relaxed);
        return static_cast<Index>(tail - real);
    }

    /// Any thread: whether the queue holds no task (a snapshot, as len).
    bool is_empty() const noexcept { return len() == 0; }

    /// Owner only: queue `task` at the back. If the queue is full, half of its tasks (the
    /// oldest) and `task` go to `overflow` instead, in one batch, in their order; if it is full
    /// while a thief is copying, `task` alone goes there.
    void push_back(T* task, Injector<T>& overflow) {
        // P1. Our own tail: only this thread writes it, relaxed is enough.
        const Index tail = tail_.load(std::memory_order_relaxed);
        for (;;) {
            // P2. acquire: pairs with a thief's release of its claim (S6). The slots below the
            // `steal` read here have been copied out, and the thief's reads of them happen
            // before our writes: no slot is written while a thief may still read it.
            const Head head = head_.load(std::memory_order_acquire);
            const Index steal = steal_of(head);
            const Index real = real_of(head);
            // P3. Room while tail - steal < Capacity (and not tail - real: the slots from
            // `steal` to `real` are claimed, still being read).
            if (static_cast<Index>(tail - steal) < Capacity) {
                buffer_[tail % Capacity] = task;
                // P4. release: pairs with a thief's acquire of tail (S3): a thief that sees the
                // new tail also sees the pointer in its slot, and all this thread wrote before
                // the push (the task's own state included).
                tail_.store(static_cast<Index>(tail + 1), std::memory_order_release);
                return;
            }
            // P5. Full, and a thief is copying: it will free the slots it claimed soon, but the
            // owner does not wait for another thread. The task alone goes to the overflow queue.
            if (steal != real) {
                T* const one[] = {task};
                overflow.push_batch(one);
                return;
            }
            // P6. Full, no thief: claim the oldest half as a thief would, and move it.
            if (move_half_out(real, task, overflow)) return;
            // P7. A thief claimed between P2 and P6: start again (there is room now, or the
            // thief is still copying).
        }
    }

    /// Owner only: the task at the front (the oldest), or nullptr if the queue is empty.
    T* pop() noexcept {
        // O1. relaxed: the pop reads nothing another thread wrote (the slots hold pointers that
        // this thread wrote), and the compare-and-swap below fails if head has moved since.
        Head head = head_.load(std::memory_order_relaxed);
        for (;;) {
            const Index steal = steal_of(head);
            const Index real = real_of(head);
            if (real == tail_.load(std::memory_order_relaxed)) return nullptr;  // ours
            // O2. Take the slot at `real`. With no thief at work, both indices move; with one,
            // only `real` does: `steal` still marks the slots the thief is reading.
            const Index next_real = static_cast<Index>(real + 1);
            const Head next = steal == real ? pack(next_real, next_real) : pack(steal, next_real);
            // O3. release: pairs with a thief's acquire of head (S1). The thief that sees the
            // new `real` then reads a tail at least as new as this thread's, so `tail - real`
            // cannot come out negative. On failure (a thief claimed, or released its claim)
            // relaxed: the head it returns is only compared again.
            if (head_.compare_exchange_weak(head, next, std::memory_order_release,
                                            std::memory_order_relaxed)) {
                // The slot is ours alone: a thief claims only from `real` on.
                return buffer_[real % Capacity];
            }
        }
    }

    /// Called by the owner of `destination`: move half of this queue's tasks, rounded up, from
    /// its front to the back of `destination`, and return one of them (the last) to run at
    /// once; the others wait in `destination`. nullptr if this queue is empty, if another thief
    /// is at work on it, or if `destination` holds more than half its capacity.
    T* steal_into(StealQueue& destination) noexcept {
        // TODO(exercise): the protocol, step by step (README.md has it with a diagram):
        //  S0. room: if destination's tail - steal (its own head_, read with acquire) is more
        //      than Capacity / 2, return nullptr: a steal may bring up to Capacity / 2 tasks;
        //  S1. read this queue's head_ (acquire), then, in a loop:
        //  S2. steal != real: another thief is copying; return nullptr;
        //  S3. read tail_ (acquire: it pairs with the owner's release in push_back, P4);
        //      count = half of tail - real, rounded up; none: return nullptr. (The owner may
        //      have popped and pushed since S1, so tail - real may exceed Capacity: then head
        //      has changed too, and the claim fails);
        //  S4. claim: compare-and-swap head_ from (steal, real) to (steal, real + count); on
        //      failure the swap gives the new head: go back to S2 with it;
        //  S5. copy the claimed pointers into destination's slots from its tail on;
        //  S6. release the claim: compare-and-swap head_ to (real, real), in a loop, since the
        //      owner may pop meanwhile (it moves real, never steal);
        //  S7. publish all but the last in destination (a release store of its tail), and
        //      return the last.
        // Every difference of indices is cast back to Index (16-bit ones promote to int), and a
        // slot is index % Capacity. Which memory order each step needs, and why: HINTS.md.
        (void)destination;
        return nullptr;
    }

private:
    static constexpr int bits = 8 * sizeof(Index);
    static constexpr Head pack(Index steal, Index real) noexcept {
        return static_cast<Head>((Head{steal} << bits) | Head{real});
    }
    static constexpr Index steal_of(Head head) noexcept { return static_cast<Index>(head >> bits); }
    static constexpr Index real_of(Head head) noexcept { return static_cast<Index>(head); }

    /// P6, the queue full and no thief at work: claim its oldest half, move it with `task` to
    /// `overflow` in one batch. False if head is no longer (real, real): a thief claimed first.
    bool move_half_out(Index real, T* task, Injector<T>& overflow) {
        constexpr Index half = Capacity / 2;
        const Index moved_to = static_cast<Index>(real + half);
        Head expected = pack(real, real);
        // release: as O3, a thief that sees the new `real` must read a tail at least as new.
        // relaxed on failure: push_back reads head again (P2, acquire).
        if (!head_.compare_exchange_strong(expected, pack(moved_to, moved_to),
                                           std::memory_order_release, std::memory_order_relaxed)) {
            return false;
        }
        // The slots [real, real + half) are ours alone now: no thief claims below `real`.
        std::array<T*, half + 1> batch;
        for (Index i = 0; i < half; ++i)
            batch[i] = buffer_[static_cast<Index>(real + i) % Capacity];
        batch[half] = task;
        overflow.push_batch(batch);  // one lock for half a queue
        return true;
    }

    // head_ is written by thieves, tail_ and the slots by the owner: separate cache lines, so
    // that a thief's claim does not invalidate the line the owner pushes through.
    alignas(64) std::atomic<Head> head_{0};   // (steal, real), packed
    alignas(64) std::atomic<Index> tail_{0};  // the next index the owner pushes at
    std::array<T*, Capacity> buffer_{};       // slot i % Capacity holds the task of index i
};

}  // namespace ex
