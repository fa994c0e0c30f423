// Exercise 06-01 (starter): ex::IdleTimeout, an idle timeout over a source of items: it hands
// out the source's items and gives up, with TimedOut, only once the source has been silent for
// `idle` since the last item. Compiles; IdleTimeout::Next::poll, marked TODO(exercise), is
// yours. The rest is written: Received, the adapter's state and constructor, and ex::Feed, a
// source to try it on.
//
// The contract to keep (README.md):
//  - the source first: an item, or the source's end, that is there when the deadline has
//    passed is handed out; the deadline only decides when the source has nothing;
//  - the silence is counted from the last item handed out (from the adapter's construction,
//    before the first): time the caller spends between two next() calls counts too;
//  - one timer for the adapter's whole life, the rt::Sleep member: an item moves the deadline,
//    it does not make a timer;
//  - once the source has ended or timed out, every next() says so at once, the source is not
//    asked again, and the timer is gone; a timeout also destroys the source's next() where it
//    waits, which lets go of its waker;
//  - a next() dropped while it waits (its caller cancelled) is not an item: the deadline stays,
//    and so does the adapter's timer.
// For one executor's thread, as the runtime's timers are.
#pragma once

#include <cassert>
#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "rt/deadline.hpp"
#include "rt/future.hpp"
#include "rt/sleep.hpp"
#include "rt/waker.hpp"

namespace ex {

namespace detail {
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
}  // namespace detail

/// The future a source's next() returns.
template <class S>
using NextFuture = decltype(std::declval<S&>().next());

/// A future of std::optional<Item>: what a source's next() returns.
template <class F>
concept FutureOfOptional = rt::Future<F> && detail::is_optional<typename F::Output>::value;

/// A source of items: `source.next()` is a future of std::optional<Item>, which is std::nullopt
/// once the source has ended (a socket's end of stream, a closed channel). Dropping that future
/// before it is ready must lose nothing: the item it was waiting for goes to the next one.
template <class S>
concept Source = requires(S& source) {
    { source.next() } -> FutureOfOptional;
};

/// The items of a source.
template <Source S>
using ItemOf = typename NextFuture<S>::Output::value_type;

/// The tag of a Received that says the source ended.
struct Ended {};
/// The tag of a Received that says the source was silent for too long.
struct TimedOut {};

/// What IdleTimeout::next() gives: an item, the end of the source, or the news that the source
/// said nothing for the idle time allowed.
template <class T>
class Received {
public:
    /// An item.
    Received(T item) : item_(std::move(item)), kind_(Kind::item) {}
    /// The source ended.
    Received(Ended) noexcept : kind_(Kind::ended) {}
    /// The source was silent for too long.
    Received(TimedOut) noexcept : kind_(Kind::timed_out) {}

    bool has_item() const noexcept { return kind_ == Kind::item; }
    bool ended() const noexcept { return kind_ == Kind::ended; }
    bool timed_out() const noexcept { return kind_ == Kind::timed_out; }
    explicit operator bool() const noexcept { return has_item(); }

    /// The item; throws std::logic_error when there is none.
    T& item() & {
        check();
        return *item_;
    }
    T&& item() && {
        check();
        return std::move(*item_);
    }

private:
    enum class Kind { item, ended, timed_out };
    void check() const {
        if (!item_) {
            throw std::logic_error(kind_ == Kind::ended ? "no item: the source ended"
                                                        : "no item: the source timed out");
        }
    }

    std::optional<T> item_;  // the item, when there is one
    Kind kind_;
};

/// An idle timeout over `source`: next() hands out the source's items, and TimedOut once no
/// item has come for `idle` since the last one. The source must outlive the adapter, the
/// adapter its Next futures; one next() at a time. The adapter stays in place (its timer is
/// registered inside it), and is used on the executor's thread only.
template <Source S>
class IdleTimeout {
public:
    using Item = ItemOf<S>;
    class Next;

    /// An adapter whose first silence starts now: without an item, it times out `idle` from
    /// now. nanoseconds::max() never times out (the deadline saturates, rt/deadline.hpp).
    IdleTimeout(S& source, std::chrono::nanoseconds idle)
        : source_(&source),
          idle_(idle),
          deadline_(rt::deadline_after(idle)),
          sleep_(std::in_place, deadline_) {}
    IdleTimeout(const IdleTimeout&) = delete;
    IdleTimeout& operator=(const IdleTimeout&) = delete;

    /// The next item, or the end of the source, or TimedOut.
    Next next() { return Next(*this); }

    /// When the adapter times out if no item comes before: `idle` after the last item handed
    /// out, or after the adapter was made.
    rt::Clock::time_point deadline() const noexcept { return deadline_; }

    /// The silence allowed.
    std::chrono::nanoseconds idle() const noexcept { return idle_; }

    /// True once the source ended or timed out: next() will give only that.
    bool finished() const noexcept { return state_ != State::open; }

private:
    enum class State { open, ended, timed_out };

