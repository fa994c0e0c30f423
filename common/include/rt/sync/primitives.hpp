// The atomics, mutex and condition variable of the multi-threaded scheduler's protocols (chapter
// 8 on: the task's state word and references, the run queues, the parker, the idle workers'
// state, the join lock): the standard library's, or, in a build for the interleaving explorer
// (RT_MODEL defined), the explorer's, whose every operation is a point where it may switch
// threads (model/explorer.hpp). Chapter 8's model-check program is that build. In every other
// build these are the standard types themselves, not wrappers: the runtime's code and speed are
// the same.
#pragma once

#ifdef RT_MODEL
#include "model/atomic.hpp"
#include "model/mutex.hpp"
#else
#include <atomic>
#include <condition_variable>
#include <mutex>
#endif

namespace rt::detail {

#ifdef RT_MODEL
template <class T>
using Atomic = model::Atomic<T>;
using Mutex = model::Mutex;
using CondVar = model::CondVar;
#else
template <class T>
using Atomic = std::atomic<T>;
using Mutex = std::mutex;
using CondVar = std::condition_variable;
#endif

}  // namespace rt::detail
