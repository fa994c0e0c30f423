// A spawned task: one heap allocation holding the future, its output until a JoinHandle takes
// it, a reference count and the scheduling state. A Waker is one counted reference to a task,
// and waking it puts the task in its executor's ready queue, at most once however many times
// it is woken. A JoinHandle is one more reference.
//
// New in chapter 7: a task is a header (this file's Task and Joinable: 64 bytes for a task
// with no value) followed by its future. For a hand-written future the two are one object,
// TaskCell<F>. For a coroutine the header lives in room that the coroutine's operator new
// reserves in front of the frame (CoroutineCell, rt/coroutine.hpp), so a spawned coroutine
// costs one allocation, not two: the memory layout of Tokio's task cell.
//
// The scheduling protocol (one atomic state word). New in chapter 8: several threads poll, so
// a task must never be polled by two of them at once, and the RUNNING bit is what ensures it.
//  1. wake: set SCHEDULED. If it was already set, the task is queued (or about to be): stop.
//     If RUNNING is set, a worker is polling it: stop too, that worker queues it again at
//     step 3. Otherwise take a reference for the queue and push the task. Many wakes, one
//     entry, and never a second copy of a task that is being polled.
//  2. a worker pops the task and, in one operation, clears SCHEDULED and sets RUNNING, *before*
//     polling. A wake that arrives while the future runs must queue the task again: the future
//     may already have looked at its event source, found nothing, and be about to return
//     pending. Clearing after the poll would swallow that wake (a lost wakeup).
//  3. after a pending poll, the worker clears RUNNING, and if SCHEDULED was set meanwhile (a
//     wake during the poll, from this thread or another) it queues the task again itself,
//     with the reference it popped it with. Until RUNNING is clear no other thread queues
//     the task, so no other worker can pop it while this one still polls.
//  4. a task whose future returned ready (or was destroyed at shutdown) is COMPLETE: wakes
//     still set SCHEDULED but queue nothing, and no worker polls it again.
//  5. abort, from any thread: set ABORTED, then wake the task as in step 1. The worker that
//     pops it finds ABORTED at step 2 and destroys the future instead of polling it. A task
//     that completes first stays completed: abort comes too late.
//
// New in chapter 10: a task may have statistics (rt/metrics/task_stats.hpp), reached through
// the word that points to its scheduler (a tagged pointer: below, at scheduler_). Its wakers
// then count themselves, and its wakes, polls and completion are recorded; without statistics
// each of those hooks is one test of a bit that is clear, and the poll's is none: begin_poll
// finds the state's copy of the bit (`measured`) in the test it makes anyway.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "rt/frame_pool.hpp"
#include "rt/future.hpp"
#include "rt/metrics/task_stats.hpp"
#include "rt/sync/primitives.hpp"
#include "rt/sync/spin_lock.hpp"
#include "rt/waker.hpp"

namespace rt {

/// A task was aborted, or its executor shut down, before its future completed: what awaiting
/// its JoinHandle throws (Tokio's JoinError::Cancelled).
class TaskAborted : public std::runtime_error {
public:
    TaskAborted() : std::runtime_error("the task was aborted before it completed") {}
};

/// What happens to an exception that ended a task nobody awaited (new in chapter 8): its
/// JoinHandle was dropped, or the task detached, before anyone took the outcome. It is handed
/// to this function when the task is freed, on whichever thread frees it; by default it is
/// printed on stderr, as Tokio prints a panic. A program, or a test, may set its own, before
/// its runtimes start; it must not throw.
using UnawaitedExceptionHandler = void (*)(std::exception_ptr) noexcept;

inline void print_unawaited_exception(std::exception_ptr error) noexcept {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& thrown) {
        std::fprintf(stderr, "rt: a task ended with an exception nobody awaited: %s\n",
                     thrown.what());
    } catch (...) {
        std::fputs("rt: a task ended with an exception nobody awaited\n", stderr);
    }
}

inline std::atomic<UnawaitedExceptionHandler> unawaited_exception_handler{
    &print_unawaited_exception};