    /// The source ended or timed out: the timer has no reason to stay in the wheel.
    void finish(State state) {
        state_ = state;
        sleep_.reset();  // ~Sleep takes its entry out of the wheel, with its waker
    }

    // A suggestion; change it as you like (the tests only use the public interface).
    S* source_;                       // outlives the adapter
    std::chrono::nanoseconds idle_;   // the silence allowed
    rt::Clock::time_point deadline_;  // the last item (or the construction), plus idle_
    std::optional<rt::Sleep> sleep_;  // the one timer: set for deadline_ or earlier; empty
                                      // once finished
    State state_ = State::open;
};

/// The future of one next(): ready with the next item, the source's end, or TimedOut.
template <Source S>
class IdleTimeout<S>::Next {
public:
    using Output = Received<Item>;

    explicit Next(IdleTimeout& adapter) : adapter_(&adapter) {}

    rt::Poll<Output> poll(rt::Context& cx) {
        IdleTimeout& adapter = *adapter_;
        // TODO(exercise): one poll, in this order:
        //  1. the adapter already finished (adapter.state_ is ended or timed_out): answer that,
        //     Output(Ended{}) or Output(TimedOut{}), without asking the source;
        //  2. the source first: make the source's next() at the first poll
        //     (waiting_.emplace(adapter.source_->next())) and poll it with cx. Ready: destroy it
        //     (waiting_.reset()); std::nullopt is the end (adapter.finish(State::ended), answer
        //     Ended); an item moves the deadline, adapter.deadline_, to idle_ from now
        //     (rt::deadline_after), and is the answer;
        //  3. nothing yet: poll the timer, *adapter.sleep_, with cx. Pending: answer pending.
        //     Ready means that the timer's deadline has passed, which is not always the
        //     adapter's deadline any more (README.md, "Why it matters"): either time out (destroy
        //     the source's next(), finish(State::timed_out), answer TimedOut), or set the
        //     timer again and look at it again.
        (void)adapter;
        (void)cx;
        return rt::pending;
    }

private:
    IdleTimeout* adapter_;                  // outlives this future
    std::optional<NextFuture<S>> waiting_;  // the source's next(), from the first poll until
                                            // it gives something
};

/// A source to try IdleTimeout on: a queue that a producer fills (push, close) and one consumer
/// empties, one next() at a time. For one executor's thread: no lock.
template <class T>
class Feed {
public:
    class Next;

    Feed() = default;
    Feed(const Feed&) = delete;
    Feed& operator=(const Feed&) = delete;
    ~Feed() { assert(waiting_ == nullptr && "a Feed destroyed while a next() waits on it"); }

    /// Queue an item, and wake the next() that waits, if one does.
    void push(T item) {
        assert(!closed_ && "an item pushed into a closed Feed");
        items_.push_back(std::move(item));
        wake();
    }

    /// No more items: once the queued ones are taken, next() gives std::nullopt.
    void close() {
        closed_ = true;
        wake();
    }

    /// A future of the next item, or std::nullopt once the feed is closed and empty.
    Next next() { return Next(*this); }

    std::size_t size() const noexcept { return items_.size(); }
    bool closed() const noexcept { return closed_; }
    /// True while a next() waits, holding its task's waker.
    bool has_waiter() const noexcept { return waiting_ != nullptr; }

private:
    void wake() {
        waiting_ = nullptr;
        if (waker_) std::move(*std::exchange(waker_, std::nullopt)).wake();
    }

    std::deque<T> items_;             // pushed, not yet taken
    bool closed_ = false;             // no more pushes
    const Next* waiting_ = nullptr;   // the next() that holds waker_
    std::optional<rt::Waker> waker_;  // its task's waker
};

template <class T>
class Feed<T>::Next {
public:
    using Output = std::optional<T>;

    explicit Next(Feed& feed) : feed_(&feed) {}
    Next(Next&& other) noexcept : feed_(other.feed_) {
        assert(other.feed_->waiting_ != &other && "a Feed's next() moved while it waits");
    }
    Next& operator=(Next&&) = delete;
    ~Next() { release(); }  // dropped while it waits: let go of the waker

    rt::Poll<std::optional<T>> poll(rt::Context& cx) {
        if (!feed_->items_.empty()) {
            release();
            T item = std::move(feed_->items_.front());
            feed_->items_.pop_front();
            return std::optional<T>(std::move(item));
        }
        if (feed_->closed_) {
            release();
            return std::optional<T>();
        }
        assert((feed_->waiting_ == nullptr || feed_->waiting_ == this) &&
               "two next() of one Feed wait at once");
        if (!feed_->waker_ || !feed_->waker_->will_wake(cx.waker())) feed_->waker_ = cx.waker();
        feed_->waiting_ = this;
        return rt::pending;
    }

private:
    /// If this next() holds the feed's waker, drop it: nothing is waited for any more.
    void release() {
        if (feed_->waiting_ != this) return;
        feed_->waiting_ = nullptr;
        feed_->waker_.reset();
    }

    Feed* feed_;  // outlives this future
};

}  // namespace ex
