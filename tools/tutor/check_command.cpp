// `tutor check [NN-EE]`: builds the exercise against the learner's files, runs its tests, and
// reports errors or failures readably, or the pass and the next step. Exit 0 only on a pass.
#include "check_report.hpp"
#include "commands.hpp"
#include "next_step.hpp"

namespace tutor {

int check_command(const Project& project, const std::optional<std::string>& exercise) {
    Progress progress(project);
    const Exercise& ex =
        exercise ? project.find_exercise(*exercise) : current_exercise(project, progress);
    const auto result = progress.check(ex);
    print_check_report(project, ex, result);
    if (result.outcome == Outcome::passed) {
        print_next_step(project, progress, &ex);
        return 0;
    }
    return 1;
}

}  // namespace tutor
