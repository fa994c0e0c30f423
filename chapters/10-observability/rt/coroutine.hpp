// Task<T>: a C++20 coroutine that is a Future. Write `rt::Task<int> f() { ... co_return 42; }`
// and f() is a future like any other: spawn it, block_on it, or co_await it from another
// Task. Inside, `co_await` takes a Task or any Future (sleep, yield_now, a socket's read or
// write, a JoinHandle, a oneshot receiver).
//
// Guarantees:
//  - lazy: calling f() allocates the coroutine's frame and runs nothing; the first poll (or
//    the first co_await) starts it, like a Rust async fn;
//  - a chain of awaits does not grow the stack: a Task awaiting a Task transfers control to
//    it, and a finished Task transfers control back to its awaiter, as a jump and not as a
//    nested call (symmetric transfer; how, below);
//  - a frame never moves: a Task object is a handle to its frame, and moving the handle moves
//    the pointer only. What Rust needs Pin for, C++ coroutines give for free;
//  - destroying a Task destroys its frame wherever it is suspended: the locals' destructors
//    run, and so do those of the Task or Future it was awaiting. That is cancellation.
//
// How a poll reaches a coroutine suspended deep in a chain (the "root" is the Task an
// executor polls; every Task it awaits, directly or not, shares its root):
//  1. the root's poll makes the poll's scope, on its own stack, the thread's current one (it
//     holds the Context, the root, and the next coroutine to resume), and runs its
//     trampoline: a loop that resumes the coroutine named in the scope's `next` until none is;
//  2. a `co_await future` anywhere in the chain polls the future at once with that Context.
//     Ready: the coroutine goes on without suspending. Pending: the future has taken the
//     task's waker, as in chapter 2; the awaiter records itself in the root's promise as
//     "what the chain waits for", and the coroutine suspends naming no successor. The
//     trampoline stops, and the root's poll answers pending;
//  3. the next poll of the root polls the recorded future again, not the coroutine: a wake
//     may be spurious, and the coroutine must not go on before its future is ready. Still
//     pending: answer pending. Ready: resume the coroutine that waits for it, at its
//     co_await, which returns the value;
//  4. `co_await task` gives the awaited Task its awaiter as continuation, names it as the
//     scope's next coroutine, and suspends; the trampoline resumes it. When it finishes, its
//     final suspension names its awaiter as next. The root's final suspension names nobody:
//     the trampoline stops, and the root's poll answers ready.
//
// What a coroutine throws, and what an awaited future's poll throws, waits in the scope too,
// for the coroutine that resumes next to rethrow: that one is always resumed within the same
// poll, so nothing is in flight once the poll returns (new in chapter 7, where it moved out
// of every frame: see "Where the bytes go" in the chapter's text).
//
// Why a trampoline: C++20's own symmetric transfer is `await_suspend` returning the handle to
// resume next, and the compiler is meant to jump there with a tail call. A tail call is an
// optimisation, not a promise: GCC 12 makes it at -O2, but not in this project's
// AddressSanitizer and ThreadSanitizer builds, where a million awaits of tasks that finish
// at once overflowed the stack. Naming the successor and returning to one loop is the same
// transfer, with one coroutine running at a time, and its constant stack depth holds in
// every build because it does not depend on the optimiser.
#pragma once

#include <algorithm>
#include <cassert>
#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "rt/frame_pool.hpp"
#include "rt/future.hpp"
#include "rt/scheduler.hpp"  // the task header (rt/task.hpp), and where it is queued

namespace rt {

template <class T = void>
class Task;

// Inside rt::detail, plain `Task` is the scheduler's task (rt/task.hpp); the coroutine type is
// always spelled rt::Task here.
namespace detail {

template <class A>
inline constexpr bool is_task = false;
template <class T>
inline constexpr bool is_task<rt::Task<T>> = true;

/// A co_await of a Future that answered pending: the root polls it again through this.
class AwaitedFuture {
public:
    /// Poll the future again. True when it is ready (or threw): resume `waiter` then.
    virtual bool poll_again(Context& cx) noexcept = 0;
    std::coroutine_handle<> waiter;  // the coroutine suspended in this co_await

protected:
    ~AwaitedFuture() = default;
};

class PromiseBase;

// snippet-begin: poll-scope
/// What matters during one poll of a root only (steps 1 to 4): it lives on the poll's stack,
/// and the thread's `current` points to it while the poll runs. New in chapter 7: in chapter 6
/// every frame's promise held these, 40 bytes of each idle task; a thread polls one root at a
/// time, so one place per thread is enough. A root polled inside another's poll (a Task in a
/// hand-written future that a Task awaits) makes its own scope current, and puts the outer
/// one back when its poll returns.
struct PollScope {
    Context* cx;                   // the Context of the root's poll
    PromiseBase* root;             // the promise of the Task being polled
    std::coroutine_handle<> next;  // the coroutine the trampoline resumes next, if any
    std::exception_ptr error;      // thrown, on its way to the coroutine resumed next

