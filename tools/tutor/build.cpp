// Quiet ninja builds and their failure reports (see build.hpp).
#include "build.hpp"

#include <iostream>

#include "compiler_errors.hpp"
#include "process.hpp"
#include "terminal.hpp"

namespace tutor {

BuildResult build_target(const Project& project, const std::string& target) {
    if (!fs::exists(project.build_dir() / "build.ninja")) {
        throw std::runtime_error(
            "build/ is not configured: run ./tutor (the script), which sets it up");
    }
    auto run = run_process({"ninja", "-C", project.build_dir().string(), target},
                           ProcessOptions::captured());
    BuildResult result;
    result.ok = run.exit_code == 0;
    result.unknown_target = !result.ok && run.output.find("unknown target") != std::string::npos;
    result.output = std::move(run.output);
    return result;
}

void print_build_failure(const Project& project, const BuildResult& build, const std::string& what,
                         const std::string& target) {
    const auto& s = Style::for_stdout();
    std::cout << s.red << s.bold << what << s.reset << "\n\n";
    const auto errors = trim_compiler_errors(build.output, project.root().string());
    for (const auto& line : errors.lines) std::cout << "  " << line << '\n';
    if (errors.total > errors.shown) {
        std::cout << "\n  (" << errors.shown << " of " << errors.total
                  << " errors shown; fix these first, the rest often follow from them)\n";
    }
    std::cout << "\n  the whole output: ninja -C build " << target << '\n';
}

}  // namespace tutor
