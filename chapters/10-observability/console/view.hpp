// What the live console shows (console/console.hpp runs it): one frame of text made from two
// snapshots of the runtime's metrics, a second apart, so that it can show rates (polls per
// second) and what each task did during that second, not only since it began. A pure function
// of its inputs, so that a test can check a frame without a terminal.
//
//   rt console · 2 workers · up 12.4 s · 184 tasks live, 1,024 finished       q or Ctrl-C quits
//
//   WORKER   POLLS/S   BUSY   PARKS/S   STEALS/S   QUEUE
//   0         51,203    97%        12         40       3
//   1         48,877    95%        15         38       0
//
//   TASK                       STATE       POLLS/S   BUSY/S   LONGEST   QUEUED/S   SELF-WAKES
//   17 spinner                 scheduled    9,873    412 ms    0.1 ms      3 ms        100%
//   ...
//
//   WARNINGS  slow polls 2 · blocking polls 1 · lost wakers 1 · self-wakers 1
//     task 4 (blocker) blocked its worker for 20 ms in one poll: ...   (the first of each kind)
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "rt/metrics/snapshot.hpp"
#include "support/format.hpp"

namespace console {

using support::with_commas;

/// A duration in ns as the console shows it: "412 ms", "3.2 ms", "85 us".
inline std::string duration(std::int64_t ns) {
    char text[32];
    if (ns >= 10'000'000) {
        std::snprintf(text, sizeof text, "%lld ms", static_cast<long long>(ns / 1'000'000));
    } else if (ns >= 1'000'000) {
        std::snprintf(text, sizeof text, "%.1f ms", static_cast<double>(ns) / 1e6);
    } else {
        std::snprintf(text, sizeof text, "%lld us", static_cast<long long>(ns / 1'000));
    }
    return text;
}

struct ViewOptions {
    std::size_t top_tasks = 10;  // tasks listed, the busiest in the last interval first
    std::size_t width = 100;     // lines are cut to this many columns
    bool live = true;            // the console's title says how to quit it
};

/// One frame: `now`, compared with `before`, a snapshot taken earlier: what happened in
/// between, per second. Without `before`, the totals since the runtime started.
inline std::string render(const rt::MetricsSnapshot& now, const rt::MetricsSnapshot* before,
                          const ViewOptions& options = {}) {
    const std::int64_t interval_ns =
        std::max<std::int64_t>(1, now.uptime_ns - (before != nullptr ? before->uptime_ns : 0));
    const double per_second = 1e9 / static_cast<double>(interval_ns);
    const bool rates = before != nullptr;
    const char* per = rates ? "/S" : "";
    auto rate = [rates, per_second](std::uint64_t now_count, std::uint64_t before_count) {
        const std::uint64_t delta = now_count >= before_count ? now_count - before_count : 0;
        if (!rates) return with_commas(delta);
        return with_commas(
            static_cast<std::uint64_t>(static_cast<double>(delta) * per_second + 0.5));
    };
    auto time_rate = [rates, per_second](std::int64_t ns) {
        return duration(rates ? static_cast<std::int64_t>(static_cast<double>(ns) * per_second)
                              : ns);
    };
    auto header = [per](const char* name) { return std::string(name) + per; };
    std::vector<std::string> lines;
    char line[512];

    const std::string title =
        "rt console · " +
        (now.workers == 0 ? std::string("executor") : std::to_string(now.workers) + " workers") +
        " · up " +
        [&] {
            char up[32];
            std::snprintf(up, sizeof up, "%.1f s", static_cast<double>(now.uptime_ns) / 1e9);
            return std::string(up);
        }() +
        (now.tasks_recorded ? " · " + with_commas(now.tasks.size()) + " tasks live, " +
                                  with_commas(now.finished.count) + " finished"
                            : std::string(" · tasks not recorded"));
    lines.push_back(options.live ? title + "    q or Ctrl-C quits" : title);
    lines.emplace_back();

    if (!now.worker_stats.empty()) {
        std::snprintf(line, sizeof line, "%-8s %10s %6s %9s %10s %7s", "WORKER",
                      header("POLLS").c_str(), "BUSY", header("PARKS").c_str(),
                      header("STEALS").c_str(), "QUEUE");
        lines.emplace_back(line);
        for (std::size_t i = 0; i < now.worker_stats.size(); ++i) {
            const rt::WorkerStats& w = now.worker_stats[i];
            const rt::WorkerStats b = before != nullptr && i < before->worker_stats.size()
                                          ? before->worker_stats[i]
                                          : rt::WorkerStats{};
            const std::int64_t busy = w.busy_ns - b.busy_ns;
            const int busy_percent =
                static_cast<int>(std::clamp<std::int64_t>(busy * 100 / interval_ns, 0, 100));
            std::snprintf(line, sizeof line, "%-8zu %10s %5d%% %9s %10s %7llu", i,
                          rate(w.polls, b.polls).c_str(), busy_percent,
                          rate(w.parks, b.parks).c_str(), rate(w.steals, b.steals).c_str(),
                          static_cast<unsigned long long>(w.queue_depth));
            lines.emplace_back(line);
        }
        std::snprintf(line, sizeof line,
                      "global queue: %llu    blocking pool: %zu threads, %zu idle, %zu queued",
                      static_cast<unsigned long long>(now.global_queue_depth), now.blocking.threads,
                      now.blocking.idle, now.blocking.queued);
        lines.emplace_back(line);
        lines.emplace_back();
    }

    if (now.tasks_recorded) {
        // What each task did since the last frame: its counts then, by id.
        std::map<std::uint64_t, const rt::TaskSnapshot*> then;
        if (before != nullptr) {
            for (const rt::TaskSnapshot& task : before->tasks) then[task.id] = &task;
        }
        struct Row {
            const rt::TaskSnapshot* task;
            std::uint64_t polls;
            std::int64_t busy_ns;
            std::int64_t scheduled_ns;
        };
        std::vector<Row> rows;
        for (const rt::TaskSnapshot& task : now.tasks) {
            const auto found = then.find(task.id);
            const rt::TaskSnapshot* was = found != then.end() ? found->second : nullptr;
            rows.push_back({&task, task.polls - (was ? was->polls : 0),
                            task.busy_ns - (was ? was->busy_ns : 0),
                            task.scheduled_ns - (was ? was->scheduled_ns : 0)});
        }
        std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
            return a.busy_ns != b.busy_ns ? a.busy_ns > b.busy_ns : a.task->id < b.task->id;
        });
        std::snprintf(line, sizeof line, "%-30s %-9s %9s %9s %9s %9s %10s", "TASK", "STATE",
                      header("POLLS").c_str(), header("BUSY").c_str(), "LONGEST",
                      header("QUEUED").c_str(), "SELF-WAKES");
        lines.emplace_back(line);
        for (std::size_t i = 0; i < rows.size() && i < options.top_tasks; ++i) {
            const Row& row = rows[i];
            const rt::TaskSnapshot& task = *row.task;
            std::string name = std::to_string(task.id) + " " + task.name;
            if (name.size() > 30) name = name.substr(0, 29) + "~";
            const std::uint64_t self_percent =
                task.wakes > 0 ? task.self_wakes * 100 / task.wakes : 0;
            std::snprintf(line, sizeof line, "%-30s %-9s %9s %9s %9s %9s %9llu%%", name.c_str(),
                          task.state, rate(row.polls, 0).c_str(), time_rate(row.busy_ns).c_str(),
                          duration(task.longest_poll_ns).c_str(),
                          time_rate(row.scheduled_ns).c_str(),
                          static_cast<unsigned long long>(self_percent));
            lines.emplace_back(line);
        }
        if (rows.size() > options.top_tasks) {
            lines.push_back("... and " + with_commas(rows.size() - options.top_tasks) + " more");
        }
        lines.emplace_back();
        const auto& counts = now.warning_counts;
        std::snprintf(
            line, sizeof line,
            "WARNINGS  slow polls %llu · blocking polls %llu · lost wakers %llu · self-wakers %llu",
            static_cast<unsigned long long>(counts[0]), static_cast<unsigned long long>(counts[1]),
            static_cast<unsigned long long>(counts[2]), static_cast<unsigned long long>(counts[3]));
        lines.emplace_back(line);
        // The first warning of each kind: one example per problem, whatever the counts.
        for (std::size_t kind = 0; kind < rt::warning_kinds; ++kind) {
            for (const rt::Warning& warning : now.warnings) {
                if (static_cast<std::size_t>(warning.kind) == kind) {
                    lines.push_back("  " + warning.message);
                    break;
                }
            }
        }
    }

    std::string frame;
    for (std::string& text : lines) {
        // Cut to the width by columns, not bytes: "·" is two bytes and one column.
        std::size_t columns = 0;
        std::size_t cut = text.size();
        for (std::size_t i = 0; i < text.size(); ++i) {
            if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;  // continuation
            if (columns == options.width) {
                cut = i;
                break;
            }
            ++columns;
        }
        frame += text.substr(0, cut);
        frame += '\n';
    }
    return frame;
}

}  // namespace console