namespace detail {

/// Hands `error` to the handler, then destroys it: the failed case of ~Joinable, out of line
/// and cold. Inlined into every task's destructor, the report and the exception_ptr's release
/// cost 12 instructions a task in spawn_many, where no task fails (2.6% of the run, counted
/// by callgrind); out of line, none.
[[gnu::cold, gnu::noinline]] inline void report_unawaited_exception(
    std::exception_ptr& error) noexcept {
    unawaited_exception_handler.load(std::memory_order_relaxed)(error);
    error.~exception_ptr();
}

}  // namespace detail

}  // namespace rt

namespace rt::detail {

class Scheduler;
template <class T>
class CoroutineCell;

class Task {
public:
    /// The task is in the ready queue, or a waker has claimed the right to put it there.
    static constexpr std::uint8_t scheduled = 1;
    /// The future has completed or was destroyed; the task will never be polled again.
    static constexpr std::uint8_t complete = 2;
    /// abort() was called: the executor destroys the future at its next turn instead of
    /// polling it. Never cleared; meaningless once COMPLETE is set.
    static constexpr std::uint8_t aborted = 4;
    /// A worker is polling the future (new in chapter 8): wakes set SCHEDULED only.
    static constexpr std::uint8_t running = 8;
    /// The task has statistics (new in chapter 10): set at spawn, with them, and never
    /// cleared. The tagged pointer (scheduler_, below) says the same; this copy lets
    /// begin_poll tell a poll to measure in the test it already makes of the state, so that
    /// a poll without statistics costs no test more than in chapter 9.
    static constexpr std::uint8_t measured = 16;

    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;

    /// Tasks, like coroutine frames, come from the frame pool (rt/frame_pool.hpp). `delete
    /// this` below passes the size of the most derived TaskCell, the destructor being virtual.
    static void* operator new(std::size_t size) { return FramePool::allocate(size); }
    static void operator delete(void* task, std::size_t size) noexcept {
        FramePool::deallocate(task, size);
    }
    /// A future aligned beyond what operator new gives (alignas(64)) makes its TaskCell so
    /// too: `new` then passes the alignment, and the task bypasses the pool, whose blocks are
    /// aligned like operator new only.
    static void* operator new(std::size_t size, std::align_val_t align) {
        return ::operator new(size, align);
    }
    static void operator delete(void* task, std::size_t, std::align_val_t align) noexcept {
        ::operator delete(task, align);  // unsized: clang declares the sized one only on request
    }

    /// Take one more reference. Relaxed: a new reference is always made from an existing
    /// one, so the task cannot be freed meanwhile (the same argument as std::shared_ptr).
    void ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }

    /// Drop `n` references (the executor drops its own and the queue's at once when a task
    /// completes); the last one frees the task. acq_rel: every use of the task by other
    /// holders happens-before the delete by the last one.
    void unref(std::uint32_t n = 1) noexcept {
        if (refs_.fetch_sub(n, std::memory_order_acq_rel) == n) destroy();
    }

    /// Step 1 of the protocol: queue the task unless it is queued already, running or
    /// complete. (Defined in scheduler.hpp, which knows the scheduler.)
    void schedule();

    /// Step 1 for a waker woken by value (new in chapter 7): the waker's reference becomes the
    /// queue's, or is dropped if the task is queued already. One atomic operation where
    /// schedule and then unref took three.
    void schedule_with_reference();

    /// Step 3, after a pending poll: clear RUNNING. True if the task was woken during the poll
    /// (by another thread, or by itself: polling_woke_itself): the caller then queues it again
    /// with the reference it popped it with, at the back, as a yield. Otherwise that reference
    /// is dropped. The polling thread only.
    /// `recorded`: stats(), which the poller holds (new in chapter 10; see finish).
    bool end_poll(bool woke_itself, TaskStats* recorded);

    /// Neither queued, nor running, nor complete (new in chapter 10, for the lost-waker check).
    bool idle() const noexcept;

    /// "running", "scheduled" or "idle", for the metrics (new in chapter 10).
    const char* state_name() const noexcept {
        const std::uint8_t state = state_.load(std::memory_order_relaxed);
        if ((state & running) != 0) return "running";
        if ((state & scheduled) != 0) return "scheduled";
        return "idle";
    }

