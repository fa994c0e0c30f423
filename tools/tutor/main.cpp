// The tutor program: the learner's guide through the chapters. The `tutor` script at the top
// of the project builds it and starts it with TUTOR_ROOT set to the project's folder.
#include <cstdlib>
#include <exception>
#include <iostream>

#include "commands.hpp"
#include "errors.hpp"
#include "names.hpp"
#include "support/cli.hpp"

namespace {

namespace fs = std::filesystem;

/// The project's folder: --root, else $TUTOR_ROOT, else the nearest folder above the
/// current one holding chapters/, exercises/ and meson.build.
fs::path find_root(const std::string& option) {
    const auto is_project = [](const fs::path& dir) {
        return fs::is_directory(dir / "chapters") && fs::is_directory(dir / "exercises") &&
               fs::exists(dir / "meson.build");
    };
    const char* env = std::getenv("TUTOR_ROOT");
    if (!option.empty() || (env && *env)) {
        const fs::path dir = fs::absolute(!option.empty() ? fs::path(option) : fs::path(env));
        if (!is_project(dir))
            throw tutor::UsageError(dir.string() +
                                    " is not the project (no chapters/ and exercises/)");
        return dir;
    }
    for (fs::path dir = fs::current_path();; dir = dir.parent_path()) {
        if (is_project(dir)) return dir;
        if (dir == dir.parent_path()) break;
    }
    throw tutor::UsageError(
        "cannot find the project (a folder with chapters/ and exercises/); run ./tutor from it");
}

/// Splits `tutor [--root DIR] run TARGET ARGS...` into what tutor parses (up to TARGET)
/// and ARGS, the program's (a leading "--" dropped). Other command lines are left whole.
std::pair<std::vector<std::string>, std::vector<std::string>> split_run_arguments(int argc,
                                                                                  char** argv) {
    std::vector<std::string> args(argv, argv + argc);
    std::size_t i = 1;
    while (i < args.size() && args[i].starts_with("-")) i += args[i] == "--root" ? 2 : 1;
    if (i >= args.size() || args[i] != "run") return {args, {}};
    const std::size_t target = i + 1;
    if (target >= args.size() || args[target].starts_with("-"))
        return {args, {}};  // --help, or a usage error
    std::vector<std::string> program(args.begin() + static_cast<std::ptrdiff_t>(target) + 1,
                                     args.end());
    if (!program.empty() && program.front() == "--") program.erase(program.begin());
    args.resize(target + 1);
    return {args, program};
}

/// Throws a UsageError naming the nearest command when the first word that is not an
/// option names no command ("tutor chek" -> did you mean check?).
void reject_unknown_command(const CLI::App& app, int argc, char** argv) {
    int i = 1;
    while (i < argc && argv[i][0] == '-') i += std::string_view(argv[i]) == "--root" ? 2 : 1;
    if (i >= argc) return;
    const std::string word = argv[i];
    std::vector<tutor::NamedItem> commands;
    for (const auto* sub : app.get_subcommands({})) {
        if (sub->get_name() == word) return;
        commands.push_back({sub->get_name(), ""});
    }
    const auto nearest = tutor::nearest_items(commands, word, 1);
    throw tutor::UsageError("no command '" + word + "'; did you mean '" +
                            commands[nearest.front()].id +
                            "'? (./tutor --help lists the commands)");
}

int run(int argc, char** argv) {
    CLI::App app{
        "Your guide through the chapters: progress, demos, exercise checks and hints.\n"
        "With no command: status.",
        "tutor"};
    app.require_subcommand(0, 1);
    app.footer(
        "Examples:\n  ./tutor run 01 -- --help   options of chapter 1's demo\n"
        "  ./tutor check              check the next unfinished exercise\n"
        "  ./tutor watch              check it again on every save");
    std::string root_option;
    app.add_option("--root", root_option,
                   "The project's folder (default: $TUTOR_ROOT, or found from here)");

    auto* status = app.add_subcommand(
        "status", "Progress: every chapter and exercise, done or not yet, and what to do next");
    auto* list = app.add_subcommand(
        "list", "Chapters and exercises, each with one line saying what it is about");

    std::string run_target;
    std::vector<std::string> run_args;
    auto* run = app.add_subcommand(
        "run", "Build and run chapter NN's demo, or exercise NN-EE's solution program");
    run->add_option("target", run_target, "NN (a chapter) or NN-EE (an exercise)")->required();
    run->add_option("args", run_args, "Arguments for the program (./tutor run 01 -- --help)");
    run->footer("Everything after NN or NN-EE goes to the program: ./tutor run 01 -- --help");

    std::optional<std::string> check_exercise;
    auto* check = app.add_subcommand(
        "check",
        "Build an exercise against your code and run its tests (default: the next unfinished one)");
    check->add_option("exercise", check_exercise, "NN-EE, NN-EE-name or name");
    bool check_asan = false;
    bool check_tsan = false;
    auto* asan_flag = check->add_flag(
        "--asan", check_asan,
        "In build-asan/, with AddressSanitizer and UndefinedBehaviorSanitizer, as CI does");
    check->add_flag("--tsan", check_tsan, "In build-tsan/, with ThreadSanitizer, as CI does")
        ->excludes(asan_flag);

    std::optional<std::string> watch_exercise;
    auto* watch = app.add_subcommand(
        "watch",
        "Check the current exercise again on every save under exercises/ (n next, h hint, q quit)");
    watch->add_option("exercise", watch_exercise,
                      "NN-EE to start with (default: the next unfinished one)");
    watch->footer(
        "Keys: n the next unfinished exercise (a pass does not move on by itself), h its next\n"
        "hint, l every exercise and what is done, c check now, e open its files in $VISUAL or\n"
        "$EDITOR, q quit.\n"
        "Saves are seen through inotify; where it cannot watch, or with TUTOR_WATCH_POLL=1, by\n"
        "comparing file sizes and modification times every second (docs/exercises.md).");

    std::optional<std::string> hint_exercise;
    bool hint_all = false;
    bool hint_reset = false;
    auto* hint = app.add_subcommand("hint", "The exercise's next hint, one more each time");
    hint->add_option("exercise", hint_exercise, "NN-EE (default: the next unfinished one)");
    hint->add_flag("--all", hint_all, "Show every hint");
    hint->add_flag("--reset", hint_reset, "Start over from the first hint");

    std::string reset_exercise;
    bool reset_yes = false;
    auto* reset =
        app.add_subcommand("reset", "Put an exercise's starter files back from git (asks first)");
    reset->add_option("exercise", reset_exercise, "NN-EE")->required();
    reset->add_flag("--yes,-y", reset_yes, "Do not ask");

    std::string diff_from, diff_to;
    auto* diff =
        app.add_subcommand("diff", "What chapter MM changed in the runtime compared to chapter NN");
    diff->add_option("NN", diff_from, "The chapter to compare from")->required();
    diff->add_option("MM", diff_to, "The chapter to compare to")->required();

    int test_repeat = 1;
    auto* test = app.add_subcommand("test", "Every build and test, with sanitizers: what CI runs");
    test->add_option("--repeat", test_repeat,
                     "Run every test N times in each build, to catch a flaky one (default: 1)")
        ->check(CLI::Range(1, 1000))
        ->option_text("N");

    tutor::BenchOptions bench_options;
    auto* bench = app.add_subcommand(
        "bench", "Run the benchmark workloads on every stage that has them; print one table");
    bench->add_option(
        "--stage", bench_options.stage,
        "Only chapter NN's stage (with --vs-tokio: that stage instead of the newest)");
    auto* vs_tokio = bench->add_flag(
        "--vs-tokio", bench_options.vs_tokio,
        "Compare one stage with the Tokio program (tools/bench/tokio), the two run in turns");
    bench
        ->add_option("--rounds", bench_options.rounds,
                     "With --vs-tokio: runs of each program per workload (default: 5)")
        ->check(CLI::Range(1, 100))
        ->needs(vs_tokio)
        ->option_text("R");
    bench
        ->add_option("--threads", bench_options.threads,
                     "0: the single-threaded runtime (default); N: N worker threads")
        ->check(CLI::Range(0, 256));
    bench
        ->add_option("--markdown", bench_options.markdown_file,
                     "Also write the table to FILE as GitHub Markdown")
        ->option_text("FILE");
    bench
        ->add_option("--svg", bench_options.svg_file,
                     "Also write a bar chart of the figures to FILE as SVG")
        ->option_text("FILE");
    bench->add_option("workloads", bench_options.workloads,
                      "Workloads to run (default: all of them, and idle_memory; with "
                      "--vs-tokio, http too)");
    bench->footer(
        "The workloads, and how two runtimes are compared: tools/bench/WORKLOADS.md\n"
        "Examples:\n  ./tutor bench --stage 06 yield_many\n"
        "  ./tutor bench --vs-tokio                   the newest stage against Tokio\n"
        "  ./tutor bench --vs-tokio --stage 06 --markdown vs.md");

    reject_unknown_command(app, argc, argv);
    // `run`'s program arguments never reach CLI11, which would take them for tutor's own.
    auto [tutor_args, program_args] = split_run_arguments(argc, argv);
    std::vector<char*> tutor_argv;
    for (auto& arg : tutor_args) tutor_argv.push_back(arg.data());
    tutor_argv.push_back(nullptr);
    if (const auto exit_code = support::parse_command_line(app, static_cast<int>(tutor_args.size()),
                                                           tutor_argv.data())) {
        return *exit_code;
    }

    const auto project = tutor::Project::discover(find_root(root_option));
    if (list->parsed()) return tutor::list_command(project);
    if (run->parsed()) return tutor::run_command(project, run_target, program_args);
    if (check->parsed()) {
        const auto sanitizer = check_asan   ? tutor::Sanitizer::address
                               : check_tsan ? tutor::Sanitizer::thread
                                            : tutor::Sanitizer::none;
        return tutor::check_command(project, check_exercise, sanitizer);
    }
    if (watch->parsed()) return tutor::watch_command(project, watch_exercise);
    if (hint->parsed()) return tutor::hint_command(project, hint_exercise, hint_all, hint_reset);
    if (reset->parsed()) return tutor::reset_command(project, reset_exercise, reset_yes);
    if (diff->parsed()) return tutor::diff_command(project, diff_from, diff_to);
    if (test->parsed()) return tutor::test_command(project, test_repeat);
    if (bench->parsed()) return tutor::bench_command(project, bench_options);
    (void)status;
    return tutor::status_command(project);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const tutor::UsageError& e) {
        std::cout.flush();
        std::cerr << "tutor: " << e.what() << '\n';
        return tutor::usage_exit_code;
    } catch (const std::exception& e) {
        std::cout.flush();
        std::cerr << "tutor: " << e.what() << '\n';
        return 1;
    } catch (...) {
        std::cerr << "tutor: unexpected error\n";
        return 1;
    }
}
