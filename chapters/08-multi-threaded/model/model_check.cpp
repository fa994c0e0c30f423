// model-check: runs the interleaving explorer (model/explorer.hpp) over the protocols of this
// chapter's scheduler, with the runtime's own code built for the model (RT_MODEL).
//
//   model-check                      every protocol, 5000 seeds each
//   model-check --protocol park      one of them (--list names them all)
//   model-check --protocol park-without-step-3 --seed 3 --trace
//                                    one seed again, with each step it took
//
// Exit code: 0 when every protocol kept its promise for every seed and every broken one was
// caught; 1 otherwise; 2 for a bad command line.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "model/explorer.hpp"
#include "protocols.hpp"
#include "support/cli.hpp"

namespace {

using model_check::Protocol;

std::vector<Protocol> all_protocols() {
    std::vector<Protocol> protocols;
    for (auto* group :
         {model_check::park_protocols, model_check::queue_protocols, model_check::task_protocols}) {
        for (Protocol& protocol : group()) protocols.push_back(std::move(protocol));
    }
    return protocols;
}

/// Explore one protocol; true if it behaved as expected (kept its promise, or was caught).
bool explore(const Protocol& protocol, const model::Options& options) {
    const std::optional<model::Failure> failure = model::explore(options, protocol.body);
    if (!failure && !protocol.broken) {
        std::printf("%-26s ok: %llu seeds, no failure (%s)\n", protocol.name,
                    static_cast<unsigned long long>(options.seeds), protocol.promise);
        return true;
    }
    if (!failure) {
        std::printf("%-26s NOT CAUGHT: %llu seeds and no failure, but the protocol is broken\n",
                    protocol.name, static_cast<unsigned long long>(options.seeds));
        return false;
    }
    if (protocol.broken) {
        std::printf("%-26s caught at seed %llu, after %llu executions: %s\n", protocol.name,
                    static_cast<unsigned long long>(failure->seed),
                    static_cast<unsigned long long>(failure->executions), failure->message.c_str());
        return true;
    }
    std::printf(
        "%-26s FAILED at seed %llu, after %llu executions: %s\n%s"
        "Replay it: model-check --protocol %s --seed %llu --trace\n",
        protocol.name, static_cast<unsigned long long>(failure->seed),
        static_cast<unsigned long long>(failure->executions), failure->message.c_str(),
        failure->trace.c_str(), protocol.name, static_cast<unsigned long long>(failure->seed));
    return false;
}

/// Run one seed; print its trace if asked. True if the outcome is the expected one.
bool replay(const Protocol& protocol, std::uint64_t seed, bool trace) {
    const model::Replay run = model::replay(seed, protocol.body);
    if (trace) std::fputs(run.trace.c_str(), stdout);
    if (run.failure) {
        std::printf("%s, seed %llu: %s\n", protocol.name, static_cast<unsigned long long>(seed),
                    run.failure->c_str());
    } else {
        std::printf("%s, seed %llu: no failure\n", protocol.name,
                    static_cast<unsigned long long>(seed));
    }
    return run.failure.has_value() == protocol.broken;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> names;
    model::Options options;
    options.seeds = 5000;
    std::uint64_t seed = 0;
    bool trace = false;
    bool list = false;

    CLI::App app{
        "Explores the interleavings of chapter 8's scheduler protocols, one seed at a "
        "time, and reports the first failing seed.",
        "model-check"};
    app.add_option("--protocol", names, "a protocol to explore (repeatable; default: all)");
    app.add_option("--seeds", options.seeds, "seeds to explore per protocol")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}));
    app.add_option("--first-seed", options.first_seed, "the first seed explored")
        ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 62));
    app.add_option("--seed", seed, "run this one seed only, again")
        ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 62));
    app.add_flag("--trace", trace, "with --seed: print every step of the execution");
    app.add_flag("--list", list, "list the protocols and what each run checks");
    if (const auto code = support::parse_command_line(app, argc, argv)) return *code;
    const bool one_seed = app.count("--seed") > 0;
    if (trace && !one_seed) {
        std::fprintf(stderr,
                     "model-check: --trace needs --seed\nRun with --help for the options.\n");
        return support::usage_error;
    }

    std::vector<Protocol> protocols = all_protocols();
    if (list) {
        for (const Protocol& protocol : protocols) {
            std::printf("%-26s %s%s\n", protocol.name, protocol.promise,
                        protocol.broken ? " (broken on purpose)" : "");
        }
        return 0;
    }
    std::vector<const Protocol*> chosen;
    for (const std::string& name : names) {
        const Protocol* found = nullptr;
        for (const Protocol& protocol : protocols) {
            if (name == protocol.name) found = &protocol;
        }
        if (found == nullptr) {
            std::fprintf(stderr, "model-check: no protocol named '%s' (--list names them)\n",
                         name.c_str());
            return support::usage_error;
        }
        chosen.push_back(found);
    }
    if (chosen.empty()) {
        for (const Protocol& protocol : protocols) chosen.push_back(&protocol);
    }

    bool all_as_expected = true;
    for (const Protocol* protocol : chosen) {
        const bool as_expected =
            one_seed ? replay(*protocol, seed, trace) : explore(*protocol, options);
        all_as_expected = all_as_expected && as_expected;
        std::fflush(stdout);
    }
    return all_as_expected ? 0 : 1;
}