    /// What the executor does with a task it popped. poll_measured (new in chapter 10): poll
    /// a task that has statistics, and measure the poll.
    enum class Turn { skip, poll, cancel, poll_measured };

    /// Step 2: called by the executor just before polling. Says whether to poll the future,
    /// to destroy it (step 5), or to leave a complete task alone.
    // snippet-begin: begin-poll
    Turn begin_poll() noexcept {
        // One fetch_xor clears SCHEDULED (set: the task was queued) and sets RUNNING (clear: no
        // worker polls a task that is not queued). acq_rel. No wake or abort is lost:
        // read-modify-writes of one atomic word have a single modification order, so a
        // waker's fetch_or comes either after this one, and sees RUNNING, or before it, and
        // then this acquire pairs with its release: the poll sees what that thread wrote
        // before. Release: the poll of the worker that ran the task last (its end_poll
        // released) happens-before whatever a later wake's acquire is followed by.
        const std::uint8_t before =
            state_.fetch_xor(scheduled | running, std::memory_order_acq_rel);
        // New in chapter 10: one test for the usual case, a poll without statistics; the
        // rest is told apart after it. Chapter 9 tested `complete` and `aborted` one by one.
        if ((before & (complete | aborted | measured)) == 0) [[likely]]
            return Turn::poll;
        if ((before & complete) != 0) return Turn::skip;
        if ((before & aborted) != 0) return Turn::cancel;
        return Turn::poll_measured;
    }
    // snippet-end: begin-poll

    /// Step 4: ask the executor to destroy the future. Any thread; returns at once.
    // snippet-begin: abort
    void abort() {
        // release: pairs with the acquire in begin_poll. acquire: pairs with the release of
        // finish(). Seeing `complete` needs no order: an RMW reads the word's latest value.
        const std::uint8_t before = state_.fetch_or(aborted, std::memory_order_acq_rel);
        if ((before & (aborted | complete)) != 0) return;  // already asked, or too late
        schedule();  // a worker learns of it at the task's next turn, which this queues
    }
    // snippet-end: abort

    /// Poll the future once with this task's waker. Returns true when it completed.
    virtual bool poll() = 0;

    /// Step 3: destroy the future now (its destructor may release wakers, files, memory)
    /// and make the task complete. The polling thread only. Out of line, as in chapter 9.
    [[gnu::noinline]] void finish() { finish(stats()); }
    /// The same, for a poller that read `stats()` before the poll (new in chapter 10), and
    /// inlined there: the poll is a call the compiler cannot see into, so it would have to read
    /// the task's word again, and a task without statistics pays one test of a register.
    [[gnu::always_inline]] void finish(TaskStats* recorded) {
        state_.fetch_or(complete, std::memory_order_release);
        if (recorded != nullptr) [[unlikely]]
            retire_stats();  // new in chapter 10: no longer a live task
        drop_future();
    }

    /// During a poll, when the executor holds two references (its own, and the queue's it
    /// popped the task with): whether anyone else holds one. If nobody does, there is no
    /// JoinHandle, and none can ever be made again: the outcome would be for nobody. acquire:
    /// a JoinHandle dropped on another thread is done with the task.
    bool polled_and_detached() const noexcept { return refs_.load(std::memory_order_acquire) == 2; }

    /// A new Waker for this task (takes a reference).
    Waker waker() {
        ref();
        if (TaskStats* recorded = stats()) [[unlikely]] {
            recorded->wakers.fetch_add(1, std::memory_order_relaxed);
        }
        return Waker(RawWaker{this, &waker_vtable});
    }

