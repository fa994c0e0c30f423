// Tests of chapter 10's files: the JSON snapshot (rt/metrics/snapshot.hpp) checked against the
// documented schema (metrics-schema.json, the file the chapter's text points programs to), and
// the timeline (rt/metrics/trace.hpp), read back as the trace-event JSON that Perfetto opens:
// every poll a complete event on its worker's track, named after its task, and as many steal
// marks as the workers counted steals.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "json.hpp"  // tools/tutor's JSON reader
#include "rt/coroutine.hpp"
#include "rt/metrics/snapshot.hpp"
#include "rt/runtime.hpp"
#include "rt/sync/oneshot.hpp"
#include "rt/yield_now.hpp"
#include "testing/eventually.hpp"

namespace {

using tutor::Json;

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// A file in the temporary folder, removed at the end of the test.
struct TempFile {
    std::filesystem::path path;
    explicit TempFile(const std::string& name)
        : path(std::filesystem::temp_directory_path() /
               (name + "-" + std::to_string(::getpid()) + ".json")) {}
    ~TempFile() {
        std::error_code ignored;
        std::filesystem::remove(path, ignored);
    }
};

/// The part of JSON Schema that metrics-schema.json uses: type, const, enum, minimum,
/// required, properties, additionalProperties: false, items. Appends each violation to
/// `errors`, with the path of the value.
void validate(const Json& value, const Json& schema, const std::string& where,
              std::vector<std::string>& errors) {
    if (const Json* type = schema.find("type")) {
        const std::string& want = type->string;
        bool ok = false;
        if (want == "object") ok = value.kind == Json::Kind::object;
        if (want == "array") ok = value.kind == Json::Kind::array;
        if (want == "string") ok = value.kind == Json::Kind::string;
        if (want == "boolean") ok = value.kind == Json::Kind::boolean;
        if (want == "number") ok = value.kind == Json::Kind::number;
        if (want == "integer") {
            ok = value.kind == Json::Kind::number && std::floor(value.number) == value.number;
        }
        if (!ok) {
            errors.push_back(where + ": not of type " + want);
            return;
        }
    }
    if (const Json* constant = schema.find("const")) {
        const bool same =
            constant->kind == Json::Kind::string
                ? value.kind == Json::Kind::string && value.string == constant->string
                : value.kind == Json::Kind::number && value.number == constant->number;
        if (!same) errors.push_back(where + ": not the constant the schema gives");
    }
    if (const Json* choices = schema.find("enum")) {
        bool found = false;
        for (const Json& choice : choices->items) found = found || choice.string == value.string;
        if (!found) errors.push_back(where + ": \"" + value.string + "\" is not one of the enum");
    }
    if (const Json* minimum = schema.find("minimum")) {
        if (value.number < minimum->number) errors.push_back(where + ": below the minimum");
    }
    if (const Json* required = schema.find("required")) {
        for (const Json& name : required->items) {
            if (value.find(name.string) == nullptr) {
                errors.push_back(where + ": missing \"" + name.string + "\"");
            }
        }
    }
    const Json* properties = schema.find("properties");
    if (properties != nullptr && value.kind == Json::Kind::object) {
        const Json* additional = schema.find("additionalProperties");
        const bool closed = additional != nullptr && additional->kind == Json::Kind::boolean &&
                            !additional->boolean;
        for (const auto& [name, member] : value.members) {
            if (const Json* sub = properties->find(name)) {
                validate(member, *sub, where + "." + name, errors);
            } else if (closed) {
                errors.push_back(where + ": \"" + name + "\" is not in the schema");
            }
        }
    }
    if (const Json* items = schema.find("items");
        items != nullptr && value.kind == Json::Kind::array) {
        for (std::size_t i = 0; i < value.items.size(); ++i) {
            validate(value.items[i], *items, where + "[" + std::to_string(i) + "]", errors);
        }
    }
}

/// A runtime with work done and work waiting: finished tasks, a live task that waits, one that
/// lost its waker (a warning), so that every array of the snapshot has members.
struct ForgetsWaker {
    using Output = void;
    rt::Poll<void> poll(rt::Context&) { return rt::pending; }
};

rt::MetricsSnapshot busy_snapshot(std::size_t workers) {
    rt::MetricsOptions options;
    options.tasks = true;
    rt::Runtime runtime(workers, options);
    return runtime.block_on([&runtime]() -> rt::Task<rt::MetricsSnapshot> {
        auto [sender, receiver] = rt::sync::oneshot::channel<int>();
        auto waiting = rt::spawn(rt::named(
            "a \"quoted\"\tname", [](rt::sync::oneshot::Receiver<int> r) -> rt::Task<void> {
                co_await std::move(r);
            }(std::move(receiver))));
        rt::spawn(rt::named("forgetful", ForgetsWaker{}));
        // Until the forgetful task has been polled and reported, within the tests' patience.
        const auto give_up = std::chrono::steady_clock::now() + testing::patience();
        rt::MetricsSnapshot snapshot = runtime.metrics();
        while (snapshot.warning_counts[static_cast<int>(rt::WarningKind::lost_waker)] == 0 &&
               std::chrono::steady_clock::now() < give_up) {
            co_await rt::yield_now();
            snapshot = runtime.metrics();
        }
        std::move(sender).send(1);
        co_await std::move(waiting);
        co_return snapshot;
    });
}

}  // namespace

