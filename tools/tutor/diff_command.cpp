// `tutor diff NN MM`: what chapter MM changed in the runtime (rt/) compared to chapter NN,
// then in the demo, as git shows differences between two folders. Exit 0 either way.
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "commands.hpp"
#include "process.hpp"
#include "terminal.hpp"

namespace tutor {

namespace {

/// Shows the differences between two root-relative paths; false when there are none.
bool show_diff(const Project& project, const std::string& from, const std::string& to) {
    const auto& s = Style::for_stdout();
    std::cout << s.bold << "=== " << from << " -> " << to << s.reset << '\n' << std::flush;
    const bool color = !s.reset.empty();
    const auto result = run_process({"git", "--no-pager", "diff", "--no-index",
                                     color ? "--color=always" : "--no-color", "--", from, to},
                                    ProcessOptions().in(project.root()));
    if (result.signal == SIGPIPE) return true;  // whoever read the output stopped reading
    if (result.exit_code > 1)
        throw std::runtime_error("git diff failed (exit code " + std::to_string(result.exit_code) +
                                 ")");
    if (result.exit_code == 0) std::cout << "(no changes)\n";
    std::cout << '\n';
    return result.exit_code == 1;
}

}  // namespace

int diff_command(const Project& project, const std::string& from, const std::string& to) {
    const Chapter& a = project.find_chapter(from);
    const Chapter& b = project.find_chapter(to);
    const std::string a_path = project.chapter_path(a);
    const std::string b_path = project.chapter_path(b);
    show_diff(project, a_path + "/rt", b_path + "/rt");
    if (fs::exists(project.root() / a_path / "demo.cpp") &&
        fs::exists(project.root() / b_path / "demo.cpp")) {
        show_diff(project, a_path + "/demo.cpp", b_path + "/demo.cpp");
    }
    return 0;
}

}  // namespace tutor
