// Checking exercises and remembering the outcome (see progress.hpp).
#include "progress.hpp"

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <iterator>

#include "content_hash.hpp"
#include "terminal.hpp"

namespace tutor {

namespace {

/// The file name under build/tutor/progress/ of an exercise's outcome: "01-02", "01-02.tsan".
std::string record_name(const Exercise& ex, Sanitizer sanitizer) {
    switch (sanitizer) {
        case Sanitizer::none:
            break;
        case Sanitizer::address:
            return ex.id() + ".asan";
        case Sanitizer::thread:
            return ex.id() + ".tsan";
    }
    return ex.id();
}

}  // namespace

CheckResult Progress::check(const Exercise& ex, Sanitizer sanitizer) {
    CheckResult result;
    result.sanitizer = sanitizer;
    const std::string hash = key(ex);
    const std::string target = test_target(ex);
    auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(test_time_limit);
    std::vector<std::pair<std::string, std::string>> env;
    if (sanitizer != Sanitizer::none) {
        const SanitizedBuild& build = sanitized_build(sanitizer);
        result.build_dir = build.dir;
        env = build.env;
        limit *= 3;  // as `tutor test` multiplies meson's timeouts for the sanitized builds
        if (!is_configured(project_, build.dir)) {
            std::cerr << "configuring " << build.dir << "/ for " << build.flag
                      << " (once; its first build compiles the runtime again, with " << build.label
                      << ")" << std::endl;
            if (!configure_build(project_, build.dir, build.options, true))
                throw std::runtime_error("meson could not configure " + build.dir +
                                         "/ (output above)");
        }
    }
    result.build = build_target(project_, target, result.build_dir);
    if (!result.build.ok) {
        result.outcome =
            result.build.unknown_target ? Outcome::not_in_build : Outcome::does_not_compile;
    } else {
        const auto program = project_.root() / result.build_dir / target;
        // The results as data (common/testing/doctest_main.cpp); the console output is read
        // only if the program wrote none (a crash before its first test case).
        const auto results_dir = project_.state_dir() / "results";
        const auto results = results_dir / (record_name(ex, sanitizer) + ".jsonl");
        std::error_code ec;
        fs::create_directories(results_dir, ec);
        fs::remove(results, ec);
        env.emplace_back("TUTOR_RESULTS", results.string());
        result.run =
            run_process({program.string(), "--no-colors=true"},
                        ProcessOptions::captured().in(project_.root()).within(limit).with_env(env));
        std::ifstream in(results);
        const std::string text((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
        if (auto read = read_doctest_results(text, project_.root().string())) {
            result.report = std::move(*read);
        } else {
            result.report = read_doctest_output(result.run.output, project_.root().string());
        }
        if (result.run.interrupted) {
            result.outcome = Outcome::interrupted;
        } else if (result.run.timed_out) {
            result.outcome = Outcome::timed_out;
        } else if (result.run.signal != 0) {
            result.outcome = Outcome::crashed;
        } else if (result.run.exit_code == 0) {
            result.outcome = Outcome::passed;
        } else {
            result.outcome = result.report.summary.found ? Outcome::tests_failed : Outcome::crashed;
        }
    }
    // "Not in the build" is remembered too: exercises/meson.build is part of the key.
    if (result.outcome != Outcome::interrupted) {
        const bool passed = result.outcome == Outcome::passed;
        remember(ex, hash, passed, sanitizer);
        if (sanitizer == Sanitizer::none) known_[ex.id()] = passed;
    }
    return result;
}

bool Progress::is_done(const Exercise& ex) {
    if (const auto it = known_.find(ex.id()); it != known_.end()) return it->second;
    if (const auto done = remembered(ex, key(ex))) {
        known_[ex.id()] = *done;
        return *done;
    }
    std::cerr << "checking " << ex.id() << "..." << std::endl;
    const auto result = check(ex);
    known_[ex.id()] = result.outcome == Outcome::passed;
    return result.outcome == Outcome::passed;
}

void Progress::check_all(const std::vector<Exercise>& exercises) {
    std::vector<const Exercise*> unknown;
    for (const auto& ex : exercises) {
        if (known_.count(ex.id()) != 0) continue;
        if (const auto done = remembered(ex, key(ex))) {
            known_[ex.id()] = *done;
            continue;
        }
        unknown.push_back(&ex);
    }
    if (unknown.empty()) return;
    if (unknown.size() > 1) {
        std::vector<std::string> targets;
        for (const Exercise* ex : unknown) targets.push_back(test_target(*ex));
        build_targets(project_, std::move(targets),
                      "building the tests of " + std::to_string(unknown.size()) + " exercises");
    }
    const bool terminal = is_terminal(STDERR_FILENO);
    for (std::size_t i = 0; i < unknown.size(); ++i) {
        const std::string line = "checking " + unknown[i]->id() + " (" + std::to_string(i + 1) +
                                 " of " + std::to_string(unknown.size()) + ")";
        if (terminal) {
            std::cerr << "\r\033[K" << line << std::flush;
        } else {
            std::cerr << line << '\n';
        }
        const auto result = check(*unknown[i]);
        if (result.outcome == Outcome::interrupted) break;
    }
    if (terminal) std::cerr << "\r\033[K" << std::flush;
}

const Exercise* Progress::next_unfinished(const Exercise* skip) {
    for (const auto& ex : project_.exercises()) {
        if (&ex != skip && !is_done(ex)) return &ex;
    }
    return nullptr;
}

std::string Progress::key(const Exercise& ex) const {
    const auto& root = project_.root();
    ContentHash hash;
    hash.add("tutor progress v1");
    hash.add_tree(root / "exercises" / ex.chapter_folder / (ex.number + "-" + ex.name));
    if (const Chapter* ch = project_.chapter(ex.chapter); ch && ch->present) {
        hash.add_tree(root / "chapters" / ch->folder() / "rt");
        hash.add_file(root / "chapters" / ch->folder() / "meson.build", "chapter meson.build");
    }
    hash.add_tree(root / "common");
    hash.add_file(root / "exercises" / "meson.build", "exercises/meson.build");
    hash.add_file(root / "meson.build", "meson.build");
    return hash.hex();
}

std::optional<bool> Progress::outcome_under(const Exercise& ex, Sanitizer sanitizer) const {
    return remembered(ex, key(ex), sanitizer);
}

std::optional<bool> Progress::remembered(const Exercise& ex, const std::string& key,
                                         Sanitizer sanitizer) const {
    std::ifstream in(project_.state_dir() / "progress" / record_name(ex, sanitizer));
    std::string stored_key, outcome;
    if (!(in >> stored_key >> outcome) || stored_key != key) return std::nullopt;
    if (outcome == "passed") return true;
    if (outcome == "failed") return false;
    return std::nullopt;
}

void Progress::remember(const Exercise& ex, const std::string& key, bool passed,
                        Sanitizer sanitizer) const {
    const auto dir = project_.state_dir() / "progress";
    std::error_code ec;
    fs::create_directories(dir, ec);
    const std::string name = record_name(ex, sanitizer);
    const auto file = dir / name;
    const auto temporary = dir / (name + ".new");
    {
        std::ofstream out(temporary);
        out << key << ' ' << (passed ? "passed" : "failed") << '\n';
        if (!out) return;  // nothing remembered: the next status checks again
    }
    fs::rename(temporary, file, ec);
}

}  // namespace tutor
