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
//  1. the root's poll stores the Context in the root's promise, and runs its trampoline: a
//     loop that resumes the coroutine named in the root's `next_` until none is named;
//  2. a `co_await future` anywhere in the chain polls the future at once with that Context.
//     Ready: the coroutine goes on without suspending. Pending: the future has taken the
//     task's waker, as in chapter 2; the awaiter records itself in the root's promise as
//     "what the chain waits for", and the coroutine suspends naming no successor. The
//     trampoline stops, and the root's poll answers pending;
//  3. the next poll of the root polls the recorded future again, not the coroutine: a wake
//     may be spurious, and the coroutine must not go on before its future is ready. Still
//     pending: answer pending. Ready: resume the coroutine that waits for it, at its
//     co_await, which returns the value;
//  4. `co_await task` gives the awaited Task its awaiter as continuation and the same root,
//     names it as the root's next coroutine, and suspends; the trampoline resumes it. When it
//     finishes, its final suspension names its awaiter as next. The root's final suspension
//     names nobody: the trampoline stops, and the root's poll answers ready.
//
// Why a trampoline: C++20's own symmetric transfer is `await_suspend` returning the handle to
// resume next, and the compiler is meant to jump there with a tail call. A tail call is an
// optimisation, not a promise: GCC 12 makes it at -O2, but not in this project's
// AddressSanitizer and ThreadSanitizer builds, where a million awaits of tasks that finish
// at once overflowed the stack. Naming the successor and returning to one loop is the same
// transfer, with one coroutine running at a time, and its constant stack depth holds in
// every build because it does not depend on the optimiser.
#pragma once

#include <cassert>
#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "rt/future.hpp"

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

// snippet-begin: awaited-future
/// A co_await of a Future that answered pending: the root polls it again through this.
class AwaitedFuture {
public:
    /// Poll the future again. True when it is ready (or threw): resume `waiter` then.
    virtual bool poll_again(Context& cx) noexcept = 0;
    std::coroutine_handle<> waiter;  // the coroutine suspended in this co_await

protected:
    ~AwaitedFuture() = default;
};
// snippet-end: awaited-future

class PromiseBase;

// snippet-begin: future-awaiter-class
/// co_await of a Future, as a coroutine sees it. A holds the future: by value when the
/// co_await was given a temporary (it is moved in once, before its first poll), by reference
/// when it was given a named future, which outlives the co_await.
template <class A>
class FutureAwaiter final : public AwaitedFuture {
    using Output = typename std::remove_cvref_t<A>::Output;

public:
    FutureAwaiter(A&& future, PromiseBase& promise)
        : future_(std::forward<A>(future)), promise_(promise) {}

    bool await_ready() const noexcept { return false; }  // polling needs the root's Context
    bool await_suspend(std::coroutine_handle<> coroutine) noexcept;  // step 2 (below)
    Output await_resume() {
        if (error_) std::rethrow_exception(error_);
        if constexpr (!std::is_void_v<Output>) return std::move(*value_);
    }

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
            error_ = std::current_exception();  // rethrown in the coroutine, at its co_await
        }
        return true;
    }

private:
    struct Nothing {};
    using Stored = std::conditional_t<std::is_void_v<Output>, Nothing, Output>;

    A future_;                     // the awaited future, or a reference to it
    PromiseBase& promise_;         // of the coroutine that awaits; leads to the root
    std::optional<Stored> value_;  // the future's output, once it is ready
    std::exception_ptr error_;     // what its poll threw, for await_resume to rethrow
};
// snippet-end: future-awaiter-class

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
            promise.root_->next_ = promise.continuation_;
        }
        void await_resume() noexcept {}
    };
    // snippet-end: final-awaiter
    FinalAwaiter final_suspend() noexcept { return {}; }

    void unhandled_exception() noexcept { exception_ = std::current_exception(); }

    // snippet-begin: await-transform
    /// Every co_await in a Task comes here first: a Task is started with this coroutine as
    /// its continuation; any other Future is polled with the root's Context.
    template <class A>
    auto await_transform(A&& awaited) {
        using Awaited = std::remove_cvref_t<A>;
        if constexpr (is_task<Awaited>) {
            return typename Awaited::Awaiter(awaited.handle_, *this);
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
            return FutureAwaiter<A>(std::forward<A>(awaited), *this);
        }
    }
    // snippet-end: await-transform

