// TimerHeap: the simple timer structure, a binary min-heap of entries ordered by deadline.
// Insert and remove are O(log n) (each entry knows its index, so removal needs no search);
// the next deadline is the top, O(1). The chapter compares it with the timing wheel.
#pragma once

#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

#include "rt/time/entry.hpp"

namespace rt::detail {

class TimerHeap {
public:
    /// Add `entry` (not registered, `when` set).
    void insert(TimerEntry* entry) {
        entry->heap_index = heap_.size();
        heap_.push_back(entry);
        sift_up(entry->heap_index);
    }

    /// Take a registered `entry` out, wherever it is.
    void remove(TimerEntry* entry) {
        const std::size_t index = entry->heap_index;
        const std::size_t last = heap_.size() - 1;
        if (index != last) {
            place(index, heap_[last]);
            heap_.pop_back();
            sift_down(index);
            sift_up(index);
        } else {
            heap_.pop_back();
        }
    }

    /// The earliest deadline, if any entry is registered.
    std::optional<Tick> next_deadline() const {
        if (heap_.empty()) return std::nullopt;
        return heap_.front()->when;
    }

    /// Take out every entry whose deadline is at or before `now`, and give each to `fire`.
    template <class Fire>
    void advance(Tick now, Fire&& fire) {
        while (!heap_.empty() && heap_.front()->when <= now) {
            TimerEntry* entry = heap_.front();
            remove(entry);
            fire(entry);
        }
    }

    std::size_t size() const noexcept { return heap_.size(); }

private:
    void place(std::size_t index, TimerEntry* entry) {
        heap_[index] = entry;
        entry->heap_index = index;
    }
    void sift_up(std::size_t index) {
        while (index > 0) {
            const std::size_t parent = (index - 1) / 2;
            if (heap_[parent]->when <= heap_[index]->when) break;
            TimerEntry* moved = heap_[parent];
            place(parent, heap_[index]);
            place(index, moved);
            index = parent;
        }
    }
    void sift_down(std::size_t index) {
        for (;;) {
            std::size_t smallest = index;
            for (std::size_t child : {2 * index + 1, 2 * index + 2}) {
                if (child < heap_.size() && heap_[child]->when < heap_[smallest]->when) {
                    smallest = child;
                }
            }
            if (smallest == index) return;
            TimerEntry* moved = heap_[smallest];
            place(smallest, heap_[index]);
            place(index, moved);
            index = smallest;
        }
    }

    std::vector<TimerEntry*> heap_;  // heap_[0] has the earliest deadline
};

}  // namespace rt::detail
