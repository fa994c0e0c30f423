// The multi-threaded scheduler: the state all workers share (Shared, the Scheduler every task of
// the runtime points to) and the loop each worker thread runs (Worker). Tokio's
// `multi_thread::worker`, in two variants the chapter measures side by side:
//  - shared_queue: every task goes through one queue under one mutex (rt/multi_thread/inject.hpp).
//    Simple, fair, and every push and pop of every worker takes the same lock;
//  - work_stealing: each worker has its own queue (rt/multi_thread/local_queue.hpp), which only
//    it pushes to and pops from; a worker with nothing to do steals half of another's.
//
// Where a woken task goes (work_stealing, Shared::push):
//  - woken on a worker of this runtime: into that worker's LIFO slot, and the task that was
//    there to the back of its queue. The task just woken is most likely the one whose data is
//    hot in this core's cache (a message was just sent to it), so it runs next. At most
//    `max_lifo_polls` tasks run in a row from the slot; after that, until the worker takes a
//    task from its queue, wakes go to the back: two tasks waking each other cannot keep the
//    queue waiting for ever. When the queue then holds more than the one task the worker
//    takes next, a parked worker is unparked to steal some;
//  - woken by itself during its poll (a yield), or in the LIFO-disabled stretch: to the back;
//  - woken or spawned on any other thread: into the global queue, and a parked worker is
//    unparked (rt/multi_thread/idle.hpp says which, if any).
//
// The loop of a worker (Worker::run), one tick per task:
//  1. every `event_interval` ticks: collect I/O events and timers without waiting, if no
//     other worker holds the drivers; look at the shutdown flag;
//  2. take a task: every `global_queue_interval` ticks the global queue first (so that it
//     cannot starve behind a busy local queue), otherwise the LIFO slot, the local queue,
//     then a batch from the global queue;
//  3. none: search, if fewer than half the workers do: steal half of another worker's queue,
//     starting at a random one, then try the global queue. A searcher that finds a task stops
//     searching and, if it was the last searcher, unparks another worker: there may be more;
//  4. none: park (rt/multi_thread/idle.hpp's protocol), until unparked or until the drivers,
//     if this worker holds them, woke tasks of its own.
//
// New in chapter 10: the counters moved to rt/metrics/worker_stats.hpp and gained steal attempts
// and the time parked; a worker measures each poll of a task that has statistics, and records
// its steals in the timeline when there is one (rt/metrics/).
//
// Guarantees: a task is in at most one queue and polled by at most one worker at a time
// (rt/task.hpp); no task waits for ever while workers run (the global queue's interval, the
// LIFO cap, stealing); no worker sleeps while a task it could run is queued and no other
// worker is awake to run it (the park protocol).
#pragma once

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include "rt/coop.hpp"
#include "rt/metrics/worker_stats.hpp"
#include "rt/multi_thread/driver.hpp"
#include "rt/multi_thread/idle.hpp"
#include "rt/multi_thread/inject.hpp"
#include "rt/multi_thread/local_queue.hpp"
#include "rt/multi_thread/owned_tasks.hpp"
#include "rt/multi_thread/parker.hpp"
#include "rt/scheduler.hpp"

namespace rt {

/// How the workers share tasks: one queue under a mutex (step 1 of the chapter), or a queue
/// per worker with stealing (step 2, the default).
enum class Scheduling { work_stealing, shared_queue };

namespace detail {

/// One worker's part of the shared state: what other workers touch (its queue, to steal; its
/// Parker, to unpark it) and its statistics.
struct Remote {
    LocalQueue queue;
    Parker parker;
    std::int64_t holders = 0;  // the worker's count of the scheduler's holders (scheduler.hpp)
    struct {
        Counter polls, lifo_hits, steals, stolen, steal_attempts, from_global, overflows, parks,
            driver_parks, parked_ns;
        // When the current park began (0: awake), so that a snapshot taken during a long park
        // counts it (new in chapter 10).
        std::atomic<std::int64_t> parked_since{0};
    } stats;
};

class Worker;

/// The worker this thread is, if any: where a wake on this thread goes.
inline thread_local Worker* current_worker = nullptr;

class Shared final : public Scheduler {
public:
    Shared(std::uint32_t workers, Scheduling scheduling, MetricsOptions metrics)
        : scheduling(scheduling),
          workers(workers),
          idle(workers),
          owned(workers),
          remotes(new Remote[workers]),
          wake_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
        if (wake_fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
        count_on_workers();
        enable_metrics(std::move(metrics), workers, false);  // new in chapter 10
    }

