// `tutor status` (also plain `tutor`): every chapter, present or coming, each exercise done
// or not yet (checked by building and running its tests), and what to do next.
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "next_step.hpp"
#include "progress.hpp"
#include "terminal.hpp"

namespace tutor {

int status_command(const Project& project) {
    const auto& s = Style::for_stdout();
    Progress progress(project);

    // Check everything first, so "checking..." lines do not cut through the table.
    progress.check_all(project.exercises());
    std::size_t done = 0;
    for (const auto& ex : project.exercises()) done += progress.is_done(ex) ? 1 : 0;

    std::cout << s.bold << "Progress: " << done << " of " << project.exercises().size()
              << " exercises done" << s.reset << "\n\n";
    for (const auto& ch : project.chapters()) {
        const auto exercises = project.exercises_of(ch.number);
        std::cout << "  " << s.bold << ch.number << ' ' << std::left << std::setw(20) << ch.name
                  << s.reset;
        if (!ch.present) {
            std::cout << s.dim << "coming" << s.reset << '\n';
            continue;
        }
        std::size_t chapter_done = 0;
        for (const auto* ex : exercises) chapter_done += progress.is_done(*ex) ? 1 : 0;
        if (exercises.empty()) {
            std::cout << "no exercises yet\n";
        } else {
            std::cout << chapter_done << " of " << exercises.size() << " done\n";
        }
        for (const auto* ex : exercises) {
            const bool ok = progress.is_done(*ex);
            std::cout << "     " << (ok ? s.green : s.yellow) << std::left << std::setw(8)
                      << (ok ? "done" : "not yet") << s.reset << ' ' << ex->id() << ' ' << ex->name;
            // Done in build/, but not yet checked as CI checks it, or failing there.
            const Sanitizer needed = sanitizer_needed(*ex);
            if (const auto under = progress.outcome_under(*ex, needed); ok && under != true) {
                const std::string& flag = sanitized_build(needed).flag;
                std::cout << (under ? s.yellow : s.dim) << "  ("
                          << (under ? "fails with " : "not yet checked with ") << flag
                          << ": ./tutor check " << ex->id() << ' ' << flag << ')' << s.reset;
            }
            std::cout << '\n';
        }
    }
    // Exercises whose chapter folder is missing still count.
    for (const auto& ex : project.exercises()) {
        if (const Chapter* ch = project.chapter(ex.chapter); ch == nullptr) {
            const bool ok = progress.is_done(ex);
            std::cout << "     " << (ok ? s.green : s.yellow) << std::left << std::setw(8)
                      << (ok ? "done" : "not yet") << s.reset << ' ' << ex.id() << ' ' << ex.name
                      << '\n';
        }
    }
    std::cout << '\n';
    print_next_step(project, progress);
    return 0;
}

}  // namespace tutor
