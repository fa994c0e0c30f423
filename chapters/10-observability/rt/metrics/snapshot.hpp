// A runtime's metrics at one moment (new in chapter 10): Runtime::metrics() takes one while the
// runtime runs, and write_json writes it in the format "rt-metrics" version 1, which the
// chapter's text documents field by field and `metrics-schema.json` describes for programs.
//
// A snapshot is a set of values each read at some moment during the call, not one instant:
// the workers keep running while it is taken, so a poll may be counted in a worker's total
// and not yet in its task's. Every count only grows, so two snapshots compare: the second's
// minus the first's is what happened in between.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "rt/blocking/pool.hpp"
#include "rt/metrics/json_writer.hpp"
#include "rt/metrics/metrics.hpp"
#include "rt/metrics/worker_stats.hpp"

namespace rt {

struct MetricsSnapshot {
    static constexpr int format_version = 1;

    std::int64_t uptime_ns = 0;
    std::uint32_t workers = 0;  // 0: the single-threaded executor, which has no worker counters
    std::vector<WorkerStats> worker_stats;
    std::uint64_t global_queue_depth = 0;
    BlockingStats blocking;
    bool tasks_recorded = false;  // MetricsOptions::tasks; the fields below are empty if not
    std::vector<TaskSnapshot> tasks;
    FinishedTasks finished;
    std::array<std::uint64_t, warning_kinds> warning_counts{};
    std::vector<Warning> warnings;
};

namespace detail {

inline double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }
inline double us(std::int64_t ns) { return static_cast<double>(ns) / 1e3; }

}  // namespace detail

/// Write `snapshot` as JSON (format "rt-metrics", version 1). False if writing failed.
inline bool write_json(const MetricsSnapshot& snapshot, std::FILE* file) {
    detail::JsonWriter out(file);
    using detail::ms;
    using detail::us;
    out.raw("{");
    out.key("format", true);
    out.string("rt-metrics");
    out.key("version");
    out.number(static_cast<std::uint64_t>(MetricsSnapshot::format_version));
    out.key("uptime_ms");
    out.number(ms(snapshot.uptime_ns));
    out.key("workers");
    out.raw("[");
    for (std::size_t i = 0; i < snapshot.worker_stats.size(); ++i) {
        const WorkerStats& w = snapshot.worker_stats[i];
        out.raw(i == 0 ? "\n  {" : ",\n  {");
        out.key("index", true);
        out.number(static_cast<std::uint64_t>(i));
        out.key("polls");
        out.number(w.polls);
        out.key("lifo_hits");
        out.number(w.lifo_hits);
        out.key("steals");
        out.number(w.steals);
        out.key("stolen");
        out.number(w.stolen);
        out.key("steal_attempts");
        out.number(w.steal_attempts);
        out.key("from_global");
        out.number(w.from_global);
        out.key("overflows");
        out.number(w.overflows);
        out.key("parks");
        out.number(w.parks);
        out.key("driver_parks");
        out.number(w.driver_parks);
        out.key("busy_ms");
        out.number(ms(w.busy_ns));
        out.key("parked_ms");
        out.number(ms(w.parked_ns));
        out.key("queue_depth");
        out.number(w.queue_depth);
        out.raw("}");
    }
    out.raw("]");
    out.key("global_queue_depth");
    out.number(snapshot.global_queue_depth);
    out.key("blocking");
    out.raw("{");
    out.key("threads", true);
    out.number(static_cast<std::uint64_t>(snapshot.blocking.threads));
    out.key("idle");
    out.number(static_cast<std::uint64_t>(snapshot.blocking.idle));
    out.key("queued");
    out.number(static_cast<std::uint64_t>(snapshot.blocking.queued));
    out.key("calls");
    out.number(snapshot.blocking.calls);
    out.raw("}");
    out.key("tasks_recorded");
    out.raw(snapshot.tasks_recorded ? "true" : "false");
    out.key("tasks");
    out.raw("[");
    for (std::size_t i = 0; i < snapshot.tasks.size(); ++i) {
        const TaskSnapshot& t = snapshot.tasks[i];
        out.raw(i == 0 ? "\n  {" : ",\n  {");
        out.key("id", true);
        out.number(t.id);
        out.key("name");
        out.string(t.name);
        out.key("state");
        out.string(t.state);
        out.key("polls");
        out.number(t.polls);
        out.key("busy_us");
        out.number(us(t.busy_ns));
        out.key("longest_poll_us");
        out.number(us(t.longest_poll_ns));
        out.key("scheduled_us");
        out.number(us(t.scheduled_ns));
        out.key("wakes");
        out.number(t.wakes);
        out.key("self_wakes");
        out.number(t.self_wakes);
        out.key("wakers");
        out.number(t.wakers);
        out.key("age_ms");
        out.number(ms(t.age_ns));
        out.raw("}");
    }
    out.raw("]");
    out.key("finished_tasks");
    out.raw("{");
    out.key("count", true);
    out.number(snapshot.finished.count);
    out.key("polls");
    out.number(snapshot.finished.polls);
    out.key("busy_ms");
    out.number(ms(snapshot.finished.busy_ns));
    out.raw("}");
    out.key("warning_counts");
    out.raw("{");
    for (std::size_t kind = 0; kind < warning_kinds; ++kind) {
        out.key(warning_name(static_cast<WarningKind>(kind)), kind == 0);
        out.number(snapshot.warning_counts[kind]);
    }
    out.raw("}");
    out.key("warnings");
    out.raw("[");
    for (std::size_t i = 0; i < snapshot.warnings.size(); ++i) {
        const Warning& w = snapshot.warnings[i];
        out.raw(i == 0 ? "\n  {" : ",\n  {");
        out.key("kind", true);
        out.string(warning_name(w.kind));
        out.key("task");
        out.number(w.task);
        out.key("name");
        out.string(w.name);
        out.key("value");
        out.number(w.value);
        out.key("message");
        out.string(w.message);
        out.raw("}");
    }
    out.raw("]}\n");
    return out.ok();
}

/// Write `snapshot` to the file at `path` (replaced). False, with errno, if it could not be.
inline bool write_json(const MetricsSnapshot& snapshot, const std::string& path) {
    std::FILE* file = std::fopen(path.c_str(), "w");
    if (file == nullptr) return false;
    const bool written = write_json(snapshot, file);
    return std::fclose(file) == 0 && written;
}

namespace detail {

/// The task part of a snapshot, from a runtime's Metrics (null: tasks not recorded).
template <class StateOf>
void fill_tasks(MetricsSnapshot& snapshot, Metrics* metrics, StateOf state_of) {
    if (metrics == nullptr) return;
    snapshot.tasks_recorded = true;
    snapshot.tasks = metrics->tasks(state_of);
    snapshot.finished = metrics->finished();
    snapshot.warning_counts = metrics->warning_counts();
    snapshot.warnings = metrics->warnings();
}

}  // namespace detail
}  // namespace rt
