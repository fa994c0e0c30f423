// Waker: the handle a future keeps so that whoever completes its event can say "poll me
// again". A Waker is a data pointer plus a table of four functions (clone, wake,
// wake_by_ref, drop) chosen by the executor; the future never knows which executor it runs on.
//
// Guarantees: a Waker owns one "reference" in the executor's sense. Copying it calls clone,
// destroying it calls drop, `std::move(w).wake()` consumes it. A moved-from Waker is empty:
// destroying it does nothing, and waking it is a bug (asserted).
#pragma once

#include <cassert>
#include <utility>

namespace rt {

struct RawWakerVTable;

/// The untyped pair an executor builds: what to wake (data) and how (vtable).
struct RawWaker {
    const void* data = nullptr;
    const RawWakerVTable* vtable = nullptr;
};

/// The four operations every executor provides for its wakers.
struct RawWakerVTable {
    /// Make a new RawWaker that wakes the same task (e.g. take another reference).
    RawWaker (*clone)(const void* data);
    /// Wake the task and release this waker's reference.
    void (*wake)(const void* data);
    /// Wake the task, keep this waker's reference.
    void (*wake_by_ref)(const void* data);
    /// Release this waker's reference without waking.
    void (*drop)(const void* data);
};

class Waker {
public:
    /// Adopt a RawWaker: the new Waker owns the reference `raw` stands for.
    explicit Waker(RawWaker raw) noexcept : raw_(raw) { assert(raw_.vtable != nullptr); }

    Waker(const Waker& other) : raw_(other.raw_.vtable->clone(other.raw_.data)) {}
    Waker(Waker&& other) noexcept : raw_(std::exchange(other.raw_, RawWaker{})) {}

    Waker& operator=(const Waker& other) {
        if (this != &other) {
            Waker copy(other);
            swap(copy);
        }
        return *this;
    }
    Waker& operator=(Waker&& other) noexcept {
        Waker taken(std::move(other));
        swap(taken);
        return *this;
    }

    // GCC 12 sometimes takes an empty std::optional<Waker>, moved into a future's temporary,
    // for an uninitialised Waker here (-Wmaybe-uninitialized, a known false positive of its
    // optimiser); a moved-from or empty Waker has a null vtable, which this checks.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
    ~Waker() {
        if (raw_.vtable != nullptr) raw_.vtable->drop(raw_.data);
    }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

    /// Wake the task and give up this waker: `std::move(waker).wake();`.
    void wake() && {
        assert(raw_.vtable != nullptr && "waking an empty (moved-from) Waker");
        RawWaker raw = std::exchange(raw_, RawWaker{});
        raw.vtable->wake(raw.data);
    }

    /// Wake the task and keep the waker for later wakes.
    void wake_by_ref() const {
        assert(raw_.vtable != nullptr && "waking an empty (moved-from) Waker");
        raw_.vtable->wake_by_ref(raw_.data);
    }

    /// True when both wakers wake the same task the same way, so a future that already
    /// holds `other` can skip replacing it (and the clone that would cost).
    bool will_wake(const Waker& other) const noexcept {
        return raw_.data == other.raw_.data && raw_.vtable == other.raw_.vtable;
    }

    const RawWaker& as_raw() const noexcept { return raw_; }

    void swap(Waker& other) noexcept { std::swap(raw_, other.raw_); }

private:
    RawWaker raw_;
};

namespace detail {
inline RawWaker noop_clone(const void*);
inline void noop(const void*) {}
inline constexpr RawWakerVTable noop_vtable{&noop_clone, &noop, &noop, &noop};
inline RawWaker noop_clone(const void*) { return RawWaker{nullptr, &noop_vtable}; }
}  // namespace detail

/// A waker whose operations do nothing. Chapter 1's executor polls every task anyway, so it
/// never needs to be told which one to poll.
inline Waker noop_waker() noexcept { return Waker(RawWaker{nullptr, &detail::noop_vtable}); }

}  // namespace rt