    // Intrusive links of the list of live tasks: the executor's, or a worker's of the
    // multi-threaded runtime (rt/multi_thread/owned_tasks.hpp); touched by its thread only.
    Task* prev_live = nullptr;
    Task* next_live = nullptr;
    // A run queue's link (rt/ready_queue.hpp, rt/multi_thread/inject.hpp): a task is in one
    // list at a time, at most.
    Task* next_ready = nullptr;
    /// This task's statistics, if its runtime keeps them (new in chapter 10,
    /// rt/metrics/task_stats.hpp); null otherwise, and every hook tests it.
    TaskStats* stats() const noexcept {
        if ((scheduler_ & has_stats) == 0) [[likely]]
            return nullptr;
        return reinterpret_cast<TaskStats*>(scheduler_ & ~has_stats);
    }
    /// The runtime's scheduler, which the task holds a reference to.
    Scheduler* scheduler() const noexcept {
        if (TaskStats* recorded = stats()) [[unlikely]]
            return recorded->scheduler;
        return reinterpret_cast<Scheduler*>(scheduler_);
    }
    /// Give the task its statistics: at spawn, before any other thread can see the task.
    void attach_stats(TaskStats* recorded) noexcept {
        recorded->scheduler = scheduler();
        scheduler_ = reinterpret_cast<std::uintptr_t>(recorded) | has_stats;
        state_.fetch_or(measured, std::memory_order_relaxed);  // for begin_poll
    }

protected:
    /// A new task is born scheduled, with three references: the executor's, the JoinHandle's
    /// and the ready queue's, for spawn queues it at once. (New in chapter 7: setting them
    /// here, where nobody else can see the task yet, saves spawn three atomic operations.)
    /// The task holds one of the scheduler's own references (Scheduler::retain).
    explicit Task(Scheduler* scheduler) noexcept : refs_(3), state_(scheduled) { adopt(scheduler); }
    /// A task not spawned yet: the header in front of a coroutine's frame (rt/coroutine.hpp),
    /// before spawn adopts it with `born_scheduled`.
    Task() noexcept : refs_(0), state_(0) {}
    void born_scheduled(Scheduler* scheduler) noexcept {
        refs_.store(3, std::memory_order_relaxed);
        state_.store(scheduled, std::memory_order_relaxed);
        adopt(scheduler);
    }
    virtual ~Task();
    virtual void drop_future() = 0;
    /// Free the task: its last reference is gone. A TaskCell deletes itself; a CoroutineCell
    /// frees the block it shares with its coroutine's frame.
    virtual void destroy() noexcept = 0;
    /// Spawned: a scheduler adopted the task. Before, it is only the room in front of a frame.
    /// New in chapter 10, the hint: chapter 9 compared a pointer with null, which GCC guesses
    /// to be non-null; the integer of the tagged pointer gets no such guess, and
    /// CoroutineCell::frame_destroyed then saved a register at every task's end (3
    /// instructions a task in spawn_many) to spare the rare frame never spawned.
    bool spawned() const noexcept { return __builtin_expect(scheduler_ != 0, 1); }

    // snippet-begin: waker-ref
    /// The waker of one poll (new in chapter 7). It borrows the reference the executor holds
    /// while it polls, instead of taking one of its own: the task cannot be freed during its
    /// poll, and a future that keeps the waker clones it, which takes a reference then. So a
    /// poll costs no increment and no decrement of the count (Tokio's WakerRef).
    class WakerRef {
    public:
        explicit WakerRef(Task* task) noexcept : waker_(RawWaker{task, &waker_vtable}) {}
        WakerRef(const WakerRef&) = delete;
        WakerRef& operator=(const WakerRef&) = delete;
        ~WakerRef() {}  // waker_ is deliberately not destroyed: it owns no reference to drop
        const Waker& get() const noexcept { return waker_; }

