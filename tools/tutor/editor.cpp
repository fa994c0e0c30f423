// Opening files in the learner's editor (see editor.hpp).
#include "editor.hpp"

#include <csignal>
#include <cstdlib>

#include "process.hpp"

namespace tutor {

std::optional<std::string> editor_command() {
    for (const char* name : {"VISUAL", "EDITOR"}) {
        const char* value = std::getenv(name);
        if (value != nullptr && *value != '\0') return std::string(value);
    }
    return std::nullopt;
}

int open_in_editor(const std::string& command, const std::vector<std::filesystem::path>& files,
                   const std::filesystem::path& folder) {
    // As git runs it: `sh -c '$EDITOR "$@"' $EDITOR FILE...`, so the command's own words split
    // as the shell splits them, and the file names not at all.
    std::vector<std::string> argv{"/bin/sh", "-c", command + " \"$@\"", command};
    for (const auto& file : files) argv.push_back(file.string());

    // While the editor runs, Ctrl-C is its own: a terminal editor that leaves SIGINT on (ed,
    // micro) must not see tutor stop it. The child gets the default handler back (process.cpp).
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    struct sigaction saved {};
    ::sigaction(SIGINT, &ignore, &saved);
    struct Restore {
        const struct sigaction& saved;
        ~Restore() { ::sigaction(SIGINT, &saved, nullptr); }
    } restore{saved};

    return run_process(argv, ProcessOptions{}.in(folder)).exit_code;
}

}  // namespace tutor
