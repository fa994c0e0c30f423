// model::Atomic<T>: std::atomic<T>'s interface, with a scheduling point of the interleaving
// explorer (model/explorer.hpp) before every operation, named in the trace with the file and
// line of the caller. Same size as std::atomic<T>, so the structures built of them keep their
// layout. The memory order is accepted and ignored: in an execution one thread runs at a time,
// and every operation is sequentially consistent.
#pragma once

#include <atomic>
#include <source_location>

#include "model/explorer.hpp"

namespace model {

template <class T>
class Atomic {
    using Where = std::source_location;
    static constexpr std::memory_order strong = std::memory_order_seq_cst;

public:
    constexpr Atomic() noexcept = default;
    constexpr Atomic(T value) noexcept : value_(value) {}
    Atomic(const Atomic&) = delete;
    Atomic& operator=(const Atomic&) = delete;

    T load(std::memory_order = strong, Where where = Where::current()) const noexcept {
        step("load", where);
        return value_.load(strong);
    }
    void store(T value, std::memory_order = strong, Where where = Where::current()) noexcept {
        step("store", where);
        value_.store(value, strong);
    }
    T exchange(T value, std::memory_order = strong, Where where = Where::current()) noexcept {
        step("exchange", where);
        return value_.exchange(value, strong);
    }
    // Never fails spuriously: a weak compare-and-swap is always in a loop that would retry.
    bool compare_exchange_weak(T& expected, T desired, std::memory_order, std::memory_order,
                               Where where = Where::current()) noexcept {
        return compare_exchange(expected, desired, where);
    }
    bool compare_exchange_weak(T& expected, T desired, std::memory_order = strong,
                               Where where = Where::current()) noexcept {
        return compare_exchange(expected, desired, where);
    }
    bool compare_exchange_strong(T& expected, T desired, std::memory_order, std::memory_order,
                                 Where where = Where::current()) noexcept {
        return compare_exchange(expected, desired, where);
    }
    bool compare_exchange_strong(T& expected, T desired, std::memory_order = strong,
                                 Where where = Where::current()) noexcept {
        return compare_exchange(expected, desired, where);
    }
    T fetch_add(T n, std::memory_order = strong, Where where = Where::current()) noexcept {
        step("fetch_add", where);
        return value_.fetch_add(n, strong);
    }
    T fetch_sub(T n, std::memory_order = strong, Where where = Where::current()) noexcept {
        step("fetch_sub", where);
        return value_.fetch_sub(n, strong);
    }
    T fetch_or(T bits, std::memory_order = strong, Where where = Where::current()) noexcept {
        step("fetch_or", where);
        return value_.fetch_or(bits, strong);
    }
    T fetch_and(T bits, std::memory_order = strong, Where where = Where::current()) noexcept {
        step("fetch_and", where);
        return value_.fetch_and(bits, strong);
    }
    T fetch_xor(T bits, std::memory_order = strong, Where where = Where::current()) noexcept {
        step("fetch_xor", where);
        return value_.fetch_xor(bits, strong);
    }

private:
    bool compare_exchange(T& expected, T desired, Where where) noexcept {
        step("compare_exchange", where);
        return value_.compare_exchange_strong(expected, desired, strong);
    }

    std::atomic<T> value_{};
};

}  // namespace model
