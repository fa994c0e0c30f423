// `tutor list`: the chapters, present and coming, and their exercises, each with the one
// line that says what it is about (the title of its README.md).
#include <iostream>

#include "commands.hpp"
#include "terminal.hpp"

namespace tutor {

int list_command(const Project& project) {
    const auto& s = Style::for_stdout();
    for (const auto& ch : project.chapters()) {
        std::cout << s.bold << ch.number << ' ' << ch.name << s.reset << ": " << ch.description;
        if (!ch.present) std::cout << s.dim << " (coming)" << s.reset;
        std::cout << '\n';
        for (const auto* ex : project.exercises_of(ch.number)) {
            std::cout << "  " << ex->id() << ' ' << ex->name << ": " << ex->description << '\n';
        }
    }
    for (const auto& ex : project.exercises()) {
        if (project.chapter(ex.chapter) == nullptr) {
            std::cout << "  " << ex.id() << ' ' << ex.name << ": " << ex.description << '\n';
        }
    }
    std::cout << "\n"
              << s.dim
              << "./tutor run NN runs a chapter's demo, ./tutor run NN-EE an exercise's solution, "
              << "./tutor check NN-EE checks your work." << s.reset << '\n';
    return 0;
}

}  // namespace tutor