protected:
    template <class>
    friend class rt::Task;
    template <class>
    friend class FutureAwaiter;

    /// Rethrow what the coroutine threw, if it threw.
    void rethrow_if_failed() {
        if (exception_) std::rethrow_exception(exception_);
    }

    // snippet-begin: promise-members
    PromiseBase* root_ = this;              // the promise of the Task an executor polls
    std::coroutine_handle<> continuation_;  // who awaits this Task; empty for the root
    std::coroutine_handle<> next_;          // root only: what the trampoline resumes next
    Context* cx_ = nullptr;                 // root only: the Context of the poll under way
    AwaitedFuture* awaited_ = nullptr;      // root only: the future the chain waits for
    std::exception_ptr exception_;          // what the coroutine threw, if it did
    // snippet-end: promise-members
};

// snippet-begin: future-awaiter
template <class A>
bool FutureAwaiter<A>::await_suspend(std::coroutine_handle<> coroutine) noexcept {
    PromiseBase& root = *promise_.root_;
    if (poll_again(*root.cx_)) return false;  // ready at once: go on without suspending
    waiter = coroutine;
    root.awaited_ = this;  // the root's next poll polls us again (step 3)
    return true;
}
// snippet-end: future-awaiter

template <class T>
class Promise final : public PromiseBase {
public:
    rt::Task<T> get_return_object() noexcept;

    template <class U = T>
    void return_value(U&& value) {
        value_.emplace(std::forward<U>(value));
    }
    T result() {
        rethrow_if_failed();
        return std::move(*value_);
    }

private:
    std::optional<T> value_;
};

template <>
class Promise<void> final : public PromiseBase {
public:
    rt::Task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void result() { rethrow_if_failed(); }
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
        promise_type& root = handle_.promise();
        root.next_ = handle_;  // the first poll starts the coroutine
        if (root.awaited_ != nullptr) {
            if (!root.awaited_->poll_again(cx)) return pending;  // nothing to resume yet
            root.next_ = std::exchange(root.awaited_, nullptr)->waiter;
        }
        root.cx_ = &cx;
        // The trampoline: every transfer of control between the chain's coroutines comes
        // back here, so the stack is as deep on the millionth await as on the first.
        while (root.next_) std::exchange(root.next_, nullptr).resume();
        root.cx_ = nullptr;
        if (!handle_.done()) return pending;
        if constexpr (std::is_void_v<T>) {
            root.result();
            return ready;
        } else {
            return root.result();
        }
    }
    // snippet-end: task

private:
    friend class detail::PromiseBase;
    friend class detail::Promise<T>;
    explicit Task(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}

    // snippet-begin: task-awaiter
    /// co_await of a Task inside another (step 4): the awaited Task gets the awaiting
    /// coroutine as its continuation and the same root, and runs next.
    class Awaiter {
    public:
        Awaiter(std::coroutine_handle<promise_type> child, detail::PromiseBase& parent) noexcept
            : child_(child), parent_(parent) {}
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> awaiting) noexcept {
            child_.promise().continuation_ = awaiting;
            child_.promise().root_ = parent_.root_;
            parent_.root_->next_ = child_;  // the trampoline resumes it once we have suspended
        }
        T await_resume() { return child_.promise().result(); }

    private:
        std::coroutine_handle<promise_type> child_;
        detail::PromiseBase& parent_;
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
}  // namespace detail

}  // namespace rt
