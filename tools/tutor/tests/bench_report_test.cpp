// Tests of reading the benchmark programs' output and of the stages' table.
#include <doctest/doctest.h>

#include "bench_report.hpp"

TEST_SUITE("bench report") {
    TEST_CASE("figures are read from their lines, and every other line is ignored") {
        const auto figures = tutor::parse_bench_output(
            "bench: running spawn_many\n"
            "spawn_many 247.3 ns/task\n"
            "bench: timeout_ready: not supported by this stage\n"
            "yield_many 63.0 ns/yield\n"
            "unknown_workload 1.0 ns/op\n"
            "ping_pong fast ns/ping\n"
            "sleep_many 201.5 ms_total trailing\n");
        REQUIRE(figures.size() == 2);
        CHECK(figures.at("spawn_many").value == doctest::Approx(247.3));
        CHECK(figures.at("spawn_many").unit == "ns/task");
        CHECK(figures.at("yield_many").unit == "ns/yield");
    }

    TEST_CASE("the table has a row per workload and a column per stage, '-' where none ran") {
        std::map<std::string, std::map<std::string, tutor::BenchFigure>> figures;
        figures["05"]["spawn_many"] = {440.8, "ns/task"};
        figures["06"]["spawn_many"] = {300.0, "ns/task"};
        figures["06"]["timeout_ready"] = {39.6, "ns/op"};
        const std::string table =
            tutor::bench_table({"spawn_many", "timeout_ready"}, {"05", "06"}, figures);
        CHECK(table ==
              "workload                 chapter 05          chapter 06\n"
              "spawn_many            440.8 ns/task       300.0 ns/task\n"
              "timeout_ready                     -          39.6 ns/op\n");
    }
}