    void push(Task* task) override;  // below Worker

    bool push_spawned(Task* task) override {
        if (!owned.bind_remote(task)) return false;  // shut down: the caller keeps both references
        // Bound before the shutdown closed the live tasks: it will cancel this task, so a
        // refused push only drops the queue's reference.
        if (!inject.push(task)) {
            task->unref();
            return true;
        }
        notify_parked();
        return true;
    }

    /// A task woken or spawned away from the workers, or by the shared_queue variant: the
    /// global queue, and a worker to run it.
    void push_remote(Task* task) {
        if (!inject.push(task)) {
            task->unref();  // shut down: the queue's reference goes
            return;
        }
        notify_parked();
    }

    /// Unpark one worker for new work, unless one searches already or none is parked.
    void notify_parked() {
        if (const std::optional<std::uint32_t> worker = idle.worker_to_notify()) {
            remotes[*worker].parker.unpark(wake_fd);
        }
    }

    /// The last searcher parks: look at every queue once more (idle.hpp, step 3).
    void notify_if_work_pending() {
        for (std::uint32_t i = 0; i < workers; ++i) {
            if (!remotes[i].queue.is_empty()) {
                notify_parked();
                return;
            }
        }
        if (!inject.is_empty()) notify_parked();
    }

    /// Shutdown, after the worker threads have ended: the workers' counts of holders join the
    /// shared one (rt/scheduler.hpp).
    void merge_worker_holders() noexcept {
        std::int64_t sum = 0;
        for (std::uint32_t i = 0; i < workers; ++i) sum += remotes[i].holders;
        merge_local_holders(sum);
    }

    /// Shutdown, step 1: every worker leaves its loop at its next look at the flag, and a
    /// parked one is unparked to look.
    void begin_shutdown() {
        shutdown.store(true, std::memory_order_release);
        for (std::uint32_t i = 0; i < workers; ++i) remotes[i].parker.unpark(wake_fd);
    }

    const Scheduling scheduling;
    const std::uint32_t workers;
    Inject inject;
    Idle idle;
    OwnedTasks owned;
    std::unique_ptr<Remote[]> remotes;
    const int wake_fd;  // ends the drivers' holder's epoll_wait
    std::atomic<bool> shutdown{false};
    const std::int64_t started_ns = now_ns();  // busy time is the rest of a worker's life

private:
    ~Shared() override { ::close(wake_fd); }  // through release(), by the last task or Handle
};

// alignas(64): each worker writes its own fields on every tick; two workers allocated side by side
// must not share a cache line (false sharing would make every tick a cache miss).
class alignas(64) Worker final : public RuntimeContext {
public:
    /// The global queue is checked every 31 ticks (Tokio 1.24: 31 in its current-thread
    /// runtime, 61 in its multi-threaded one); events and timers are collected every 61, as
    /// in Tokio. The LIFO cap is a compromise: Tokio 1.24 had none
    /// but its cooperative budget of 128 polls, later versions have 3. With 3, a chain of
    /// tasks each spawning the next left the slot every third task, and with two workers went
    /// back and forth between them: chained_spawn took 203 ns a link on two workers, 131 with
    /// 32 (and 70 once one queued task no longer wakes another worker, schedule_local).
    static constexpr std::uint32_t global_queue_interval = 31;
    static constexpr std::uint32_t event_interval = 61;
    static constexpr int max_lifo_polls = 32;

    Worker(Shared& shared, Driver& driver, BlockingPool& blocking, std::uint32_t index)
        : shared_(shared),
          driver_(driver),
          blocking_(blocking),
          index_(index),
          remote_(shared.remotes[index]),
          metrics_(shared.metrics()),
          random_(0x9e3779b9u * (index + 1)) {}

