// `tutor run NN [-- ARGS]` builds chapter NN's demo and hands over to it; `tutor run NN-EE`
// does the same with exercise NN-EE's solution program. The program's exit code is tutor's.
#include <iostream>

#include "build.hpp"
#include "commands.hpp"
#include "process.hpp"

namespace tutor {

int run_command(const Project& project, const std::string& target,
                const std::vector<std::string>& args) {
    const auto found = project.find_runnable(target);
    std::string ninja_target;
    std::string what;
    if (const auto* chapter = std::get_if<const Chapter*>(&found)) {
        ninja_target = project.chapter_path(**chapter) + "/demo";
        what = "chapter " + (*chapter)->number + "'s demo";
    } else {
        const Exercise& ex = *std::get<const Exercise*>(found);
        ninja_target = "exercises/solution-" + ex.id();
        what = "the solution program of " + ex.id();
    }

    const auto build = build_target(project, ninja_target);
    if (build.unknown_target) {
        std::cout << "tutor: " << what << " is not in the build (no target " << ninja_target
                  << " in the meson.build files)\n";
        return 1;
    }
    if (!build.ok) {
        print_build_failure(project, build, what + " does not build:", ninja_target);
        return 1;
    }

    std::vector<std::string> argv{(project.build_dir() / ninja_target).string()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::cout.flush();
    exec_process(argv);
}

}  // namespace tutor
