// `tutor check [NN-EE]`: builds the exercise against the learner's files, runs its tests, and
// reports errors or failures readably, or the pass and the next step. Exit 0 only on a pass.
// With --asan or --tsan, the same in a sanitized build (sanitizers.hpp).
#include <iostream>

#include "check_report.hpp"
#include "commands.hpp"
#include "next_step.hpp"
#include "sanitizers.hpp"
#include "terminal.hpp"

namespace tutor {

int check_command(const Project& project, const std::optional<std::string>& exercise,
                  Sanitizer sanitizer) {
    Progress progress(project);
    const Exercise& ex =
        exercise ? project.find_exercise(*exercise) : current_exercise(project, progress);
    const auto result = progress.check(ex, sanitizer);
    print_check_report(project, ex, result);
    if (result.outcome != Outcome::passed) return 1;
    // A pass in build/ is half the story from chapter 2 on: a data race may pass there by luck.
    const Sanitizer needed = sanitizer_needed(ex);
    if (sanitizer == Sanitizer::none && !progress.outcome_under(ex, needed).value_or(false)) {
        const auto& s = Style::for_stdout();
        std::cout << "Then check it as CI does, with " << sanitized_build(needed).label << ": "
                  << s.cyan << "./tutor check " << ex.id() << ' ' << sanitized_build(needed).flag
                  << s.reset << "\n\n";
    }
    print_next_step(project, progress, &ex);
    return 0;
}

}  // namespace tutor