    /// The thread's body: run tasks until the runtime shuts down.
    void run() {
        current_worker = this;
        current_runtime = this;
        counting_for = &shared_;
        local_holders = &remote_.holders;
        lane_owner = metrics_;  // this worker's lane of the timeline (new in chapter 10)
        lane_index = index_;
        while (!shutdown_seen_) {
            ++tick_;
            if (tick_ % event_interval == 0) maintenance();  // step 1
            if (Task* task = next_task()) {                  // step 2
                run_task(task);
                continue;
            }
            if (Task* task = steal_work()) {  // step 3
                run_task(task);
                continue;
            }
            park();  // step 4
        }
        counting_for = nullptr;
        local_holders = nullptr;
        lane_owner = nullptr;
        current_runtime = nullptr;
        current_worker = nullptr;
    }

    /// A task woken on this worker's thread (Shared::push), or spawned by one of its tasks,
    /// or woken during its own poll (`yield`: to the back).
    void schedule_local(Task* task, bool yield) {
        if (shared_.scheduling == Scheduling::shared_queue) {
            shared_.push_remote(task);
            return;
        }
        bool queued = true;
        if (yield || !lifo_enabled_) {
            push_back(task);
        } else {
            Task* previous = std::exchange(lifo_, task);
            queued = previous != nullptr;
            if (queued) push_back(previous);
        }
        // More work than this worker takes next: wake a worker to steal some, unless one
        // searches already (idle.hpp). A single queued task is this worker's next one, and
        // waking another for it would cost a system call on each side, to find it gone (a
        // chain of tasks each spawning the next would hop between workers at every wake).
        // Not while parked: park() looks after waking.
        if (queued && !parked_ && remote_.queue.len() > 1) shared_.notify_parked();
    }

    /// Shutdown, after the thread has ended: hand back the tasks this worker still holds.
    template <class Release>
    void drain(Release&& release) {
        if (lifo_ != nullptr) release(std::exchange(lifo_, nullptr));
        while (Task* task = remote_.queue.pop()) release(task);
    }

    bool belongs_to(const Shared* shared) const noexcept { return &shared_ == shared; }

    // RuntimeContext: what rt::spawn, AsyncFd and Sleep find on a worker's thread.
    Scheduler* scheduler() noexcept override { return &shared_; }
    void spawn_task(Task* task) override {
        shared_.owned.bind_local(task, index_);  // closed only after the workers have stopped
        schedule_local(task, false);
    }
    IoDriver& io_driver() noexcept override { return driver_.io(); }
    TimeDriver& time_driver() noexcept override { return driver_.time(); }
    BlockingPool& blocking_pool() noexcept override { return blocking_; }

private:
    // snippet-begin: next-task
    /// Step 2: the next task of this worker, or null.
    Task* next_task() {
        if (shared_.scheduling == Scheduling::shared_queue) return pop_global();
        if (tick_ % global_queue_interval == 0) {  // the global queue first, now and then
            if (Task* task = pop_global()) return task;
        }
        if (Task* task = std::exchange(lifo_, nullptr)) return task;
        if (Task* task = remote_.queue.pop()) return task;
        if (shared_.inject.is_empty()) return nullptr;
        // A batch from the global queue: this worker's share of it, as much as fits, so that
        // the lock is taken once for many tasks.
        const std::size_t share = shared_.inject.len() / shared_.workers + 1;
        const std::size_t room =
            std::min<std::size_t>(remote_.queue.remaining_slots(), LocalQueue::capacity / 2);
        TaskList batch;
        const std::size_t taken = shared_.inject.pop_n(std::min(share, room), batch);
        remote_.stats.from_global.add(taken);
        Task* first = batch.pop_front();
        while (Task* task = batch.pop_front()) remote_.queue.push_back_unchecked(task);
        return first;
    }
    // snippet-end: next-task

    Task* pop_global() {
        Task* task = shared_.inject.pop();
        if (task != nullptr) remote_.stats.from_global.add();
        return task;
    }

