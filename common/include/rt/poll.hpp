// Poll<T>: what a future answers each time it is polled, either "ready, here is the value"
// or "pending, I have arranged to be woken". Same type in every chapter.
#pragma once

#include <cassert>
#include <optional>
#include <utility>

namespace rt {

/// The "not yet" answer. A future that returns it promises that the waker it was given
/// (or a clone of it) will be woken when polling again can make progress.
struct Pending {};
inline constexpr Pending pending{};

/// The "done" answer of a future whose output is void: `return rt::ready;`.
struct Ready {};
inline constexpr Ready ready{};

/// Ready(T) or Pending. Build it with `return value;` or `return rt::pending;`.
template <class T>
class [[nodiscard]] Poll {
public:
    Poll(Pending) noexcept {}
    Poll(T value) : value_(std::move(value)) {}

    bool is_ready() const noexcept { return value_.has_value(); }
    bool is_pending() const noexcept { return !value_.has_value(); }

    /// The value of a ready poll. Calling it on a pending poll is a bug.
    T& value() & {
        assert(is_ready());
        return *value_;
    }
    T&& value() && {
        assert(is_ready());
        return std::move(*value_);
    }

private:
    std::optional<T> value_;
};

/// Poll<void>: Ready carries nothing.
template <>
class [[nodiscard]] Poll<void> {
public:
    Poll(Pending) noexcept {}
    Poll(Ready) noexcept : ready_(true) {}

    bool is_ready() const noexcept { return ready_; }
    bool is_pending() const noexcept { return !ready_; }

private:
    bool ready_ = false;
};

}  // namespace rt
