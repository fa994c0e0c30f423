// What a learner should do next, printed after `status` and after a check: the next
// unfinished exercise and the command to check it, or the next chapter to read.
#pragma once

#include "progress.hpp"
#include "project.hpp"

namespace tutor {

/// Prints "Next: ..." to stdout. `just_passed` is the exercise that passed a moment ago, if
/// any, so the message can say when it finished its chapter.
void print_next_step(const Project& project, Progress& progress,
                     const Exercise* just_passed = nullptr);

/// The exercise a command without an argument works on: the next unfinished one, or when
/// all are done the last one; throws UsageError when there are no exercises.
const Exercise& current_exercise(const Project& project, Progress& progress);

}  // namespace tutor
