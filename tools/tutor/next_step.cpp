// The next step (see next_step.hpp).
#include "next_step.hpp"

#include <iostream>

#include "errors.hpp"
#include "terminal.hpp"

namespace tutor {

namespace {

/// "chapters/02-wakers/README.md" to read next, or that chapter NN is coming.
void print_next_chapter(const Project& project, const std::string& after_number) {
    const auto& s = Style::for_stdout();
    for (const auto& ch : project.chapters()) {
        if (ch.number <= after_number) continue;
        if (ch.present) {
            std::cout << s.bold << "Next: " << s.reset << "chapter " << ch.number << ", "
                      << ch.description << ": read " << project.chapter_path(ch)
                      << "/README.md, then ./tutor run " << ch.number << '\n';
        } else {
            std::cout << s.bold << "Next: " << s.reset << "chapter " << ch.number << " (" << ch.name
                      << ") is coming; ./tutor list shows the plan.\n";
        }
        return;
    }
    std::cout << s.bold << "You have finished every chapter." << s.reset << '\n';
}

}  // namespace

void print_next_step(const Project& project, Progress& progress, const Exercise* just_passed) {
    const auto& s = Style::for_stdout();
    const Exercise* next = progress.next_unfinished(just_passed);
    if (next == nullptr) {
        std::cout << s.green << "Every exercise is done." << s.reset << '\n';
        std::string last_chapter = "00";
        for (const auto& ex : project.exercises())
            last_chapter = std::max(last_chapter, ex.chapter);
        print_next_chapter(project, last_chapter);
        return;
    }
    if (just_passed && next->chapter != just_passed->chapter &&
        project.exercises_of(just_passed->chapter).back() == just_passed) {
        std::cout << "That was the last exercise of chapter " << just_passed->chapter << ".\n";
        if (const Chapter* ch = project.chapter(next->chapter); ch && ch->present) {
            std::cout << s.bold << "Next: " << s.reset << "chapter " << ch->number << ", "
                      << ch->description << ": read " << project.chapter_path(*ch)
                      << "/README.md\n";
        }
    }
    std::cout << s.bold << "Next: " << s.reset << next->id() << " " << next->name << " ("
              << next->description << ")\n  read " << project.exercise_path(*next)
              << "/README.md, then " << s.cyan << "./tutor check " << next->id() << s.reset
              << " (or ./tutor watch to check on every save)\n";
}

const Exercise& current_exercise(const Project& project, Progress& progress) {
    if (project.exercises().empty()) throw UsageError("there are no exercises yet");
    if (const Exercise* next = progress.next_unfinished()) return *next;
    return project.exercises().back();
}

}  // namespace tutor
