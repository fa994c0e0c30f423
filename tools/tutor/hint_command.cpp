// `tutor hint [NN-EE] [--all] [--reset]`: the exercise's HINTS.md, one hint more each time
// (the count kept in build/tutor/hints/); after the last, where the solution is.
#include <fstream>
#include <iostream>

#include "commands.hpp"
#include "markdown.hpp"
#include "next_step.hpp"
#include "terminal.hpp"

namespace tutor {

namespace {

fs::path shown_file(const Project& project, const Exercise& ex) {
    return project.state_dir() / "hints" / ex.id();
}

std::size_t read_shown(const Project& project, const Exercise& ex) {
    std::ifstream in(shown_file(project, ex));
    std::size_t shown = 0;
    return in >> shown ? shown : 0;
}

void write_shown(const Project& project, const Exercise& ex, std::size_t shown) {
    std::error_code ec;
    fs::create_directories(shown_file(project, ex).parent_path(), ec);
    std::ofstream out(shown_file(project, ex));
    out << shown << '\n';
    if (!out) throw std::runtime_error("cannot write " + shown_file(project, ex).string());
}

void print_hint(const Hint& hint, std::size_t index, std::size_t count) {
    const auto& s = Style::for_stdout();
    std::cout << s.bold << "Hint " << index + 1 << " of " << count;
    if (!hint.title.empty()) std::cout << ": " << hint.title;
    std::cout << s.reset << "\n\n" << hint.body;
}

void print_solution_place(const Project& project, const Exercise& ex) {
    std::cout << "The solution is in " << project.solution_path(ex) << "/ (./tutor run " << ex.id()
              << " runs it). Try once more before you read it.\n";
}

}  // namespace

int hint_command(const Project& project, const std::optional<std::string>& exercise, bool all,
                 bool reset) {
    const Exercise* ex = nullptr;
    if (exercise) {
        ex = &project.find_exercise(*exercise);
    } else {
        Progress progress(project);
        ex = &current_exercise(project, progress);
    }
    const auto hints_path = project.root() / "exercises" / ex->folder() / "HINTS.md";
    const auto hints = parse_hints(read_text_file(hints_path));

    if (reset) {
        std::error_code ec;
        fs::remove(shown_file(project, *ex), ec);
        std::cout << "Hints of " << ex->id() << " start over from hint 1.\n";
        if (!all) return 0;
    }
    if (hints.empty()) {
        std::cout << ex->id() << " " << ex->name << " has no hints yet"
                  << (fs::exists(hints_path) ? " (HINTS.md has no \"## Hint 1\" section)"
                                             : " (no HINTS.md)")
                  << ". Read " << project.exercise_path(*ex) << "/README.md.\n";
        print_solution_place(project, *ex);
        return 0;
    }
    if (all) {
        for (std::size_t i = 0; i < hints.size(); ++i) {
            if (i > 0) std::cout << '\n';
            print_hint(hints[i], i, hints.size());
        }
        write_shown(project, *ex, hints.size());
        std::cout << '\n';
        print_solution_place(project, *ex);
        return 0;
    }

    const std::size_t shown = read_shown(project, *ex);
    if (shown >= hints.size()) {
        std::cout << "You have seen all " << hints.size() << " hints of " << ex->id()
                  << " (./tutor hint " << ex->id()
                  << " --all shows them again, --reset starts over).\n";
        print_solution_place(project, *ex);
        return 0;
    }
    print_hint(hints[shown], shown, hints.size());
    write_shown(project, *ex, shown + 1);
    std::cout << '\n';
    if (shown + 1 < hints.size()) {
        std::cout << Style::for_stdout().dim << "hint " << shown + 1 << " of " << hints.size()
                  << "; run again for the next" << Style::for_stdout().reset << '\n';
    } else {
        std::cout << "That was the last hint (" << hints.size() << " of " << hints.size() << ").\n";
        print_solution_place(project, *ex);
    }
    return 0;
}

}  // namespace tutor