    private:
        union {
            Waker waker_;  // in a union, so that its destructor runs only if called
        };
    };
    // snippet-end: waker-ref

private:
    static Task* from(const void* data) { return static_cast<Task*>(const_cast<void*>(data)); }
    // New in chapter 10: with statistics, the wakers alive are counted (rt/metrics/
    // task_stats.hpp), in the order the lost-waker check needs (waker_dropped, scheduler.hpp).
    static RawWaker clone_waker(const void* data) {
        Task* task = from(data);
        task->ref();
        if (TaskStats* recorded = task->stats()) [[unlikely]] {
            recorded->wakers.fetch_add(1, std::memory_order_relaxed);
        }
        return RawWaker{data, &waker_vtable};
    }
    // snippet-begin: wake-by-value
    static void wake_waker(const void* data) {
        Task* task = from(data);
        if (TaskStats* recorded = task->stats()) [[unlikely]] {
            // Queue first, then count the waker gone: whoever sees the count drop also sees
            // the task queued, and does not take it for lost.
            task->schedule();
            recorded->wakers.fetch_sub(1, std::memory_order_acq_rel);
            task->unref();
            return;
        }
        task->schedule_with_reference();
    }
    // snippet-end: wake-by-value
    static void wake_waker_by_ref(const void* data) { from(data)->schedule(); }
    static void drop_waker(const void* data) {
        Task* task = from(data);
        if (task->stats() != nullptr) [[unlikely]]
            task->waker_dropped();
        task->unref();
    }
    void waker_dropped();          // the count of wakers, and the lost-waker check (scheduler.hpp)
    void retire_stats() noexcept;  // the task leaves the live ones (scheduler.hpp)
    void forget_stats() noexcept;  // the task is freed (scheduler.hpp)
    static constexpr RawWakerVTable waker_vtable{&clone_waker, &wake_waker, &wake_waker_by_ref,
                                                 &drop_waker};
    void adopt(Scheduler* scheduler) noexcept;  // retain the scheduler (scheduler.hpp)

    // The scheduler, one of its references: it outlives the executor while wakers exist (8
    // bytes; chapter 6's shared_ptr took 16). New in chapter 10, a tagged pointer: with the low
    // bit set, it points to the task's statistics instead, which hold the scheduler's pointer.
    // A pointer of its own would have made every task 16 bytes larger (its allocation's size
    // class is a multiple of 16), and spawn_many 9% slower with statistics off (chapter 10's
    // "Measured"). Both objects are aligned to 8 bytes, so the low bit is free.
    static constexpr std::uintptr_t has_stats = 1;
    std::uintptr_t scheduler_ = 0;
    Atomic<std::uint32_t> refs_;  // see the constructor
    // scheduled | complete | aborted | running: one byte (new in chapter 7), and followed by
    // one-byte fields only, Joinable's, so that they fill the padding after it.
    Atomic<std::uint8_t> state_;

public:
    // One byte that two users take in turn, in room padding would waste (new in chapter 8):
    // while the task is live, the multi-threaded runtime keeps here which worker's list of
    // live tasks it is in (rt/multi_thread/owned_tasks.hpp), and reads it before the future
    // goes; once a coroutine's frame is destroyed, its CoroutineCell keeps the size of its
    // block here (rt/coroutine.hpp).
    std::uint8_t spare_byte = 0;
};

/// The output of a task whose future's Output is void.
struct Done {};

/// A place for one Waker, empty or not, in 16 bytes: std::optional<Waker> takes 24, for its
/// flag. Empty is a null vtable, as in a moved-from Waker.
class WakerSlot {
public:
    WakerSlot() = default;
    WakerSlot(const WakerSlot&) = delete;
    WakerSlot& operator=(const WakerSlot&) = delete;
    ~WakerSlot() { take(); }

    /// Keep a clone of `waker`, unless the slot holds one that wakes the same task; the waker
    /// it replaces is handed back, for the caller to drop where it likes (after its lock).
    std::optional<Waker> store(const Waker& waker) {
        const RawWaker& other = waker.as_raw();
        if (raw_.data == other.data && raw_.vtable == other.vtable) return {};  // will_wake
        std::optional<Waker> replaced = take();
        raw_ = other.vtable->clone(other.data);  // the reference a copy of `waker` would own
        return replaced;
    }
    /// Empty the slot, handing back what it held.
    std::optional<Waker> take() noexcept {
        if (raw_.vtable == nullptr) return {};
        return Waker(std::exchange(raw_, RawWaker{}));
    }

private:
    RawWaker raw_;  // owns the reference a Waker would own; null vtable when empty
};

