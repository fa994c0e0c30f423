// A worker's own run queue: a fixed ring buffer of 256 task pointers. One thread, the worker
// that owns it, pushes and pops; any other worker may steal from it, and a thief takes half of
// what it finds in one go (Tokio's `queue::Local` and `queue::Steal`). The owner's push and pop
// take no lock, and a pop is one compare-and-swap that a thief only rarely disturbs.
//
// The indices. `tail` is where the owner pushes next; only the owner writes it. `head` is two
// 32-bit indices packed in one 64-bit atomic word, so that one operation reads or changes both:
//  - `real`: the first task still in the queue; the owner's pop and a thief's claim advance it;
//  - `steal`: equal to `real` when no thief is at work. A thief that claims the tasks from
//    `steal` to its new `real` leaves `steal` behind while it copies them out, so the owner
//    knows those slots are still being read and does not write over them.
// The indices count for ever and wrap at 2^32; a slot is `index % 256`; a difference of two
// indices, in unsigned arithmetic, is a count even across the wrap.
//
// Steal-half, and the race each step avoids (steal_into, below):
//  1. read head; if steal != real another thief is copying: give up (two thieves would claim
//     overlapping slots, and the owner would not know which are free);
//  2. read tail (acquire: pairs with the owner's release in push, so the slots up to tail hold
//     the tasks written there); n = half of tail - real, rounded up;
//  3. claim: compare-and-swap head from (steal, real) to (steal, real + n). From now on the
//     owner's pops start after the claimed tasks, and its pushes stop before slot `steal`: the
//     claimed slots are the thief's to read. If the CAS fails, the owner popped or another
//     thief claimed first: start again at 1;
//  4. copy the n tasks into the thief's own queue (behind its tail, which only it writes);
//  5. release the claim: compare-and-swap head from (steal, new real) to (new real, new real).
//     This can fail only because the owner popped meanwhile (it moves `real` and leaves
//     `steal`): retry with the new `real`. Only now may the owner overwrite those slots;
//  6. publish the copies in the thief's queue with a release store of its tail, keeping one
//     task back to run at once.
// A thief that claimed before it read tail could take slots the owner has not filled; one that
// released the claim before copying could read slots the owner already overwrote.
//
// Overflow: a full queue (256 tasks between `steal` and `tail`) moves half of them, with the
// new task, to the runtime's global queue in one batch (one lock for 129 tasks), unless a thief
// is at work, in which case only the new task goes there.
//
// Guarantees: every task pushed is popped or stolen exactly once (or moved to the global
// queue), in FIFO order for the owner; no operation blocks; a thief never takes more than half.
#pragma once

#include <array>
#include <atomic>
#include <cassert>
#include <cstdint>

#include "rt/ready_queue.hpp"  // TaskList
#include "rt/sync/primitives.hpp"
#include "rt/task.hpp"

namespace rt::detail {

class LocalQueue {
public:
    static constexpr std::uint32_t capacity = 256;

    LocalQueue() = default;
    LocalQueue(const LocalQueue&) = delete;
    LocalQueue& operator=(const LocalQueue&) = delete;

    /// Tasks in the queue, as the owner sees them.
    std::uint32_t len() const noexcept {
        const auto [steal, real] = unpack(head_.load(std::memory_order_acquire));
        (void)steal;
        return tail_.load(std::memory_order_acquire) - real;
    }
    bool is_empty() const noexcept { return len() == 0; }

    /// Free slots, for the owner: it may push that many without overflowing.
    std::uint32_t remaining_slots() const noexcept {
        const auto [steal, real] = unpack(head_.load(std::memory_order_acquire));
        (void)real;
        return capacity - (tail_.load(std::memory_order_relaxed) - steal);
    }

    // snippet-begin: local-push
    /// Owner only: queue `task` at the back. When the queue is full, half of it and `task`
    /// go to `overflow` instead (a callable taking a TaskList& and its length). Returns true if
    /// it overflowed.
    template <class Overflow>
    bool push_back(Task* task, Overflow&& overflow) {
        for (;;) {
            const std::uint64_t head = head_.load(std::memory_order_acquire);
            const auto [steal, real] = unpack(head);
            const std::uint32_t tail = tail_.load(std::memory_order_relaxed);  // ours
            if (tail - steal < capacity) {
                buffer_[tail % capacity] = task;
                // release: a thief that reads this tail (acquire) reads the task in its slot.
                tail_.store(tail + 1, std::memory_order_release);
                return false;
            }
            if (steal != real) {  // full, and a thief is copying: it will free half soon
                TaskList one;
                one.push_back(task);
                overflow(one, 1);
                return true;
            }
            if (move_half_out(real, tail, task, overflow)) return true;
            // A thief claimed meanwhile: there is room now.
        }
    }
    // snippet-end: local-push

    /// Owner only: push tasks that are known to fit (remaining_slots() says how many).
    void push_back_unchecked(Task* task) noexcept {
        const std::uint32_t tail = tail_.load(std::memory_order_relaxed);
        buffer_[tail % capacity] = task;
        tail_.store(tail + 1, std::memory_order_release);
    }

