// A test helper that makes destruction observable: a DestructionCounter adds one to a shared
// count when it is destroyed, so a test can check that a coroutine's locals, or a future,
// were destroyed when the runtime promised (at completion, at abort, at shutdown).
#pragma once

#include <memory>
#include <utility>

namespace testing {

/// Adds one to `*count` when destroyed. Neither copied nor moved: one object, one count.
class DestructionCounter {
public:
    explicit DestructionCounter(std::shared_ptr<int> count) : count_(std::move(count)) {}
    DestructionCounter(const DestructionCounter&) = delete;
    DestructionCounter& operator=(const DestructionCounter&) = delete;
    ~DestructionCounter() { ++*count_; }

private:
    std::shared_ptr<int> count_;  // shared with the test, which reads it after we are gone
};

}  // namespace testing
