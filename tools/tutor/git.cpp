// Reading starters from git (see git.hpp), by running git with its output captured.
#include "git.hpp"

#include <stdexcept>
#include <system_error>

#include "process.hpp"

namespace tutor {

namespace {

ProcessResult git(const std::filesystem::path& root, std::vector<std::string> args) {
    args.insert(args.begin(), {"git", "-C", root.string()});
    return run_process(args, ProcessOptions::captured());
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

std::optional<std::string> starter_ref(const std::filesystem::path& root) {
    try {
        const auto top = git(root, {"rev-parse", "--show-toplevel"});
        std::error_code ec;
        if (top.exit_code != 0 || !std::filesystem::equivalent(first_line(top.output), root, ec)) {
            return std::nullopt;
        }
        if (git(root, {"rev-parse", "--verify", "--quiet", "@{upstream}"}).exit_code == 0)
            return "@{upstream}";
        if (git(root, {"rev-parse", "--verify", "--quiet", "HEAD"}).exit_code == 0) return "HEAD";
    } catch (const std::runtime_error&) {
        // git is not installed: no starters from git
    }
    return std::nullopt;
}

std::vector<std::string> files_at(const std::filesystem::path& root, const std::string& ref,
                                  const std::string& folder) {
    const auto listing = git(root, {"ls-tree", "-r", "-z", "--name-only", ref, "--", folder + "/"});
    if (listing.exit_code != 0)
        throw std::runtime_error("git ls-tree failed: " + first_line(listing.output));
    std::vector<std::string> files;
    std::size_t start = 0;
    while (start < listing.output.size()) {
        const auto end = listing.output.find('\0', start);
        files.push_back(listing.output.substr(start, end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return files;
}

std::string file_at(const std::filesystem::path& root, const std::string& ref,
                    const std::string& path) {
    auto shown = git(root, {"show", ref + ":" + path});
    if (shown.exit_code != 0)
        throw std::runtime_error("git show " + ref + ":" + path +
                                 " failed: " + first_line(shown.output));
    return std::move(shown.output);
}

}  // namespace tutor