    static inline thread_local PollScope* current = nullptr;

    /// Makes `scope` current on this thread for as long as it lives.
    class Entered {
    public:
        explicit Entered(PollScope& scope) noexcept : outer_(std::exchange(current, &scope)) {}
        Entered(const Entered&) = delete;
        Entered& operator=(const Entered&) = delete;
        ~Entered() { current = outer_; }

    private:
        PollScope* outer_;
    };

    /// Rethrow what is on its way, if anything is.
    void rethrow_if_thrown() {
        if (error) std::rethrow_exception(std::exchange(error, nullptr));
    }
};
// snippet-end: poll-scope

/// co_await of a Future, as a coroutine sees it. A is a reference to the future, always (new
/// in chapter 7; in chapters 4 to 6 the awaiter held a temporary by value): a temporary lives
/// until the end of the full-expression that holds the co_await, which comes after the resume,
/// so `co_await stream.read(buffer)` can poll the temporary where it is. A copy in the
/// awaiter would give every suspended coroutine the future twice, the temporary and the copy;
/// without it, the benchmarks' idle task's frame went from 248 to 208 bytes (docs/benchmarks.md).
/// The awaiter finds the root and the Context through the poll's scope rather than references
/// of its own, keeps what the future's poll threw there too, and keeps no room for the value of
/// a future that has none: 24 bytes for such a future, where it took 48.
template <class A>
class FutureAwaiter final : public AwaitedFuture {
    using Output = typename std::remove_cvref_t<A>::Output;

public:
    explicit FutureAwaiter(A&& future) : future_(std::forward<A>(future)) {}

    bool await_ready() const noexcept { return false; }  // polling needs the root's Context
    bool await_suspend(std::coroutine_handle<> coroutine) noexcept;  // step 2 (below)
    Output await_resume();

    bool poll_again(Context& cx) noexcept override {
        try {
            if constexpr (std::is_void_v<Output>) {
                return future_.poll(cx).is_ready();
            } else {
                auto result = future_.poll(cx);
                if (result.is_pending()) return false;
                value_.emplace(std::move(result).value());
            }
        } catch (...) {
            PollScope::current->error = std::current_exception();  // rethrown by await_resume
        }
        return true;
    }

private:
    struct Nothing {};
    using Stored = std::conditional_t<std::is_void_v<Output>, Nothing, std::optional<Output>>;

    A future_;                              // a reference to the awaited future
    [[no_unique_address]] Stored value_{};  // the future's output, once it is ready
};

/// What every Task's promise holds, whatever its T.
class PromiseBase {
public:
    std::suspend_always initial_suspend() noexcept { return {}; }  // lazy: start on first poll

    // snippet-begin: final-awaiter
    /// At the end of a Task: name whoever awaited it as the next coroutine to resume (for the
    /// root, nobody, so that the trampoline stops and the root's poll returns).
    struct FinalAwaiter {
        bool await_ready() noexcept { return false; }
        template <class P>
        void await_suspend(std::coroutine_handle<P> finished) noexcept {
            PromiseBase& promise = finished.promise();
            PollScope& scope = *PollScope::current;
            scope.next = &promise == scope.root
                             ? nullptr
                             : std::coroutine_handle<>::from_address(promise.continuation_);
        }
        void await_resume() noexcept {}
    };
    // snippet-end: final-awaiter
    FinalAwaiter final_suspend() noexcept { return {}; }

    /// What the coroutine threw goes to whoever resumes next: its awaiter's await_resume, or
    /// for the root, its poll.
    void unhandled_exception() noexcept { PollScope::current->error = std::current_exception(); }

    // snippet-begin: await-transform
    /// Every co_await in a Task comes here first: a Task is started with this coroutine as
    /// its continuation; any other Future is polled with the root's Context.
    template <class A>
    auto await_transform(A&& awaited) {
        using Awaited = std::remove_cvref_t<A>;
        if constexpr (is_task<Awaited>) {
            return typename Awaited::Awaiter(awaited.handle_);
        } else {
            static_assert(Future<Awaited>,
                          "a Task can co_await a Task or a Future (a type with Output and "
                          "poll(Context&)), nothing else");
            // What a coroutine awaits lives in its frame, and GCC 12 lays frames out without
            // honouring an alignment beyond operator new's 16 bytes (nor does it for the
            // coroutine's own locals): refuse what would be misaligned, rather than run it.
            // A spawned task does honour its future's alignment: spawn such a future, and
            // await its JoinHandle.
            static_assert(alignof(Awaited) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__,
                          "co_await of a future aligned beyond 16 bytes: coroutine frames are "
                          "not aligned for it; spawn it and co_await its JoinHandle");
            return FutureAwaiter<A&&>(std::forward<A>(awaited));
        }
    }
    // snippet-end: await-transform

protected:
    template <class>
    friend class rt::Task;
    template <class>
    friend class FutureAwaiter;