TEST_CASE("a snapshot written as JSON matches the documented schema, on both runtimes") {
    const Json schema = tutor::parse_json(read_file(METRICS_SCHEMA));
    for (const std::size_t workers : {std::size_t{0}, std::size_t{2}}) {
        CAPTURE(workers);
        const rt::MetricsSnapshot snapshot = busy_snapshot(workers);
        REQUIRE(snapshot.tasks.size() >= 2);
        TempFile file("rt-metrics-snapshot");
        REQUIRE(rt::write_json(snapshot, file.path.string()));
        const Json written = tutor::parse_json(read_file(file.path));  // throws if malformed
        std::vector<std::string> errors;
        validate(written, schema, "snapshot", errors);
        CHECK_MESSAGE(errors.empty(), errors.size() << " violations, the first: "
                                                    << (errors.empty() ? "" : errors.front()));
        // The values are the snapshot's, names escaped and read back whole.
        CHECK(written.find("workers")->items.size() == workers);
        bool named = false;
        for (const Json& task : written.find("tasks")->items) {
            named = named || task.string_or("name", "") == "a \"quoted\"\tname";
        }
        CHECK(named);
        CHECK(written.find("warning_counts")->find("lost_waker")->number == 1);
    }
}

TEST_CASE("a snapshot file that cannot be written is reported, not lost silently") {
    rt::MetricsSnapshot snapshot;
    CHECK_FALSE(rt::write_json(snapshot, "/nonexistent-folder/metrics.json"));
}

TEST_CASE(
    "the timeline has a track per worker, a bar per poll named after its task, and the steals") {
    TempFile file("rt-trace");
    std::uint64_t polls = 0;
    std::uint64_t steals = 0;
    {
        rt::MetricsOptions options;
        options.trace_file = file.path.string();
        rt::Runtime runtime(2, options);
        std::atomic<int> ran{0};
        runtime.block_on(rt::named("spawner", [&ran]() -> rt::Task<void> {
            // As in the steal test of task_stats_test.cpp: this worker blocks until another
            // worker ran one of the tasks in its queue, which only a steal can give it.
            std::vector<rt::JoinHandle<void>> handles;
            for (int i = 0; i < 16; ++i) {
                handles.push_back(
                    rt::spawn(rt::named("leaf", [](std::atomic<int>* ran) -> rt::Task<void> {
                        ran->fetch_add(1);
                        co_await rt::yield_now();
                    }(&ran))));
            }
            const bool seen = testing::eventually([&ran] { return ran.load() > 0; });
            (void)seen;
            for (auto& handle : handles) co_await std::move(handle);
        }));
        for (const rt::WorkerStats& worker : runtime.worker_stats()) {
            polls += worker.polls;
            steals += worker.steals;
        }
    }  // the timeline is written as the runtime shuts down
    const Json trace = tutor::parse_json(read_file(file.path));
    const Json* events = trace.find("traceEvents");
    REQUIRE(events != nullptr);
    std::map<std::string, int> polls_of;
    std::uint64_t poll_events = 0;
    std::uint64_t steal_events = 0;
    std::map<double, std::string> tracks;
    for (const Json& event : events->items) {
        const std::string phase = event.string_or("ph", "");
        if (phase == "M" && event.string_or("name", "") == "thread_name") {
            tracks[event.find("tid")->number] = event.find("args")->string_or("name", "");
        } else if (phase == "X") {
            ++poll_events;
            ++polls_of[event.string_or("name", "")];
            CHECK(event.find("dur")->number >= 0);
            const double tid = event.find("tid")->number;
            CHECK((tid == 1 || tid == 2));  // polls happen on the workers' tracks only
        } else if (phase == "i" && event.string_or("cat", "") == "steal") {
            ++steal_events;
        }
    }
    CHECK(tracks[1] == "worker 0");
    CHECK(tracks[2] == "worker 1");
    CHECK(tracks[0] == "other threads");
    CHECK(trace.find("otherData")->find("dropped_events")->number == 0);
    CHECK(poll_events == polls);    // every poll the workers counted is on the timeline
    CHECK(polls_of["leaf"] == 32);  // 16 leaves, 2 polls each
    CHECK(polls_of["spawner"] >= 1);
    CHECK(steals >= 1);
    CHECK(steal_events == steals);
}

TEST_CASE("a timeline that cannot be written does not keep the runtime from shutting down") {
    rt::MetricsOptions options;
    options.trace_file = "/nonexistent-folder/trace.json";
    {
        rt::Runtime runtime(1, options);
        runtime.block_on([]() -> rt::Task<void> { co_await rt::yield_now(); });
    }
    CHECK_FALSE(std::filesystem::exists("/nonexistent-folder/trace.json"));
}
