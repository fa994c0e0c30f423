// snippets: keeps the code shown in the project's Markdown equal to the compiled sources it is
// taken from. `check` reports every block that drifted (exit 1), `update` rewrites them;
// both take every Markdown file the project has, or only the files named. `outputs` runs the
// built programs whose output or options the text quotes and reports where they disagree.
// The formats are described in snippets.hpp, quoted.hpp and docs/snippets.md.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "quoted.hpp"
#include "snippets.hpp"
#include "support/cli.hpp"

namespace fs = std::filesystem;

namespace {

/// The Markdown files whose snippets are checked, relative to the root, in a stable order:
/// README.md, then every .md under docs/, chapters/ and exercises/.
std::vector<std::string> markdown_files(const fs::path& root) {
    std::vector<std::string> files;
    if (fs::is_regular_file(root / "README.md")) files.emplace_back("README.md");
    for (const char* dir : {"docs", "chapters", "exercises"}) {
        if (!fs::is_directory(root / dir)) continue;
        std::vector<std::string> found;
        for (const auto& entry : fs::recursive_directory_iterator(root / dir)) {
            if (entry.is_regular_file() && entry.path().extension() == ".md") {
                found.push_back(entry.path().lexically_relative(root).generic_string());
            }
        }
        std::sort(found.begin(), found.end());
        files.insert(files.end(), found.begin(), found.end());
    }
    return files;
}

std::optional<std::string> read_file(const fs::path& path) {
    if (!fs::is_regular_file(path)) return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

bool write_file(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    return static_cast<bool>(out.flush());
}

/// Paths in messages are shown as the user can open them: the root joined with the file.
std::string shown(const fs::path& root, const std::string& file) {
    return (root / file).lexically_normal().generic_string();
}

void print(const fs::path& root, const snippets::Problem& problem) {
    std::cerr << shown(root, problem.file) << ':' << problem.line << ": " << problem.message
              << '\n';
    for (const auto& line : problem.details) std::cerr << "    " << line << '\n';
}

std::string plural(int n, const char* word) {
    return std::to_string(n) + ' ' + word + (n == 1 ? "" : "s");
}

/// Check (or update) `files`, paths of Markdown files from the root.
int run(const std::string& program, const fs::path& root, const std::vector<std::string>& files,
        bool update) {
    snippets::Sources sources([&root](const std::string& path) { return read_file(root / path); });
    int files_with_snippets = 0;
    int blocks = 0;
    int drifted = 0;
    int other_problems = 0;
    for (const std::string& file : files) {
        const auto text = read_file(root / file);
        if (!text) {
            std::cerr << shown(root, file) << ": cannot be read\n";
            ++other_problems;
            continue;
        }
        snippets::FileReport report = snippets::check_markdown(file, *text, sources);
        if (report.blocks > 0) ++files_with_snippets;
        blocks += report.blocks;
        drifted += report.drifted;
        other_problems += static_cast<int>(report.problems.size()) - report.drifted;
        if (update) {
            // Drifts are fixed below; print only what update cannot fix.
            for (const auto& problem : report.problems) {
                if (!problem.drift) print(root, problem);
            }
            if (report.drifted > 0) {
                if (!write_file(root / file, report.updated_text)) {
                    std::cerr << shown(root, file) << ": cannot be written\n";
                    return 1;
                }
                std::cout << "updated " << shown(root, file) << " ("
                          << plural(report.drifted, "block") << ")\n";
            }
        } else {
            for (const auto& problem : report.problems) print(root, problem);
        }
        for (const auto& problem : sources.take_problems()) {
            print(root, problem);
            ++other_problems;
        }
    }

    const std::string counted =
        plural(blocks, "block") + " in " + plural(files_with_snippets, "file");
    if (update) {
        std::cout << "snippets: " << counted << ", " << drifted << " rewritten from their sources";
        if (other_problems > 0) {
            std::cout << "; " << plural(other_problems, "problem")
                      << " left that update cannot fix";
        }
        std::cout << ".\n";
    } else if (drifted == 0 && other_problems == 0) {
        std::cout << "snippets: " << counted << " match their sources.\n";
    } else {
        std::cout << "snippets: " << counted << ": ";
        if (drifted > 0)
            std::cout << drifted
                      << (drifted == 1 ? " differs from its source" : " differ from their sources");
        if (drifted > 0 && other_problems > 0) std::cout << ", and ";
        if (other_problems > 0) {
            std::cout << plural(other_problems, drifted > 0 ? "other problem" : "problem");
        }
        std::cout << ".\n";
        if (drifted > 0) {
            std::cout << "In each diff, - is the text and + the source. To copy the sources into "
                         "the text, run:\n  "
                      << program << " update --root " << root.generic_string() << '\n';
        }
    }
    return other_problems > 0 || (!update && drifted > 0) ? 1 : 0;
}

/// `text` quoted for the shell.
std::string shell_quoted(const std::string& text) {
    std::string quoted = "'";
    for (char c : text) {
        if (c == '\'') {
            quoted += "'\\''";
        } else {
            quoted += c;
        }
    }
    return quoted + "'";
}

/// What running `program args...` printed (stdout and stderr), or a message when it could not
/// run or did not exit with 0.
struct RunResult {
    std::string output;
    std::optional<std::string> failure;
};

RunResult run_program(const fs::path& program, const std::vector<std::string>& args) {
    if (!fs::is_regular_file(program)) return {"", "no program " + program.string()};
    std::string command = shell_quoted(program.string());
    for (const std::string& arg : args) command += ' ' + shell_quoted(arg);
    command += " 2>&1 </dev/null";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return {"", "cannot run " + command};
    RunResult result;
    char buffer[4096];
    std::size_t n = 0;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
    const int status = pclose(pipe);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        result.failure = command + " failed (status " + std::to_string(status) + ")";
    }
    return result;
}

/// Run every program whose output or options `files` quote, from `build`, and compare.
int check_outputs(const fs::path& root, const fs::path& build,
                  const std::vector<std::string>& files) {
    std::map<std::vector<std::string>, RunResult> runs;
    int outputs = 0;
    int tables = 0;
    int problems = 0;
    auto report = [&](const snippets::Problem& problem) {
        print(root, problem);
        ++problems;
    };
    for (const std::string& file : files) {
        const auto text = read_file(root / file);
        if (!text) {
            std::cerr << shown(root, file) << ": cannot be read\n";
            ++problems;
            continue;
        }
        const snippets::QuotedScan scan = snippets::scan_quoted(file, *text);
        for (const auto& problem : scan.problems) report(problem);
        for (const auto& block : scan.outputs) {
            ++outputs;
            // Two blocks may quote one run (a table, then the whole output): run it once.
            std::vector<std::string> command = block.args;
            command.insert(command.begin(), block.program);
            auto cached = runs.find(command);
            if (cached == runs.end()) {
                cached =
                    runs.emplace(command, run_program(build / block.program, block.args)).first;
            }
            const RunResult& run = cached->second;
            if (run.failure) {
                report({file, block.marker_line, *run.failure, snippets::split_lines(run.output)});
                continue;
            }
            for (const auto& problem : snippets::compare_output(file, block, run.output))
                report(problem);
        }
        for (const auto& table : scan.tables) {
            ++tables;
            const RunResult run = run_program(build / table.program, {"--help"});
            if (run.failure) {
                report({file, table.marker_line, *run.failure, snippets::split_lines(run.output)});
                continue;
            }
            for (const auto& problem : snippets::compare_options(file, table, run.output))
                report(problem);
        }
    }
    std::cout << "outputs: " << plural(outputs, "quoted output") << " and "
              << plural(tables, "option table")
              << (problems == 0 ? " match their programs.\n"
                                : ": " + plural(problems, "problem") + ".\n");
    return problems > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Keeps the code shown in the project's Markdown equal to the sources it is taken from.\n"
        "A block follows a comment <!-- snippet: path/from/root#NAME --> and must equal the lines\n"
        "between `snippet-begin: NAME` and `snippet-end: NAME` in that file, minus their common\n"
        "indentation. Scans README.md and every .md under docs/, chapters/ and exercises/.\n"
        "`outputs` runs the programs whose output (<!-- output: PROGRAM -->) or options\n"
        "(<!-- options: PROGRAM -->) the text quotes, from the build folder, and compares.",
        "snippets"};
    app.require_subcommand(1);
    std::string root = ".";
    std::vector<std::string> only;
    CLI::App* check = app.add_subcommand(
        "check", "report every block that differs from its source; exit 1 if any does");
    CLI::App* update =
        app.add_subcommand("update", "rewrite every block that differs from its source");
    std::string build;
    CLI::App* outputs = app.add_subcommand(
        "outputs",
        "run the programs whose output or options the text quotes; exit 1 if any "
        "prints something else");
    outputs->add_option("--build", build, "the build folder the programs are in")
        ->check(CLI::ExistingDirectory)
        ->required();
    for (CLI::App* command : {check, update, outputs}) {
        command->add_option("--root", root, "the repository's root folder")
            ->check(CLI::ExistingDirectory)
            ->capture_default_str();
        command->add_option("files", only,
                            "only these Markdown files (paths from the root); default: all");
    }
    // For `snippets chek` CLI11 would only say that a subcommand is required: name the word.
    if (argc > 1 && argv[1][0] != '-') {
        const auto commands = app.get_subcommands({});
        if (std::none_of(commands.begin(), commands.end(),
                         [&](const CLI::App* command) { return command->get_name() == argv[1]; })) {
            std::cerr << "snippets: no command '" << argv[1]
                      << "'; the commands are check, update and outputs\n"
                         "Run with --help for the options.\n";
            return support::usage_error;
        }
    }
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    try {
        std::vector<std::string> files;
        if (only.empty()) {
            files = markdown_files(root);
        } else {
            for (const std::string& file : only) {
                const fs::path relative = fs::path(file).lexically_normal();
                if (relative.is_absolute() || relative.empty() || *relative.begin() == ".." ||
                    !fs::is_regular_file(fs::path(root) / relative)) {
                    std::cerr << "snippets: no file " << file << " under " << root
                              << " (give paths from the root)\n";
                    return support::usage_error;
                }
                files.push_back(relative.generic_string());
            }
        }
        if (outputs->parsed()) return check_outputs(fs::path(root), fs::path(build), files);
        return run(argv[0], fs::path(root), files, update->parsed());
    } catch (const fs::filesystem_error& e) {
        std::cerr << "snippets: " << e.what() << '\n';
        return 1;
    }
}