    // One word, for a Task is either awaited by another or polled as a root, never both (new
    // in chapter 7, where the promise took 40 bytes; the rest moved to the PollScope).
    union {
        void* continuation_;                // awaited Task: who awaits it, a handle's address
        AwaitedFuture* awaited_ = nullptr;  // root: the future the chain waits for, if any
    };
};

// snippet-begin: future-awaiter
template <class A>
bool FutureAwaiter<A>::await_suspend(std::coroutine_handle<> coroutine) noexcept {
    PollScope& scope = *PollScope::current;
    if (poll_again(*scope.cx)) return false;  // ready at once: go on without suspending
    waiter = coroutine;
    scope.root->awaited_ = this;  // the root's next poll polls us again (step 3)
    return true;
}

template <class A>
auto FutureAwaiter<A>::await_resume() -> Output {
    PollScope::current->rethrow_if_thrown();  // what poll_again caught, if it caught
    if constexpr (!std::is_void_v<Output>) return std::move(*value_);
}
// snippet-end: future-awaiter

template <class T>
class CoroutineCell;

// snippet-begin: frame-new
/// The frame of every Task<T> coroutine, with room for a task header in front of it (new in
/// chapter 7): the compiler allocates a frame with the promise type's operator new when it
/// has one, and passes the frame's size, which only it knows. CoroutineCell<T> (below) says
/// how much room, and takes the block from the frame pool.
template <class T>
class PromiseAllocation : public PromiseBase {
public:
    static void* operator new(std::size_t size) { return CoroutineCell<T>::allocate(size); }
    static void operator delete(void* frame, std::size_t size) noexcept {
        CoroutineCell<T>::frame_destroyed(frame, size);
    }
};
// snippet-end: frame-new

template <class T>
class Promise final : public PromiseAllocation<T> {
public:
    rt::Task<T> get_return_object() noexcept;

    template <class U = T>
    void return_value(U&& value) {
        value_.emplace(std::forward<U>(value));
    }
    T result() {
        PollScope::current->rethrow_if_thrown();
        return std::move(*value_);
    }

private:
    std::optional<T> value_;
};

template <>
class Promise<void> final : public PromiseAllocation<void> {
public:
    rt::Task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void result() { PollScope::current->rethrow_if_thrown(); }
};

}  // namespace detail

// snippet-begin: task
template <class T>
class [[nodiscard]] Task {
    static_assert(!std::is_reference_v<T>, "a Task returns a value; return a pointer instead");

public:
    using promise_type = detail::Promise<T>;
    using Output = T;

    Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
    Task& operator=(Task&& other) noexcept {
        if (this != &other) {
            if (handle_) handle_.destroy();
            handle_ = std::exchange(other.handle_, {});
        }
        return *this;
    }
    ~Task() {
        if (handle_) handle_.destroy();  // wherever it is suspended: cancellation
    }

    /// Drive the coroutine as the root of its chain (steps 1 and 3). Poll a Task that an
    /// executor runs; a Task awaited by another Task is driven by that Task's root instead.
    Poll<T> poll(Context& cx) {
        assert(handle_ && !handle_.done() && "poll of a moved-from or completed Task");
        return drive(handle_, cx);
    }
    // snippet-end: task

private:
    friend class detail::PromiseBase;
    friend class detail::Promise<T>;
    friend class detail::CoroutineCell<T>;
    explicit Task(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}

    static Poll<T> drive(std::coroutine_handle<promise_type> handle, Context& cx) {
        promise_type& root = handle.promise();
        detail::PollScope scope{&cx, &root, handle, {}};  // the first poll starts the coroutine
        const detail::PollScope::Entered entered(scope);
        if (root.awaited_ != nullptr) {
            if (!root.awaited_->poll_again(cx)) return pending;  // nothing to resume yet
            scope.next = std::exchange(root.awaited_, nullptr)->waiter;
        }
        // The trampoline: every transfer of control between the chain's coroutines comes
        // back here, so the stack is as deep on the millionth await as on the first.
        while (scope.next) std::exchange(scope.next, nullptr).resume();
        if (!handle.done()) return pending;
        if constexpr (std::is_void_v<T>) {
            root.result();
            return ready;
        } else {
            return root.result();
        }
    }