    // snippet-begin: local-pop
    /// Owner only: the task at the front, or null.
    Task* pop() noexcept {
        std::uint64_t head = head_.load(std::memory_order_acquire);
        for (;;) {
            const auto [steal, real] = unpack(head);
            if (real == tail_.load(std::memory_order_relaxed)) return nullptr;
            // With no thief at work both indices move; with one, only `real`: `steal` marks the
            // slots it still reads.
            const std::uint64_t next =
                steal == real ? pack(real + 1, real + 1) : pack(steal, real + 1);
            // acq_rel: acquire pairs with a thief's release of its claim; release pairs with
            // the thief's acquire when it reads head.
            if (head_.compare_exchange_weak(head, next, std::memory_order_acq_rel,
                                            std::memory_order_acquire)) {
                return buffer_[real % capacity];
            }
        }
    }
    // snippet-end: local-pop

    // snippet-begin: steal-into
    /// A thief (the owner of `destination`, which must be empty enough for half of this queue):
    /// move half of this queue's tasks, rounded up, into `destination`, and return one of
    /// them to run now; null if there was nothing to take or another thief is at work.
    /// `stolen` counts the tasks taken.
    Task* steal_into(LocalQueue& destination, std::uint64_t& stolen) noexcept {
        const std::uint32_t destination_tail = destination.tail_.load(std::memory_order_relaxed);
        // Room for half of a full queue: the destination's own thieves may hold slots too.
        const auto [destination_steal, destination_real] =
            unpack(destination.head_.load(std::memory_order_acquire));
        (void)destination_real;
        if (destination_tail - destination_steal > capacity / 2) return nullptr;

        std::uint64_t head = head_.load(std::memory_order_acquire);
        std::uint32_t first = 0;
        std::uint32_t count = 0;
        for (;;) {
            const auto [steal, real] = unpack(head);
            if (steal != real) return nullptr;  // step 1: another thief is copying
            const std::uint32_t tail = tail_.load(std::memory_order_acquire);  // step 2
            const std::uint32_t available = tail - real;
            count = available - available / 2;
            if (count == 0) return nullptr;
            // Step 3: claim [real, real + count); `steal` stays, marking them as being read.
            const std::uint64_t claimed = pack(steal, real + count);
            if (head_.compare_exchange_weak(head, claimed, std::memory_order_acq_rel,
                                            std::memory_order_acquire)) {
                first = real;
                head = claimed;
                break;
            }
        }
        // Step 4: copy into the destination, behind its tail (only we write there).
        for (std::uint32_t i = 0; i < count; ++i) {
            destination.buffer_[(destination_tail + i) % capacity] =
                buffer_[(first + i) % capacity];
        }
        // Step 5: release the claim. Only the owner's pops change head meanwhile, moving `real`.
        for (;;) {
            const auto [steal, real] = unpack(head);
            assert(steal == first);
            (void)steal;
            if (head_.compare_exchange_weak(head, pack(real, real), std::memory_order_acq_rel,
                                            std::memory_order_acquire)) {
                break;
            }
        }
        stolen += count;
        // Step 6: keep the last one to run now; publish the others.
        Task* run_now = destination.buffer_[(destination_tail + count - 1) % capacity];
        if (count > 1) {
            destination.tail_.store(destination_tail + count - 1, std::memory_order_release);
        }
        return run_now;
    }
    // snippet-end: steal-into

private:
    static constexpr std::uint64_t pack(std::uint32_t steal, std::uint32_t real) noexcept {
        return (std::uint64_t{steal} << 32) | real;
    }
    struct Indices {
        std::uint32_t steal;
        std::uint32_t real;
    };
    static constexpr Indices unpack(std::uint64_t head) noexcept {
        return {static_cast<std::uint32_t>(head >> 32), static_cast<std::uint32_t>(head)};
    }

    /// The queue is full and no thief is at work: claim its first half as a thief would,
    /// and hand it with `task` to `overflow`. False if a thief claimed first.
    template <class Overflow>
    bool move_half_out(std::uint32_t real, std::uint32_t tail, Task* task, Overflow& overflow) {
        constexpr std::uint32_t half = capacity / 2;
        assert(tail - real == capacity);
        (void)tail;
        std::uint64_t expected = pack(real, real);
        // release: nothing to publish, but harmless; acquire on failure: we start again.
        if (!head_.compare_exchange_strong(expected, pack(real + half, real + half),
                                           std::memory_order_acq_rel, std::memory_order_acquire)) {
            return false;
        }
        TaskList batch;
        for (std::uint32_t i = 0; i < half; ++i) batch.push_back(buffer_[(real + i) % capacity]);
        batch.push_back(task);
        overflow(batch, half + 1);
        return true;
    }

    // The owner writes tail_, and the slots between steal and real are the thieves' to read;
    // the two atomics are on separate cache lines, away from the buffer's first slots.
    alignas(64) Atomic<std::uint64_t> head_{0};  // (steal, real)
    alignas(64) Atomic<std::uint32_t> tail_{0};
    std::array<Task*, capacity> buffer_{};
};

}  // namespace rt::detail
