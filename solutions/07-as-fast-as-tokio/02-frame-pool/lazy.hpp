// Exercise 07-02 (solution): ex::Lazy<T>, the smallest coroutine that returns a value, whose
// frame comes from ex::FramePool. The compiler allocates a coroutine's frame with its promise
// type's operator new when the promise type has one, and frees it with the promise's operator
// delete, passing the frame's size: that is all it takes for frames to be recycled.
//
// Lazy<T> starts suspended, runs to its end when get() first resumes it, and destroys its frame
// when it goes. It has nothing to wait for: its body must not suspend.
#pragma once

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <frame_pool.hpp>

namespace ex {

template <class T>
class Lazy {
    static_assert(!std::is_void_v<T> && !std::is_reference_v<T>, "Lazy<T> returns a value");

public:
    struct promise_type {
        /// The coroutine's frame, from the pool of the thread that calls the coroutine.
        static void* operator new(std::size_t size) { return FramePool::allocate(size); }
        /// The frame back to the pool of the thread that destroys it, with the size it had.
        static void operator delete(void* frame, std::size_t size) noexcept {
            FramePool::deallocate(frame, size);
        }

        Lazy get_return_object() noexcept {
            return Lazy(std::coroutine_handle<promise_type>::from_promise(*this));
        }
        std::suspend_always initial_suspend() noexcept { return {}; }
        std::suspend_always final_suspend() noexcept { return {}; }
        void return_value(T value) { value_.emplace(std::move(value)); }
        void unhandled_exception() noexcept { exception_ = std::current_exception(); }

        std::optional<T> value_;        // set by co_return
        std::exception_ptr exception_;  // set if the body threw
    };

    Lazy(Lazy&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
    Lazy& operator=(Lazy&& other) noexcept {
        if (this != &other) {
            if (handle_) handle_.destroy();
            handle_ = std::exchange(other.handle_, {});
        }
        return *this;
    }
    /// Destroys the frame, run or not: its memory goes back to the pool of this thread.
    ~Lazy() {
        if (handle_) handle_.destroy();
    }

    /// Runs the body to its end (the first call only) and gives its value, or throws what it
    /// threw.
    T& get() {
        if (!handle_.done()) handle_.resume();
        assert(handle_.done() && "a Lazy's body suspended: it has nothing to wait for");
        promise_type& promise = handle_.promise();
        if (promise.exception_) std::rethrow_exception(promise.exception_);
        return *promise.value_;
    }

private:
    explicit Lazy(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}
    std::coroutine_handle<promise_type> handle_;
};

}  // namespace ex
