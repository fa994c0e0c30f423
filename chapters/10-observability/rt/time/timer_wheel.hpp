// TimerWheel: a hierarchical timing wheel, as in Tokio and the Linux kernel: 6 levels of 64
// slots at 1 ms resolution. Level 0's slots are 1 ms wide and cover 64 ms; each level up, a
// slot covers what a whole level below covers (64 ms, 4 s, 4.4 min, 4.7 h, 12.4 days), so the
// six levels reach 2^36 ms, about 2.2 years. Later deadlines wait in the last level and are
// placed again when it comes round: the last level's slots are a ring, and a slot at or behind
// the current position there is due at the next turn, never now.
//
// Costs: insert and remove are O(1) (a slot is a doubly linked list of entries, and each
// entry knows its slot); finding the next deadline is O(levels) with one bit mask per level;
// an entry is moved at most once per level on its way down as its deadline comes near.
//
// Where an entry goes: its level is the highest 6-bit group in which its deadline differs
// from `elapsed_` (the time the wheel has advanced to), and its slot is that group of the
// deadline. So a deadline in the current 64 ms goes to level 0, at its exact millisecond; one
// in the current 4 s but a later 64 ms block to level 1; and so on. Every entry of a lower
// level is due before every entry of a higher one.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <optional>
#include <utility>

#include "rt/time/entry.hpp"

namespace rt::detail {

class TimerWheel {
public:
    static constexpr unsigned levels = 6;
    static constexpr unsigned slots = 64;  // per level
    static constexpr unsigned bits_per_level = 6;
    static constexpr Tick max_span = Tick{1} << (levels * bits_per_level);  // 2^36 ms

    /// Add `entry` (not registered, `when` set). A deadline already reached goes to the
    /// current slot of level 0 and fires at the next advance.
    void insert(TimerEntry* entry) {
        // Where to file it: its deadline, but no earlier than now and no further than one
        // turn of the last level (a later deadline is filed again when that slot comes due).
        Tick when = entry->when < elapsed_ ? elapsed_ : entry->when;
        if (when - elapsed_ >= max_span) when = elapsed_ + max_span - 1;
        const unsigned level = level_for(when);
        const unsigned slot = static_cast<unsigned>((when >> (level * bits_per_level)) % slots);
        entry->level = level;
        entry->slot = slot;
        TimerEntry*& head = levels_[level].heads[slot];
        entry->prev = nullptr;
        entry->next = head;
        if (head != nullptr) head->prev = entry;
        head = entry;
        levels_[level].occupied |= std::uint64_t{1} << slot;
        ++size_;
    }

    /// Take a registered `entry` out: unlink it from its slot.
    void remove(TimerEntry* entry) {
        Level& level = levels_[entry->level];
        if (entry->prev != nullptr) {
            entry->prev->next = entry->next;
        } else {
            level.heads[entry->slot] = entry->next;
        }
        if (entry->next != nullptr) entry->next->prev = entry->prev;
        if (level.heads[entry->slot] == nullptr) {
            level.occupied &= ~(std::uint64_t{1} << entry->slot);
        }
        entry->prev = entry->next = nullptr;
        --size_;
    }

    /// When the wheel next has work: the earliest deadline of level 0, or the moment a
    /// higher level's slot must be placed again, lower.
    std::optional<Tick> next_deadline() const {
        if (std::optional<Expiration> next = next_expiration()) return next->deadline;
        return std::nullopt;
    }

    // snippet-begin: advance
    /// Move time to `now`: every entry whose deadline is at or before it is taken out and
    /// given to `fire`; entries of a higher level whose slot came due are placed again, on a
    /// lower level (the cascade).
    template <class Fire>
    void advance(Tick now, Fire&& fire) {
        while (std::optional<Expiration> due = next_expiration()) {
            if (due->deadline > now) break;
            elapsed_ = due->deadline;
            Level& level = levels_[due->level];
            TimerEntry* entry = std::exchange(level.heads[due->slot], nullptr);
            level.occupied &= ~(std::uint64_t{1} << due->slot);
            while (entry != nullptr) {
                TimerEntry* next = entry->next;
                entry->prev = entry->next = nullptr;
                --size_;
                if (entry->when <= elapsed_) {
                    fire(entry);
                } else {
                    insert(entry);  // due later within this slot's span: a lower level
                }
                entry = next;
            }
        }
        if (now > elapsed_) elapsed_ = now;
    }
    // snippet-end: advance

    /// Take every entry out, and give each to `detach` (the driver's shutdown).
    template <class Detach>
    void clear(Detach&& detach) {
        for (Level& level : levels_) {
            for (TimerEntry*& head : level.heads) {
                while (TimerEntry* entry = head) {
                    head = entry->next;
                    entry->prev = entry->next = nullptr;
                    detach(entry);
                }
            }
            level.occupied = 0;
        }
        size_ = 0;
    }

    std::size_t size() const noexcept { return size_; }
    Tick elapsed() const noexcept { return elapsed_; }

private:
    struct Level {
        std::array<TimerEntry*, slots> heads{};  // each slot's list of entries
        std::uint64_t occupied = 0;              // bit s set: slot s is not empty
    };

    /// The next slot to come due, and when.
    struct Expiration {
        Tick deadline;
        unsigned level;
        unsigned slot;
    };

    // snippet-begin: next-slot
    /// The earliest non-empty slot: for level 0 its entries' deadline; for a higher level
    /// the start of the slot's span, when its entries must be placed again, lower. Lower
    /// levels first: their entries are due sooner.
    std::optional<Expiration> next_expiration() const {
        for (unsigned level = 0; level < levels; ++level) {
            const std::uint64_t occupied = levels_[level].occupied;
            if (occupied == 0) continue;
            const Tick slot_span = Tick{1} << (level * bits_per_level);
            const Tick level_span = slot_span * slots;
            const unsigned now_slot = static_cast<unsigned>((elapsed_ / slot_span) % slots);
            // The first occupied slot at or after the current one, going round.
            const unsigned distance = static_cast<unsigned>(
                std::countr_zero(std::rotr(occupied, static_cast<int>(now_slot))));
            const unsigned slot = (now_slot + distance) % slots;
            const Tick level_start = elapsed_ & ~(level_span - 1);
            Tick deadline = level_start + slot * slot_span;
            // Behind the current position, the slot holds entries for the next time round.
            // So does the current slot itself above level 0: an entry is filed there only
            // when its deadline is a whole turn of the last level away, or further (a slot
            // that is due now would have been emptied by advance). Calling that slot due now
            // would put its entries back into the same slot, in a loop that never ends.
            if (level > 0 ? deadline <= elapsed_ : deadline < elapsed_) deadline += level_span;
            return Expiration{deadline, level, slot};
        }
        return std::nullopt;
    }
    // snippet-end: next-slot

    /// The level for a deadline: the highest 6-bit group in which it differs from elapsed_.
    unsigned level_for(Tick when) const {
        Tick differs = (elapsed_ ^ when) | (slots - 1);   // at least level 0
        if (differs >= max_span) differs = max_span - 1;  // far future: the last level
        const unsigned significant = 63u - static_cast<unsigned>(std::countl_zero(differs));
        return significant / bits_per_level;
    }

    std::array<Level, levels> levels_{};
    Tick elapsed_ = 0;      // the wheel has processed every deadline before this
    std::size_t size_ = 0;  // entries registered
};

}  // namespace rt::detail
