// A timeline of the runtime (new in chapter 10): every poll (which worker, which task, when,
// for how long), every wake and every steal, recorded while the runtime runs and written at
// the end in Chrome's trace-event format, which Perfetto (ui.perfetto.dev) and
// chrome://tracing open. Each worker is a track; a poll is a bar on its worker's track, named
// after the task; a wake or a steal is a mark.
//
// Recording must not change what it records, so a worker never takes a lock for it: each
// worker appends to a buffer of its own ("lane"), which only its thread touches while the
// runtime runs. Threads that are not this runtime's workers (the blocking pool, a thread
// that spawns through a Handle, the drivers' holder when it is another runtime's worker)
// share one more lane, under a mutex. The buffers are read only after the workers have
// stopped (Trace::write), or by the thread of the executor, its only lane's owner.
//
// A lane holds at most its share of `capacity` events; later ones are counted as dropped, and
// the file says how many, so that a long run's trace stays a readable size and memory stays
// bounded.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "rt/metrics/json_writer.hpp"

namespace rt::detail {

struct TraceEvent {
    enum Kind : std::uint8_t { poll, wake, self_wake, steal };
    Kind kind;
    std::uint64_t task;  // poll, wake: the task's id; steal: the victim worker
    std::int64_t at_ns;  // when (steady clock)
    std::int64_t value;  // poll: its duration in ns; steal: tasks taken
};

class Trace {
public:
    /// `workers` lanes for the workers (1 for the executor), and one for every other thread.
    Trace(std::uint32_t workers, std::size_t capacity, std::int64_t origin_ns)
        : lanes_(workers + 1), per_lane_(capacity / (workers + 1) + 1), origin_ns_(origin_ns) {}

    /// The lane of a thread that is not one of the workers.
    std::uint32_t other_lane() const noexcept {
        return static_cast<std::uint32_t>(lanes_.size() - 1);
    }

    /// Record an event in `lane`: a worker's own lane from its thread only; other_lane() from
    /// any thread.
    void record(std::uint32_t lane, TraceEvent event) {
        if (lane == other_lane()) {
            std::lock_guard lock(other_mutex_);
            append(lanes_[lane], event);
            return;
        }
        append(lanes_[lane], event);
    }

    /// Write the whole timeline to `file`, naming the tasks with `names` (id to name).
    /// After the workers stopped. Returns false if writing failed.
    bool write(std::FILE* file, const std::unordered_map<std::uint64_t, std::string>& names,
               bool executor) const {
        JsonWriter out(file);
        out.raw("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
        bool first = true;
        auto comma = [&] {
            if (!first) out.raw(",\n");
            first = false;
        };
        // Metadata: a name for the process and for each track (tid 0 is the other threads).
        comma();
        out.raw("{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":");
        out.string("rt runtime");
        out.raw("}}");
        for (std::uint32_t lane = 0; lane < lanes_.size(); ++lane) {
            comma();
            std::string track = lane == other_lane() ? "other threads"
                                : executor           ? "executor"
                                                     : "worker " + std::to_string(lane);
            out.raw("{\"ph\":\"M\",\"pid\":1,\"tid\":");
            out.number(tid_of(lane));
            out.raw(",\"name\":\"thread_name\",\"args\":{\"name\":");
            out.string(track);
            out.raw("}}");
        }
        for (std::uint32_t lane = 0; lane < lanes_.size(); ++lane) {
            for (const TraceEvent& event : lanes_[lane].events) {
                comma();
                write_event(out, lane, event, names);
            }
        }
        out.raw("\n],\"otherData\":{\"dropped_events\":");
        out.number(dropped());
        out.raw("}}\n");
        return out.ok();
    }

    /// Events recorded, and events dropped for want of room.
    std::uint64_t recorded() const {
        std::uint64_t total = 0;
        for (const Lane& lane : lanes_) total += lane.events.size();
        return total;
    }
    std::uint64_t dropped() const {
        std::uint64_t total = 0;
        for (const Lane& lane : lanes_) total += lane.dropped;
        return total;
    }

private:
    struct Lane {
        std::vector<TraceEvent> events;
        std::uint64_t dropped = 0;
    };

    void append(Lane& lane, const TraceEvent& event) {
        if (lane.events.size() >= per_lane_) {
            ++lane.dropped;
            return;
        }
        lane.events.push_back(event);
    }

    /// Track ids: the workers are 1, 2, ...; the other threads 0, listed first.
    std::uint32_t tid_of(std::uint32_t lane) const noexcept {
        return lane == other_lane() ? 0 : lane + 1;
    }

    void write_event(JsonWriter& out, std::uint32_t lane, const TraceEvent& event,
                     const std::unordered_map<std::uint64_t, std::string>& names) const {
        auto name_of = [&names](std::uint64_t task) {
            auto found = names.find(task);
            return found != names.end() ? found->second : "task " + std::to_string(task);
        };
        const double ts_us = static_cast<double>(event.at_ns - origin_ns_) / 1000.0;
        out.raw("{\"pid\":1,\"tid\":");
        out.number(tid_of(lane));
        out.raw(",\"ts\":");
        out.number(ts_us);
        switch (event.kind) {
            case TraceEvent::poll:
                out.raw(",\"ph\":\"X\",\"cat\":\"poll\",\"dur\":");
                out.number(static_cast<double>(event.value) / 1000.0);
                out.raw(",\"name\":");
                out.string(name_of(event.task));
                out.raw(",\"args\":{\"task\":");
                out.number(event.task);
                out.raw("}}");
                return;
            case TraceEvent::wake:
            case TraceEvent::self_wake:
                out.raw(",\"ph\":\"i\",\"s\":\"t\",\"cat\":\"wake\",\"name\":");
                out.string((event.kind == TraceEvent::self_wake ? "self-wake " : "wake ") +
                           name_of(event.task));
                out.raw(",\"args\":{\"task\":");
                out.number(event.task);
                out.raw("}}");
                return;
            case TraceEvent::steal:
                out.raw(",\"ph\":\"i\",\"s\":\"t\",\"cat\":\"steal\",\"name\":");
                out.string("steal " + std::to_string(event.value) + " from worker " +
                           std::to_string(event.task));
                out.raw(",\"args\":{\"victim\":");
                out.number(event.task);
                out.raw(",\"tasks\":");
                out.number(static_cast<std::uint64_t>(event.value));
                out.raw("}}");
                return;
        }
    }

    std::vector<Lane> lanes_;
    const std::size_t per_lane_;
    const std::int64_t origin_ns_;  // time 0 of the file: when the runtime started
    std::mutex other_mutex_;        // the other threads' lane
};

}  // namespace rt::detail
