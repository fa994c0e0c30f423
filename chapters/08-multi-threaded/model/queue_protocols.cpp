// The local run queue's steal-half protocol (rt/multi_thread/local_queue.hpp) under the
// explorer: while the owner pushes and pops, one or two thieves steal; every task pushed is
// taken exactly once, by the owner or by a thief, and none is lost. And a claim made with a
// load and a store instead of a compare-and-swap, which takes a task twice.
#include <array>
#include <cstddef>
#include <cstdint>

#include "model/explorer.hpp"
#include "protocols.hpp"
#include "rt/multi_thread/local_queue.hpp"

namespace model_check {
namespace {

using rt::detail::LocalQueue;
using rt::detail::Task;

constexpr std::size_t task_count = 4;

/// Stand-ins for tasks: the queue stores and hands back pointers, and never looks inside
/// them unless it overflows, which four tasks never make it do.
struct Tasks {
    alignas(Task) std::byte room[task_count][sizeof(Task)];
    std::array<int, task_count> taken{};  // per task, how many times it was taken

    Task* get(std::size_t i) { return reinterpret_cast<Task*>(room[i]); }
    void take(Task* task) {
        for (std::size_t i = 0; i < task_count; ++i) {
            if (task == get(i)) {
                ++taken[i];
                return;
            }
        }
        model::check(false, "a queue gave back a pointer that was never pushed");
    }
    void check_each_taken_once() {
        for (int times : taken) model::check(times == 1, "a task was lost, or taken twice");
    }
};

void no_overflow(rt::detail::TaskList&, std::uint32_t) {
    model::check(false, "the queue overflowed with four tasks");
}

/// A thief: steal half of `victim` into its own queue, run the one it keeps, and pop the
/// rest from its own queue.
void steal_and_run(LocalQueue& victim, LocalQueue& own, Tasks& tasks) {
    std::uint64_t stolen = 0;
    if (Task* task = victim.steal_into(own, stolen)) tasks.take(task);
    while (Task* task = own.pop()) tasks.take(task);
}

// snippet-begin: steal-while-owner-pops
/// The owner pushes two tasks, pops one, pushes two more and pops until its queue is empty,
/// while `thieves` other workers steal from it.
void steal_while_owner_pops(int thieves) {
    Tasks tasks;
    LocalQueue owner;
    LocalQueue own[2];
    {
        model::Thread first([&] {
            if (thieves >= 1) steal_and_run(owner, own[0], tasks);
        });
        model::Thread second([&] {
            if (thieves >= 2) steal_and_run(owner, own[1], tasks);
        });
        owner.push_back(tasks.get(0), no_overflow);
        owner.push_back(tasks.get(1), no_overflow);
        if (Task* task = owner.pop()) tasks.take(task);
        owner.push_back(tasks.get(2), no_overflow);
        owner.push_back(tasks.get(3), no_overflow);
        while (Task* task = owner.pop()) tasks.take(task);
    }  // joins the thieves
    tasks.check_each_taken_once();
    model::check(owner.is_empty() && own[0].is_empty() && own[1].is_empty(),
                 "a queue is not empty at the end");
}
// snippet-end: steal-while-owner-pops

/// Why a thief claims with a compare-and-swap (steal_into's step 3): two thieves that read
/// `real` and then store `real + 1` may both take the task at `real`, and leave one behind.
void claim_without_compare_and_swap() {
    Tasks tasks;
    rt::detail::Atomic<std::uint32_t> real{0};
    const auto claim = [&] {
        const std::uint32_t first = real.load();
        real.store(first + 1);
        tasks.take(tasks.get(first));
    };
    {
        model::Thread thief(claim);
        claim();
    }
    model::check(tasks.taken[0] == 1 && tasks.taken[1] == 1, "a task was taken twice");
}

}  // namespace

std::vector<Protocol> queue_protocols() {
    return {
        {"steal", "with one thief, every task is taken once", false,
         [] { steal_while_owner_pops(1); }},
        {"steal-two-thieves", "with two thieves, every task is taken once", false,
         [] { steal_while_owner_pops(2); }},
        {"claim-without-cas", "two thieves that claim with a load and a store take one task twice",
         true, claim_without_compare_and_swap},
    };
}

}  // namespace model_check