/// A task whose future produces a T: the slot where its outcome waits for the JoinHandle.
///
/// The join protocol. The executor's thread writes the outcome once; a JoinHandle, from any
/// task on any thread, reads it. Both sides take `join_lock_`, so "no outcome yet, keep my
/// waker" (poll_join) and "here is the outcome, give me the waker" (set_outcome) cannot
/// interleave: either the handle sees the outcome, or the executor sees the handle's waker
/// and wakes it. The wake happens after the lock is released, like every wake in the runtime.
/// New in chapter 7, 16 bytes for a task with no value, where chapter 6 took 80:
///  - the lock is a one-byte SpinLock (rt/sync/spin_lock.hpp) where a std::mutex took 40
///    bytes of every task; the critical sections are a few instructions;
///  - the outcome's state is a one-byte tag beside the lock, not a std::variant's;
///  - the handle's waker and what the future threw share 16 bytes: the waker is kept only
///    while there is no outcome, and the exception only once there is one. set_outcome takes
///    the waker out and puts the exception in, in one critical section. (A value has room of
///    its own: it is moved in before the lock is taken, for a move may run any code, which a
///    SpinLock's critical section must not. Tokio's task cell goes further and keeps the
///    output where the future was; here the two stay apart, as the frame is the compiler's.)
template <class T>
class Joinable : public Task {
public:
    using Value = std::conditional_t<std::is_void_v<T>, Done, T>;

    /// The outcome if there is one, else keep cx's waker to wake when it comes. Ready with the
    /// value; throws what the future threw, or TaskAborted.
    Poll<T> poll_join(Context& cx) {
        std::optional<Waker> replaced;  // declared before the lock: dropped after it
        std::uint8_t state;
        {
            std::lock_guard lock(join_lock_);
            state = outcome_.load(std::memory_order_relaxed);
            if (state == running) {
                replaced = joiner_.store(cx.waker());
                return pending;
            }
            // The value or error is ours to move out.
            if (state != taken) outcome_.store(taken, std::memory_order_relaxed);
        }
        // Past the lock: the executor never touches an outcome once it is set.
        switch (state) {
            case failed: {
                std::exception_ptr error = std::move(error_);
                error_.~exception_ptr();
                std::rethrow_exception(error);
            }
            case cancelled:
                throw TaskAborted();
            case taken:
                throw std::logic_error("a JoinHandle was awaited again after it gave its result");
            default:
                break;
        }
        if constexpr (std::is_void_v<T>) {
            return ready;
        } else {
            T value = std::move(value_.value);
            value_.value.~T();
            return value;
        }
    }

    /// The future completed, threw, or was destroyed: there is an outcome to take.
    bool has_outcome() {
        std::lock_guard lock(join_lock_);
        return outcome_.load(std::memory_order_relaxed) != running;
    }

protected:
    // The unions' members are constructed and destroyed by hand, as the outcome's state says.
    Joinable() noexcept { new (&joiner_) WakerSlot(); }
    explicit Joinable(Scheduler* scheduler) noexcept : Task(scheduler) {
        new (&joiner_) WakerSlot();
    }
    // snippet-begin: unawaited
    ~Joinable() override {
        switch (outcome_.load(std::memory_order_relaxed)) {  // last owner: nobody else looks
            case running:
                joiner_.~WakerSlot();  // drops a waker left by a handle that has gone since
                break;
            case finished:
                if constexpr (!std::is_void_v<T>) value_.value.~T();
                break;
            case failed:  // never taken: nobody awaited it (new in chapter 8)
                report_unawaited_exception(error_);  // and destroys it
                break;
            default:  // cancelled or taken: nothing is left
                break;
        }
    }
    // snippet-end: unawaited

    /// The outcome's states: no outcome yet; the future's value; what it threw; it was
    /// destroyed before completing; the JoinHandle took the outcome, or nobody will.
    enum : std::uint8_t { running, finished, failed, cancelled, taken };

    /// Record the outcome unless there is one already, and wake the JoinHandle's task.
    /// Executor's thread only, like everything that writes the outcome.
    template <std::uint8_t State, class... Args>
    void set_outcome(Args&&... args) {
        // Only this thread moves the outcome away from `running`, so it may read it unlocked.
        if (outcome_.load(std::memory_order_relaxed) != running) return;
        if constexpr (State == finished && !std::is_void_v<T>) {
            new (&value_.value) T(std::forward<Args>(args)...);
        }
        std::optional<Waker> joiner;
        {
            std::lock_guard lock(join_lock_);
            joiner = joiner_.take();
            joiner_.~WakerSlot();
            if constexpr (State == failed)
                new (&error_) std::exception_ptr(std::forward<Args>(args)...);
            // Published by the unlock: a handle that sees the state sees the value.
            outcome_.store(State, std::memory_order_relaxed);
        }
        if (joiner) std::move(*joiner).wake();
    }

