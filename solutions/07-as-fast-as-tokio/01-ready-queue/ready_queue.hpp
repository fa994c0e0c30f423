// Exercise 07-01 (solution): an intrusive ready queue with two lists. The owner (the one thread
// that pops, an executor) pushes to a plain list with no lock and no system call; every other
// thread pushes to a list under a mutex, and learns from its push whether the owner is parked
// and must be woken. A node is in the queue at most once, however many threads push it.
//
// The protocol, the one of chapter 7's rt/ready_queue.hpp:
//  - push: claim the node (its `queued_` flag, one atomic exchange); a node claimed already is
//    in the queue, or about to be: stop. On the owner's thread, link it at the local list's
//    back. Elsewhere, under the lock: link it at the remote list's back, raise
//    `remote_pending_`, and take `parked_` (read it, clear it): true means "wake the owner".
//  - pop (owner only): if `remote_pending_` is raised, take the lock, move the whole remote
//    list to the local list's back, lower the flag. Then unlink the local front, and clear its
//    `queued_` flag, so that a push from now on (even one made while the node runs) queues it
//    again.
//  - park: prepare_park (owner) takes the lock, finds both lists empty, and sets `parked_`;
//    the owner then sleeps (epoll_wait, a read of an eventfd), and calls end_park once back.
//    A push after prepare_park finds `parked_` and wakes the owner; the check under the lock
//    is what makes "found empty, then parked" one step that no remote push can fall between.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>
#include <utility>

namespace ex {

class NodeList;
template <class Mutex>
class ReadyQueue;

/// The link a ReadyQueue needs in every item it holds. A task derives from it, so that queueing
/// the task allocates nothing: the list is made of the tasks themselves.
class ReadyNode {
public:
    ReadyNode() = default;
    ReadyNode(const ReadyNode&) = delete;
    ReadyNode& operator=(const ReadyNode&) = delete;

    /// Whether the node waits in a queue now (or a push has claimed it and is linking it). Any
    /// thread; a snapshot, which another thread may change at once.
    bool queued() const noexcept { return queued_.load(std::memory_order_acquire); }

private:
    friend class NodeList;
    template <class Mutex>
    friend class ReadyQueue;

    ReadyNode* next_ = nullptr;        // the next node of the list that holds this one
    std::atomic<bool> queued_{false};  // set by the push that queues it, cleared by its pop
};

/// A first-in first-out list of nodes linked through their `next_`: every operation is O(1)
/// and allocates nothing. Not synchronised: its owner, or a lock, keeps it to one thread at a
/// time. A node is in one list at most.
class NodeList {
public:
    bool empty() const noexcept { return head_ == nullptr; }

    /// Link `node` at the back.
    void push_back(ReadyNode* node) noexcept {
        node->next_ = nullptr;  // it may come from another list, where it had a successor
        if (tail_ != nullptr) {
            tail_->next_ = node;
        } else {
            head_ = node;
        }
        tail_ = node;
    }

    /// Unlink and return the front node; nullptr if the list is empty.
    ReadyNode* pop_front() noexcept {
        ReadyNode* node = head_;
        if (node != nullptr) {
            head_ = node->next_;
            if (head_ == nullptr) tail_ = nullptr;
        }
        return node;
    }

    /// Move every node of `other` to the back of this list, in their order; `other` is left
    /// empty. O(1): the two chains are joined, no node is visited.
    void append(NodeList& other) noexcept {
        if (other.head_ == nullptr) return;
        if (tail_ != nullptr) {
            tail_->next_ = other.head_;
        } else {
            head_ = other.head_;
        }
        tail_ = other.tail_;
        other.head_ = other.tail_ = nullptr;
    }

private:
    ReadyNode* head_ = nullptr;  // the next to pop
    ReadyNode* tail_ = nullptr;  // the last pushed
};

/// Nodes that are ready, in the order they were queued. Any thread may push; only the owner
/// pops and parks. The queue holds no node's ownership: a node must outlive its time in it.
/// `Mutex` guards the remote list (std::mutex; the tests give one that counts its locks).
template <class Mutex = std::mutex>
class ReadyQueue {
public:
    /// A queue whose owner, the thread that pops, is `owner` (by default, the caller).
    explicit ReadyQueue(std::thread::id owner = std::this_thread::get_id()) : owner_(owner) {}
    ReadyQueue(const ReadyQueue&) = delete;
    ReadyQueue& operator=(const ReadyQueue&) = delete;

    /// Queue `node`, unless it is queued already. Any thread. Returns true when the caller must
    /// wake the owner: it pushed from another thread, and the owner is parked (true once per
    /// park, for the first such push). On the owner's thread: no lock, never true.
    bool push(ReadyNode* node) {
        // acq_rel. Acquire pairs with the release of the pop that last cleared the flag: that
        // pop read `next_`, which this push is about to write. Release pairs with the acquire
        // of the pop that clears it next: what this thread wrote before pushing (the event the
        // node is woken for) is seen by whoever runs the node, even when the node was queued
        // already and this push links nothing.
        if (node->queued_.exchange(true, std::memory_order_acq_rel)) return false;
        if (on_owner_thread()) {
            local_.push_back(node);  // nobody else touches the local list
            return false;
        }
        std::lock_guard lock(mutex_);
        remote_.push_back(node);
        // relaxed: written and read under the lock that pop takes when it sees the flag; a pop
        // that misses it (the lock says the order) takes the node at its next look.
        remote_pending_.store(true, std::memory_order_relaxed);
        return std::exchange(parked_, false);  // one wake per park
    }

    /// The front node, unlinked and no longer queued; nullptr if none is queued. Owner only.
    ReadyNode* pop() {
        // relaxed: a hint to skip the lock; the lock below orders the lists themselves.
        if (remote_pending_.load(std::memory_order_relaxed)) {
            std::lock_guard lock(mutex_);
            local_.append(remote_);  // behind what the owner queued before this look
            remote_pending_.store(false, std::memory_order_relaxed);
        }
        ReadyNode* node = local_.pop_front();
        if (node != nullptr) {
            // acq_rel: see push. From here on, a push queues the node again.
            node->queued_.exchange(false, std::memory_order_acq_rel);
        }
        return node;
    }

    /// Owner only: if no node is queued, record that the owner is about to sleep and return
    /// true; the owner then sleeps until woken, and calls end_park(). False if a node is queued:
    /// pop it instead.
    bool prepare_park() {
        if (!local_.empty()) return false;
        std::lock_guard lock(mutex_);
        if (!remote_.empty()) return false;  // pushed before the lock: do not sleep through it
        parked_ = true;
        return true;
    }

    /// Owner only: the owner is back from its sleep; pushes from now on need not wake it.
    void end_park() {
        std::lock_guard lock(mutex_);
        parked_ = false;
    }

    /// The thread that pops.
    std::thread::id owner() const noexcept { return owner_; }

private:
    bool on_owner_thread() const noexcept { return std::this_thread::get_id() == owner_; }

    const std::thread::id owner_;              // the thread that pops and parks
    NodeList local_;                           // owner's thread only, no lock
    std::atomic<bool> remote_pending_{false};  // remote_ may hold nodes: pop takes the lock
    Mutex mutex_;                              // guards remote_ and parked_
    NodeList remote_;                          // pushed from other threads
    bool parked_ = false;                      // the owner is asleep, or about to be
};

}  // namespace ex