    // snippet-begin: task-awaiter
    /// co_await of a Task inside another (step 4): the awaited Task gets the awaiting
    /// coroutine as its continuation, and runs next.
    class Awaiter {
    public:
        explicit Awaiter(std::coroutine_handle<promise_type> child) noexcept : child_(child) {}
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> awaiting) noexcept {
            child_.promise().continuation_ = awaiting.address();
            detail::PollScope::current->next = child_;  // resumed by the trampoline once we suspend
        }
        T await_resume() { return child_.promise().result(); }

    private:
        std::coroutine_handle<promise_type> child_;
    };
    // snippet-end: task-awaiter

    std::coroutine_handle<promise_type> handle_;
};

namespace detail {
template <class T>
rt::Task<T> Promise<T>::get_return_object() noexcept {
    return rt::Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline rt::Task<void> Promise<void>::get_return_object() noexcept {
    return rt::Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}

// snippet-begin: coroutine-cell
/// The task of a spawned coroutine, in the room its frame was allocated with (new in chapter
/// 7): one block holds the header (Joinable<T>, rt/task.hpp) and then the frame, as Tokio's
/// task cell holds header, future and trailer. Every Task<T> frame gets the room, because
/// when the compiler allocates a frame nobody knows yet whether it will be spawned; a Task
/// that is only awaited by another, or wrapped in another future, leaves it unused.
///
/// The block's life:
///  1. operator new: allocate room + frame from the pool, construct an unspawned cell;
///  2. spawn adopts the cell: three references, scheduled, as any new task (born_scheduled);
///     a cell never spawned is freed with its frame in step 3;
///  3. the frame is destroyed when the task completes, is aborted, or its executor shuts
///     down, while the executor still holds its reference; operator delete then only records
///     the block's size in the cell (spare_byte), for the outcome and the references live on;
///  4. the last reference frees the block, room and frame together.
template <class T>
class CoroutineCell final : public Joinable<T> {
    using Base = Joinable<T>;
    using Handle = std::coroutine_handle<Promise<T>>;

public:
    /// The room in front of a frame: the cell, rounded up so that the frame stays aligned as
    /// operator new aligns.
    static constexpr std::size_t room = (sizeof(Base) + __STDCPP_DEFAULT_NEW_ALIGNMENT__ - 1) /
                                        __STDCPP_DEFAULT_NEW_ALIGNMENT__ *
                                        __STDCPP_DEFAULT_NEW_ALIGNMENT__;

    /// Step 1.
    static void* allocate(std::size_t frame_bytes) {
        auto* block = static_cast<std::byte*>(FramePool::allocate(room + frame_bytes));
        ::new (block) CoroutineCell();
        return block + room;
    }

    /// Step 3.
    static void frame_destroyed(void* frame, std::size_t frame_bytes) noexcept {
        auto* cell = of(frame);
        if (cell->spawned()) {
            cell->spare_byte = granules_of(room + frame_bytes);  // for step 4
        } else {
            cell->~CoroutineCell();
            FramePool::deallocate(cell, room + frame_bytes);
        }
    }

    /// Step 2: the task of `coroutine`, which the caller gives up; scheduled on `scheduler`.
    static CoroutineCell* spawn(rt::Task<T> coroutine, Scheduler* scheduler) noexcept {
        auto* cell = of(std::exchange(coroutine.handle_, {}).address());
        cell->born_scheduled(scheduler);
        return cell;
    }

    bool poll() override {
        return this->poll_with([this](Context& cx) { return rt::Task<T>::drive(handle(), cx); });
    }

private:
    CoroutineCell() = default;

    static CoroutineCell* of(void* frame) noexcept {
        return std::launder(
            reinterpret_cast<CoroutineCell*>(static_cast<std::byte*>(frame) - room));
    }
    Handle handle() noexcept {
        return Handle::from_address(reinterpret_cast<std::byte*>(this) + room);
    }

    void drop_future() override {
        handle().destroy();  // step 3: the locals are destroyed before anyone hears
        this->template set_outcome<Base::cancelled>();  // no-op if it completed
    }

    /// Step 4.
    void destroy() noexcept override {
        const std::size_t bytes = this->spare_byte * FramePool::granule;
        this->~CoroutineCell();
        FramePool::deallocate(this, bytes);
    }

    /// A block's size in one byte (new in chapter 7: the four bytes it took would have made the
    /// header 8 bytes longer): in the pool's granules, rounded up, which keeps it in its size
    /// class. A block too big for the byte is too big for the pool, which needs no size for it.
    static std::uint8_t granules_of(std::size_t bytes) noexcept {
        static_assert(255 * FramePool::granule > FramePool::max_block);
        return static_cast<std::uint8_t>(
            std::min<std::size_t>(255, (bytes + FramePool::granule - 1) / FramePool::granule));
    }
};
// snippet-end: coroutine-cell
}  // namespace detail

}  // namespace rt