    /// Poll the future once, through `poll_future(cx)`, with a waker that borrows the
    /// executor's reference, and record the outcome if it is ready (or threw). Returns true
    /// when the future is done. TaskCell and CoroutineCell poll their futures through it.
    template <class PollFuture>
    bool poll_with(PollFuture poll_future) {
        const WakerRef waker(this);  // borrows the executor's reference
        Context cx(waker.get());
        std::exception_ptr error;
        try {
            if constexpr (std::is_void_v<T>) {
                if (poll_future(cx).is_pending()) return false;
                if (polled_and_detached()) return forsake_outcome(), true;
                set_outcome<finished>();
            } else {
                Poll<T> result = poll_future(cx);
                if (result.is_pending()) return false;
                if (polled_and_detached()) return forsake_outcome(), true;
                set_outcome<finished>(std::move(result).value());
            }
        } catch (...) {
            error = std::current_exception();
        }
        // An exception ends the task as a value would: it is the task's outcome, for the
        // JoinHandle to rethrow. The executor and the other tasks carry on. New in chapter 8:
        // published after the handler, not in it. The exception in flight holds a reference
        // to the exception object until the handler ends; published from inside it, the
        // object could reach the JoinHandle's thread while this worker still holds that
        // reference, and whichever thread dropped the last one would free it. Now the
        // JoinHandle's side is always last.
        set_outcome<failed>(std::move(error));
        return true;
    }

    /// The task is detached (polled_and_detached): its outcome is for nobody, so it is neither
    /// stored nor published; no lock is taken (new in chapter 7, for tasks spawned and
    /// forgotten). Executor's thread, during the poll. A handle that polled and then went away
    /// may have left its waker: it is dropped here.
    void forsake_outcome() noexcept {
        joiner_.~WakerSlot();
        outcome_.store(taken, std::memory_order_relaxed);
    }

private:
    template <class>
    friend class CoroutineCell;

    // Two one-byte fields, first, so that they fill the padding at the end of Task.
    SpinLock join_lock_;
    // One of the states above; written under join_lock_, atomic for set_outcome's unlocked
    // read.
    Atomic<std::uint8_t> outcome_{running};
    /// Room for the value, constructed by set_outcome only; for a task with no value, an empty
    /// class, which takes no bytes at all with [[no_unique_address]].
    union ValueRoom {
        ValueRoom() noexcept {}
        ~ValueRoom() {}
        Value value;
    };
    struct NoValue {};
    [[no_unique_address]] std::conditional_t<std::is_void_v<T>, NoValue, ValueRoom> value_;
    union {
        WakerSlot joiner_;          // while outcome_ is `running`: the JoinHandle's latest waker,
                                    // guarded by join_lock_
        std::exception_ptr error_;  // when outcome_ is `failed`: what the future threw
    };
};

/// The task for a future of type F: the future lives inside the task's own allocation, and
/// so does its output, until the JoinHandle takes it.
template <Future F>
class TaskCell final : public Joinable<typename F::Output> {
    using Base = Joinable<typename F::Output>;

public:
    TaskCell(F future, Scheduler* scheduler) : Base(scheduler), future_(std::move(future)) {}

    // snippet-begin: task-cell-poll
    bool poll() override {
        return this->poll_with([this](Context& cx) { return future_->poll(cx); });
    }
    // snippet-end: task-cell-poll

private:
    void drop_future() override {
        future_.reset();  // first: the coroutine's locals are destroyed before anyone hears
        this->template set_outcome<Base::cancelled>();  // no-op if it completed
    }
    void destroy() noexcept override { delete this; }

    std::optional<F> future_;  // empty once the task is complete
};

}  // namespace rt::detail
