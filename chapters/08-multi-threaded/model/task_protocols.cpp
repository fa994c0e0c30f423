// The task's state word and its join protocol (rt/task.hpp) under the explorer: a wake from
// another thread while a worker polls the task is never lost and never queues the task twice;
// an abort from a third thread ends the task at most once; the JoinHandle, awaited from yet
// another thread, gets the value or TaskAborted, and its wake is not lost either; and every
// reference is dropped, so the task is freed.
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

#include "model/explorer.hpp"
#include "protocols.hpp"
#include "rt/join_handle.hpp"
#include "rt/scheduler.hpp"
#include "rt/sync/primitives.hpp"
#include "rt/task.hpp"

namespace model_check {
namespace {

using rt::detail::Task;

/// A scheduler with one run queue and one worker, as a runtime has; it is freed with its
/// last holder, which a leaked task reference would keep alive.
class OneQueue final : public rt::detail::Scheduler {
public:
    explicit OneQueue(bool& freed) : freed_(freed) {}
    void push(Task* task) override {
        std::lock_guard lock(mutex_);
        queue_.push_back(task);
    }
    bool push_spawned(Task*) override { return false; }
    /// The worker: wait for a task to poll, unless `stop` is true first.
    Task* pop_or_stop(const bool& stop) {
        model::block_until([&] { return !queue_.empty() || stop; }, "waits for a task");
        std::lock_guard lock(mutex_);
        if (queue_.empty()) return nullptr;
        Task* task = queue_.front();
        queue_.pop_front();
        return task;
    }

private:
    ~OneQueue() override { freed_ = true; }
    bool& freed_;
    rt::detail::Mutex mutex_;
    std::deque<Task*> queue_;  // under mutex_; block_until reads it while one thread runs
};

/// What the future hands to the thread that wakes it.
struct Handoff {
    std::optional<rt::Waker> waker;
    bool published = false;
};

/// Pending at its first poll, after handing a clone of its waker to another thread; ready
/// with 42 at the second.
class HandsItsWaker {
public:
    using Output = int;
    explicit HandsItsWaker(Handoff& handoff) : handoff_(&handoff) {}
    rt::Poll<int> poll(rt::Context& cx) {
        if (++polls_ == 1) {
            handoff_->waker.emplace(cx.waker());
            handoff_->published = true;
            return rt::pending;
        }
        return 42;
    }

private:
    Handoff* handoff_;
    int polls_ = 0;
};

/// A waker that sets a flag: the JoinHandle's, for the thread that awaits it.
rt::Waker flag_waker(bool& flag) {
    static constexpr rt::RawWakerVTable vtable{
        [](const void* data) {
            return rt::RawWaker{data, &vtable};
        },
        [](const void* data) { *static_cast<bool*>(const_cast<void*>(data)) = true; },
        [](const void* data) { *static_cast<bool*>(const_cast<void*>(data)) = true; },
        [](const void*) {}};
    return rt::Waker(rt::RawWaker{&flag, &vtable});
}

/// A worker's turn at a task (Worker::poll in rt/multi_thread/worker.hpp). True once the
/// task is finished.
bool run(Task* task, OneQueue& queue) {
    using rt::detail::polling;
    using rt::detail::polling_woke_itself;
    switch (task->begin_poll()) {
        case Task::Turn::poll: {
            polling = task;
            polling_woke_itself = false;
            const bool completed = task->poll();
            polling = nullptr;
            if (!completed) {
                if (task->end_poll(polling_woke_itself)) queue.push(task);
                return false;
            }
            break;
        }
        case Task::Turn::cancel:
            break;
        case Task::Turn::skip:  // complete already; a late wake queued it
            task->unref();
            return false;
    }
    task->finish();
    task->unref(2);  // the runtime's reference and the queue's
    return true;
}

// snippet-begin: wake-while-polling
/// A worker polls the task; another thread wakes it with the waker its first poll handed
/// out; with `abort`, a third aborts it; the JoinHandle is awaited on the body's thread.
void wake_while_polling(bool abort) {
    bool freed = false;
    auto* queue = new OneQueue(freed);
    Handoff handoff;
    auto* task = new rt::detail::TaskCell<HandsItsWaker>(HandsItsWaker(handoff), queue);
    queue->push(task);  // spawn: born scheduled, with the queue's reference
    rt::JoinHandle<int> handle(task);
    bool finished = false;
    {
        model::Thread worker([&] {
            while (!finished) {
                if (Task* popped = queue->pop_or_stop(finished)) finished = run(popped, *queue);
            }
        });
        model::Thread waker([&] {
            model::block_until([&] { return handoff.published || finished; }, "waits for a waker");
            if (std::optional<rt::Waker> waker = std::exchange(handoff.waker, std::nullopt)) {
                std::move(*waker).wake();
            }
        });
        std::optional<model::Thread> aborter;
        if (abort) aborter.emplace([&] { handle.abort(); });

        bool woken = false;
        const rt::Waker joiner = flag_waker(woken);
        rt::Context cx(joiner);
        for (;;) {
            try {
                rt::Poll<int> outcome = handle.poll(cx);
                if (outcome.is_pending()) {
                    model::block_until([&] { return woken; }, "awaits the JoinHandle");
                    woken = false;
                    continue;
                }
                model::check(std::move(outcome).value() == 42, "the JoinHandle's value is wrong");
            } catch (const rt::TaskAborted&) {
                model::check(abort, "TaskAborted without an abort");
            }
            break;
        }
    }  // joins the threads
    handle = rt::JoinHandle<int>(nullptr);
    handoff.waker.reset();  // a waker never woken (the task ended first) drops its reference
    queue->release();       // the runtime's hold; the task held one until it was freed
    model::check(freed, "the task was never freed: a reference leaked");
}
// snippet-end: wake-while-polling

}  // namespace

std::vector<Protocol> task_protocols() {
    return {
        {"wake-while-polling",
         "a wake during a poll is kept, the JoinHandle gets the value, the task is freed", false,
         [] { wake_while_polling(false); }},
        {"abort-while-polling",
         "an abort during a poll ends the task once, the JoinHandle gets a result, the task is "
         "freed",
         false, [] { wake_while_polling(true); }},
    };
}

}  // namespace model_check
