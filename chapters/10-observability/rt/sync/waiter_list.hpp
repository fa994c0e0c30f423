// WaiterList: the wakers of the futures waiting for one event, each kept in a numbered slot
// (new in chapter 9). A future takes a slot at its first pending poll and passes it back at
// every later one, so that its entry is found and replaced, never added twice; it gives the
// slot up when it completes or goes. The event's side takes every waker at once to wake them.
//
// Not thread-safe on its own: the owner guards it with its mutex (rt::signal's Listener,
// rt::sync::Event). Every function that removes a waker hands it back instead of dropping it,
// so that the owner drops it after its unlock: dropping a waker may free a task, whose future
// may hold another waiter of the same list, which would take the same mutex again.
#pragma once

#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

#include "rt/waker.hpp"

namespace rt::sync {

class WaiterList {
public:
    /// The slot of a future that has none (never polled pending, or its waker was taken).
    static constexpr std::size_t no_slot = static_cast<std::size_t>(-1);

    /// Keep `waker` in `slot`: a new slot if it is no_slot; the same slot again if the event
    /// took every waker since (the future waits for a later event). Returns the waker it
    /// replaced, if any, for the caller to drop after its unlock.
    std::optional<Waker> keep(std::size_t& slot, const Waker& waker) {
        if (slot == no_slot) slot = next_slot_++;
        for (auto& [id, kept] : waiting_) {
            if (id != slot) continue;
            if (kept.will_wake(waker)) return std::nullopt;  // no clone for the same task
            return std::exchange(kept, waker);
        }
        waiting_.emplace_back(slot, waker);
        return std::nullopt;
    }

    /// Give `slot` up (it becomes no_slot). Returns its waker, if it was still kept.
    std::optional<Waker> forget(std::size_t& slot) {
        std::optional<Waker> removed;
        for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
            if (it->first == slot) {
                removed.emplace(std::move(it->second));
                waiting_.erase(it);
                break;
            }
        }
        slot = no_slot;
        return removed;
    }

    /// Every waker kept, taken out of the list, to wake after the unlock.
    std::vector<std::pair<std::size_t, Waker>> take_all() { return std::exchange(waiting_, {}); }

private:
    std::vector<std::pair<std::size_t, Waker>> waiting_;  // (slot, waker), in no order
    std::size_t next_slot_ = 0;
};

}  // namespace rt::sync
