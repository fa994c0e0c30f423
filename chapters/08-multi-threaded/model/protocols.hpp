// The protocols the model-check program explores (model/explorer.hpp): each one a test body that
// runs the runtime's own code (rt/, built with RT_MODEL) on model threads and checks what the
// protocol promises. A "broken" one is a deliberately wrong variant, which the explorer must
// catch: proof that it can find that kind of bug at all.
#pragma once

#include <functional>
#include <vector>

namespace model_check {

struct Protocol {
    const char* name;
    const char* promise;  // what a run of the body checks
    bool broken;          // true: the explorer must find a failing seed
    std::function<void()> body;
};

std::vector<Protocol> park_protocols();   // park_protocols.cpp
std::vector<Protocol> queue_protocols();  // queue_protocols.cpp
std::vector<Protocol> task_protocols();   // task_protocols.cpp

}  // namespace model_check