    // snippet-begin: steal-work
    /// Step 3: search other workers' queues, then the global queue.
    Task* steal_work() {
        if (!searching_) {
            if (!shared_.idle.transition_to_searching()) return nullptr;  // enough searchers
            searching_ = true;
        }
        // The shared queue has nothing to steal from, but its workers search too: a searcher
        // that parks last looks at the queue once more (idle.hpp), and that is what keeps a
        // task pushed just before it parked from waiting for ever.
        if (shared_.scheduling == Scheduling::shared_queue) return pop_global();
        const std::uint32_t workers = shared_.workers;
        const std::uint32_t start = next_random() % workers;
        for (std::uint32_t i = 0; i < workers; ++i) {
            const std::uint32_t victim = (start + i) % workers;
            if (victim == index_) continue;
            std::uint64_t stolen = 0;
            remote_.stats.steal_attempts.add();
            if (Task* task = shared_.remotes[victim].queue.steal_into(remote_.queue, stolen)) {
                remote_.stats.steals.add();
                remote_.stats.stolen.add(stolen);
                if (metrics_ != nullptr) metrics_->stole(victim, stolen);
                return task;
            }
        }
        return pop_global();
    }
    // snippet-end: steal-work

    // snippet-begin: run-task
    /// Run a task, then the tasks its poll put in the LIFO slot, at most max_lifo_polls.
    void run_task(Task* task) {
        if (searching_) {  // found work: stop searching; the last searcher wakes another
            searching_ = false;
            if (shared_.idle.transition_from_searching()) shared_.notify_parked();
        }
        poll(task);
        for (int lifo_polls = 1; lifo_ != nullptr; ++lifo_polls) {
            // The cap: this task runs, but what it wakes goes to the back of the queue.
            if (lifo_polls == max_lifo_polls) lifo_enabled_ = false;
            remote_.stats.lifo_hits.add();
            poll(std::exchange(lifo_, nullptr));
        }
        lifo_enabled_ = true;
    }
    // snippet-end: run-task

    /// Poll one popped task, as the executor does (rt/executor.hpp), and finish it if it
    /// completed or was aborted.
    void poll(Task* task) {
        switch (task->begin_poll()) {
            // snippet-begin: poll-probe
            case Task::Turn::poll:
                remote_.stats.polls.add();
                after_poll(task, poll_future(task), nullptr);
                return;
            case Task::Turn::poll_measured:
                // New in chapter 10: a task with statistics is measured, in a copy of this path
                // of its own. begin_poll tells it apart in the test it makes anyway (its
                // `measured` bit), so a task without them costs no test more than in chapter 9.
                remote_.stats.polls.add();
                poll_measured(task, task->stats());
                return;
            // snippet-end: poll-probe
            case Task::Turn::cancel: {
                const std::uint32_t list = OwnedTasks::list_of(task);  // before the future goes
                task->finish();
                release_finished(task, list);
                return;
            }
            case Task::Turn::skip:  // complete already; a late wake queued it
                task->unref();
                return;
        }
    }

    /// Finish a task whose poll completed it, or queue it again if it woke itself.
    /// `stats`: its statistics, or null (new in chapter 10).
    [[gnu::always_inline]] void after_poll(Task* task, bool completed, TaskStats* stats) {
        if (!completed) {
            if (task->end_poll(polling_woke_itself, stats)) schedule_local(task, true);
            return;
        }
        const std::uint32_t list = OwnedTasks::list_of(task);  // before the future goes
        task->finish(stats);
        release_finished(task, list);
    }

    /// Out of the owned tasks, and the references of a finished task.
    void release_finished(Task* task, std::uint32_t list) {
        if (shared_.owned.remove(task, list, index_)) {
            task->unref(2);  // the runtime's reference and the queue's
        } else {
            task->unref();  // the queue's; the list's owner drops the runtime's
        }
    }

    /// The poll itself: true when the future completed.
    bool poll_future(Task* task) {
        polling = task;
        polling_woke_itself = false;
        bool completed;
        {
            coop::PollBudget budget;  // new in chapter 9 (rt/coop.hpp)
            completed = task->poll();
        }
        polling = nullptr;
        return completed;
    }

    /// The poll of a task with statistics, timed, and what follows it (new in chapter 10).
    [[gnu::noinline]] void poll_measured(Task* task, TaskStats* stats) {
        const std::int64_t started = metrics_->poll_started(stats);
        const bool completed = poll_future(task);
        metrics_->poll_ended(stats, started, completed, polling_woke_itself);
        after_poll(task, completed, stats);
    }

    void push_back(Task* task) {
        const bool overflowed =
            remote_.queue.push_back(task, [this](TaskList& batch, std::size_t count) {
                if (!shared_.inject.push_batch(batch, count)) {  // shut down: release them
                    while (Task* dropped = batch.pop_front()) dropped->unref();
                }
            });
        if (overflowed) remote_.stats.overflows.add();
    }

