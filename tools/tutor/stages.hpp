// The ten stages the curriculum plans (CURRICULUM.md), so `tutor status` and `tutor list`
// can show the chapters that are not written yet as "coming".
#pragma once

#include <array>
#include <string_view>

namespace tutor {

/// One planned stage: its number, its folder name after "NN-", and what it adds.
struct PlannedStage {
    std::string_view number;
    std::string_view name;
    std::string_view summary;
};

inline constexpr std::array<PlannedStage, 10> planned_stages{{
    {"01", "naive-executor",
     "Poll, Context, Waker and hand-written futures on an executor that polls everything, always"},
    {"02", "wakers", "real wakers and a ready queue: the executor sleeps until a task is woken"},
    {"03", "reactor", "a reactor on its own thread that wakes exactly the task an event is for"},
    {"04", "coroutines", "C++20 coroutines as futures: Task, spawn, JoinHandle, block_on"},
    {"05", "epoll-reactor", "an epoll I/O driver and non-blocking TCP sockets"},
    {"06", "timers", "a timer driver: sleep, interval and timeout"},
    {"07", "as-fast-as-tokio",
     "chapter 6's runtime made faster than Tokio's, one measured change at a time"},
    {"08", "multi-threaded", "worker threads with work-stealing run queues and parking"},
    {"09", "blocking-and-files",
     "spawn_blocking, async file I/O, a cooperative budget and graceful shutdown"},
    {"10", "observability", "metrics and a console: what every worker and task is doing"},
}};

}  // namespace tutor
