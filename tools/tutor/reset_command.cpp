// `tutor reset NN-EE [--yes]`: puts the exercise's starter files back from git (@{upstream} or
// HEAD, as for the starters) after asking; added files stay, git's index is not touched.
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "commands.hpp"
#include "errors.hpp"
#include "git.hpp"
#include "terminal.hpp"

namespace tutor {

int reset_command(const Project& project, const std::string& exercise, bool yes) {
    const Exercise& ex = project.find_exercise(exercise);
    const auto ref = starter_ref(project.root());
    if (!ref) {
        throw std::runtime_error("reset needs a git checkout with the starters committed, and " +
                                 project.root().string() + " is not one");
    }
    const std::string folder = project.exercise_path(ex);
    const auto files = files_at(project.root(), *ref, folder);
    if (files.empty()) {
        throw std::runtime_error(folder + " is not in git at " + *ref +
                                 ", so there are no starter files to put back");
    }

    struct Change {
        std::string path;
        std::string content;
        bool missing;
    };
    std::vector<Change> changes;
    for (const auto& path : files) {
        std::string content = file_at(project.root(), *ref, path);
        const auto local = project.root() / path;
        const bool missing = !fs::exists(local);
        if (missing || read_text_file(local) != content)
            changes.push_back({path, std::move(content), missing});
    }
    if (changes.empty()) {
        std::cout << ex.id() << " already has its starter files; nothing to reset.\n";
        return 0;
    }

    std::cout << "These files of " << ex.id() << " differ from the starter (" << *ref << "):\n";
    for (const auto& change : changes) {
        std::cout << "  " << change.path << (change.missing ? " (missing)" : "") << '\n';
    }
    if (!yes) {
        if (!is_terminal(STDIN_FILENO)) {
            throw UsageError("not resetting without a terminal to ask on; run ./tutor reset " +
                             ex.id() + " --yes to reset anyway");
        }
        std::cout << "Put the starter files back? Your changes to them are lost. [y/N] "
                  << std::flush;
        std::string answer;
        std::getline(std::cin, answer);
        if (answer != "y" && answer != "Y" && answer != "yes") {
            std::cout << "Nothing changed.\n";
            return 0;
        }
    }
    for (const auto& change : changes) {
        const auto local = project.root() / change.path;
        fs::create_directories(local.parent_path());
        std::ofstream out(local, std::ios::binary | std::ios::trunc);
        out << change.content;
        if (!out) throw std::runtime_error("cannot write " + change.path);
    }
    std::cout << "Reset " << changes.size() << " file" << (changes.size() == 1 ? "" : "s") << " of "
              << ex.id() << ". ./tutor check " << ex.id() << " shows where you start from.\n";
    return 0;
}

}  // namespace tutor