    // snippet-begin: park
    /// Step 4: park until notified, or until the drivers woke tasks of this worker.
    void park() {
        if (lifo_ != nullptr || !remote_.queue.is_empty()) return;
        shared_.owned.collect(index_);  // free what others completed before sleeping
        // The announcement (idle.hpp, step 3); the last searcher looks at the queues again.
        if (shared_.idle.transition_to_parked(index_, searching_)) {
            searching_ = false;
            shared_.notify_if_work_pending();
        }
        searching_ = false;
        parked_ = true;
        for (;;) {
            remote_.stats.parks.add();
            // snippet-begin: park-time
            const std::int64_t asleep = now_ns();  // new in chapter 10: time parked
            remote_.stats.parked_since.store(asleep, std::memory_order_relaxed);
            const Parker::Slept slept = remote_.parker.park(driver_);
            const std::int64_t awake = now_ns();
            remote_.stats.parked_since.store(0, std::memory_order_relaxed);
            remote_.stats.parked_ns.add(static_cast<std::uint64_t>(awake - asleep));
            // snippet-end: park-time
            if (slept == Parker::Slept::on_driver) remote_.stats.driver_parks.add();
            if (shared_.shutdown.load(std::memory_order_acquire)) {
                shutdown_seen_ = true;
                break;
            }
            if (transition_from_parked()) break;
        }
        parked_ = false;
        // The drivers may have woken several tasks into this worker's queue: share them.
        if (!searching_ && (lifo_ != nullptr ? 1u : 0u) + remote_.queue.len() > 1) {
            shared_.notify_parked();
        }
    }
    // snippet-end: park

    /// Back from the Parker: whether to stop parking. With tasks of its own (the drivers woke
    /// them), the worker takes itself off the parked list; notified, it was taken off and
    /// counted as searching by the notifier; otherwise the wake was spurious.
    bool transition_from_parked() {
        if (lifo_ != nullptr || !remote_.queue.is_empty()) {
            searching_ = !shared_.idle.unpark_worker_by_id(index_);
            return true;
        }
        if (shared_.idle.is_parked(index_)) return false;
        searching_ = true;
        return true;
    }

    /// Step 1: events and timers without waiting, if the drivers are free; the shutdown flag.
    void maintenance() {
        shared_.owned.collect(index_);  // tasks of ours that completed on other workers
        if (driver_.try_lock()) {
            driver_.poll_now();
            driver_.unlock();
        }
        if (shared_.shutdown.load(std::memory_order_acquire)) shutdown_seen_ = true;
    }

    std::uint32_t next_random() noexcept {  // xorshift32: which victim to try first
        random_ ^= random_ << 13;
        random_ ^= random_ >> 17;
        random_ ^= random_ << 5;
        return random_;
    }

    Shared& shared_;
    Driver& driver_;
    BlockingPool& blocking_;  // the runtime's, shared by every worker (new in chapter 9)
    const std::uint32_t index_;
    Remote& remote_;            // this worker's queue, Parker and statistics
    Metrics* const metrics_;    // what the runtime records about tasks, or null (chapter 10)
    Task* lifo_ = nullptr;      // the task to run next; one reference, the queue's
    bool lifo_enabled_ = true;  // false once max_lifo_polls ran in a row
    bool searching_ = false;    // counted as searching in Idle
    bool parked_ = false;       // in park(): wakes on this thread come from the drivers
    bool shutdown_seen_ = false;
    std::uint32_t tick_ = 0;
    std::uint32_t random_;
};

// snippet-begin: shared-push
inline void Shared::push(Task* task) {
    Worker* worker = current_worker;
    if (worker != nullptr && worker->belongs_to(this)) {
        worker->schedule_local(task, false);  // a worker of ours: no lock, no system call
        return;
    }
    // From another thread. Once the task is in the global queue its reference is the queue's,
    // and a shutdown may release it at once, and with it, if it was the last task, this
    // object: hold a reference of our own until notify_parked is done with us.
    retain();
    push_remote(task);
    release();
}
// snippet-end: shared-push

}  // namespace detail
}  // namespace rt
