// Tests of reading the benchmark programs' output and of the stages' table, as text, as
// Markdown and as an SVG chart; and of `tutor bench --vs-tokio`'s medians, ratios, tables,
// and what it reads from wrk and Cargo.lock.
#include <doctest/doctest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "bench_report.hpp"

namespace {

/// How many times `needle` occurs in `text`.
std::size_t occurrences(std::string_view text, std::string_view needle) {
    std::size_t count = 0;
    for (auto at = text.find(needle); at != std::string_view::npos;
         at = text.find(needle, at + needle.size())) {
        ++count;
    }
    return count;
}

/// The line of `svg` that contains `needle` (the first one), or "" when none does.
std::string line_with(const std::string& svg, std::string_view needle) {
    const auto at = svg.find(needle);
    if (at == std::string::npos) return "";
    const auto begin = svg.rfind('\n', at) + 1;  // npos + 1 == 0 on the first line
    return svg.substr(begin, svg.find('\n', at) - begin);
}

/// Two stages, two workloads in different units, one figure missing.
tutor::BenchFiguresByStage sample_figures() {
    tutor::BenchFiguresByStage figures;
    figures["05"]["spawn_many"] = {440.8, "ns/task"};
    figures["06"]["spawn_many"] = {220.4, "ns/task"};
    figures["06"]["timeout_ready"] = {39.6, "ns/op"};
    return figures;
}

}  // namespace

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

    TEST_CASE("the Markdown table has a column per stage and '-' where a stage has no figure") {
        const std::string table =
            tutor::bench_markdown({"spawn_many", "timeout_ready"}, {"05", "06"}, sample_figures());
        CHECK(table ==
              "| workload | ch. 05 | ch. 06 |\n"
              "|---|---:|---:|\n"
              "| spawn_many | 440.8 ns/task | 220.4 ns/task |\n"
              "| timeout_ready | - | 39.6 ns/op |\n");
    }

    TEST_CASE("a '|' in a Markdown cell is escaped so it does not end the cell") {
        tutor::BenchFiguresByStage figures;
        figures["06"]["spawn_many"] = {1.0, "a|b"};
        CHECK(tutor::bench_markdown({"spawn_many"}, {"06"}, figures) ==
              "| workload | ch. 06 |\n|---|---:|\n| spawn_many | 1.0 a\\|b |\n");
    }

    TEST_CASE("the SVG is a standalone document on a white background") {
        const std::string svg =
            tutor::bench_svg({"spawn_many", "timeout_ready"}, {"05", "06"}, sample_figures(), 0);
        CHECK(svg.starts_with("<svg "));
        CHECK(svg.find("xmlns=\"http://www.w3.org/2000/svg\"") < svg.find('>'));
        CHECK(svg.ends_with("</svg>\n"));
        CHECK(line_with(svg, "<rect").find("fill=\"#ffffff\"") != std::string::npos);
    }

    TEST_CASE("the SVG has a background, a legend entry per stage and a bar per figure") {
        const std::string svg =
            tutor::bench_svg({"spawn_many", "timeout_ready"}, {"05", "06"}, sample_figures(), 0);
        CHECK(occurrences(svg, "<rect ") == 1 + 2 + 3);
        CHECK(occurrences(svg, ">ch. 05</text>") == 1 + 2);  // the legend, then one per group
        CHECK(occurrences(svg, ">ch. 06</text>") == 1 + 2);
        CHECK(svg.find("220.4 ns/task</text>") != std::string::npos);
        CHECK(svg.find("39.6 ns/op</text>") != std::string::npos);
        CHECK(svg.find(">-</text>") != std::string::npos);  // timeout_ready on chapter 05
    }

    TEST_CASE("each workload's largest figure has the full bar width, the others their share") {
        const std::string svg =
            tutor::bench_svg({"spawn_many", "timeout_ready"}, {"05", "06"}, sample_figures(), 0);
        // spawn_many: 440.8 is its largest, 220.4 half of it; timeout_ready: 39.6 its only one.
        CHECK(occurrences(svg, "width=\"440.0\"") == 2);
        CHECK(occurrences(svg, "width=\"220.0\"") == 1);
        // A bar has its stage's colour, the same as the stage's legend entry.
        const std::string legend_05 = line_with(svg, "<rect x=\"20\"");
        const std::string bar_05 = line_with(svg, "width=\"440.0\"");
        const auto fill = [](const std::string& line) { return line.substr(line.find("fill=")); };
        CHECK(fill(legend_05) == fill(bar_05));
        CHECK(fill(legend_05) != fill(line_with(svg, "width=\"220.0\"")));
    }

    TEST_CASE("the SVG's title names the threads and each group says which way is better") {
        tutor::BenchFiguresByStage figures = sample_figures();
        figures["06"]["yield_many"] = {5000.0, "req/s"};
        const std::string svg =
            tutor::bench_svg({"spawn_many", "yield_many"}, {"05", "06"}, figures, 4);
        CHECK(svg.find("--threads 4") != std::string::npos);
        CHECK(svg.find("(ns/task, lower is better)") != std::string::npos);
        CHECK(svg.find("(req/s, higher is better)") != std::string::npos);
        CHECK(svg.find("timeout_ready") == std::string::npos);  // not asked for
    }

    TEST_CASE("a workload without any figure gets no group in the SVG") {
        const std::string svg =
            tutor::bench_svg({"spawn_many", "ping_pong"}, {"05", "06"}, sample_figures(), 0);
        CHECK(svg.find("ping_pong") == std::string::npos);
        CHECK(occurrences(svg, "<rect ") == 1 + 2 + 2);
    }

    TEST_CASE("text in the SVG is XML-escaped") {
        tutor::BenchFiguresByStage figures;
        figures["<06>"]["spawn_many"] = {1.0, "ns&\"'"};
        const std::string svg = tutor::bench_svg({"spawn_many"}, {"<06>"}, figures, 0);
        CHECK(svg.find("ch. &lt;06&gt;") != std::string::npos);
        CHECK(svg.find("1.0 ns&amp;&quot;&apos;</text>") != std::string::npos);
        CHECK(svg.find("<06>") == std::string::npos);
        CHECK(svg.find("ns&\"") == std::string::npos);
    }

    TEST_CASE("the SVG of a figure is exactly this document, every time") {
        tutor::BenchFiguresByStage figures;
        figures["06"]["yield_many"] = {63.0, "ns/yield"};
        CHECK(tutor::bench_svg({"yield_many"}, {"06"}, figures, 0) ==
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"144\" viewBox=\"0 "
              "0 760 144\" font-family=\"sans-serif\" font-size=\"12\">\n"
              "<rect x=\"0\" y=\"0\" width=\"760\" height=\"144\" fill=\"#ffffff\"/>\n"
              "<text x=\"20\" y=\"28\" font-size=\"16\" font-weight=\"bold\" "
              "fill=\"#222222\">tutor bench, --threads 0: the single-threaded runtime</text>\n"
              "<text x=\"20\" y=\"46\" fill=\"#555555\">Each workload&apos;s bars are scaled to "
              "its largest figure.</text>\n"
              "<rect x=\"20\" y=\"58\" width=\"12\" height=\"12\" fill=\"#4e79a7\"/>\n"
              "<text x=\"36\" y=\"68\" fill=\"#222222\">ch. 06</text>\n"
              "<text x=\"20\" y=\"96\" font-size=\"13\" fill=\"#222222\"><tspan "
              "font-weight=\"bold\">yield_many</tspan> (ns/yield, lower is better)</text>\n"
              "<text x=\"84\" y=\"115\" text-anchor=\"end\" fill=\"#555555\">ch. 06</text>\n"
              "<rect x=\"90\" y=\"104\" width=\"440.0\" height=\"14\" fill=\"#4e79a7\"/>\n"
              "<text x=\"536.0\" y=\"115\" fill=\"#222222\">63.0 ns/yield</text>\n"
              "</svg>\n");
    }

    TEST_CASE("every workload of WORKLOADS.md but http is read, in the table's order") {
        const auto figures = tutor::parse_bench_output(
            "blocking_many 15400.0 ns/op\nfile_read 640.0 us/read\nhttp 1.0 req/s\n");
        CHECK(figures.size() == 2);
        CHECK(figures.at("file_read").unit == "us/read");
        const auto& names = tutor::bench_workloads();
        REQUIRE(names.size() == 10);
        CHECK(names.front() == "spawn_many");
        CHECK(names.back() == "file_read");
    }
}

namespace {

/// A workload compared in three rounds.
tutor::BenchComparison compared(std::string workload, std::string unit, std::vector<double> ours,
                                std::vector<double> tokio) {
    tutor::BenchComparison comparison;
    comparison.workload = std::move(workload);
    comparison.unit = std::move(unit);
    comparison.ours = std::move(ours);
    comparison.tokio = std::move(tokio);
    return comparison;
}

}  // namespace

TEST_SUITE("bench comparison with Tokio") {
    TEST_CASE("the median is the middle figure, or the mean of the middle two") {
        CHECK(tutor::bench_median({3.0, 1.0, 2.0}) == doctest::Approx(2.0));
        CHECK(tutor::bench_median({4.0, 1.0, 3.0, 2.0}) == doctest::Approx(2.5));
        CHECK(tutor::bench_median({7.5}) == doctest::Approx(7.5));
        CHECK(tutor::bench_median({}) == doctest::Approx(0.0));
    }

    TEST_CASE("for a time the ratio is Tokio's median over ours: above 1, ours is faster") {
        const auto ratio =
            tutor::bench_ratio(compared("spawn_many", "ns/task", {50, 40, 60}, {100, 90, 120}));
        REQUIRE(ratio.has_value());
        CHECK(*ratio == doctest::Approx(2.0));
        const auto slower = tutor::bench_ratio(compared("sleep_many", "ms_total", {200}, {100}));
        REQUIRE(slower.has_value());
        CHECK(*slower == doctest::Approx(0.5));
    }

    TEST_CASE("for a rate the ratio is our median over Tokio's") {
        const auto ratio =
            tutor::bench_ratio(compared("http", "req/s", {150000, 140000}, {100000, 100000}));
        REQUIRE(ratio.has_value());
        CHECK(*ratio == doctest::Approx(1.45));
    }

    TEST_CASE("bytes per task get no ratio, nor does a workload one side has no figure for") {
        CHECK_FALSE(tutor::bench_ratio(compared("idle_memory", "bytes/task", {392}, {208})));
        CHECK_FALSE(tutor::bench_ratio(compared("spawn_remote", "ns/task", {}, {500})));
        CHECK_FALSE(tutor::bench_ratio(compared("spawn_remote", "ns/task", {50}, {})));
        CHECK_FALSE(tutor::bench_ratio(compared("yield_many", "ns/yield", {0}, {20})));
    }

    TEST_CASE("the text table shows both medians, the ratio or the note, and the heading") {
        tutor::BenchComparison unsupported;
        unsupported.workload = "spawn_remote";
        unsupported.note = "chapter 06 cannot run it: it needs an rt::Handle";
        const std::string table = tutor::comparison_table(
            {compared("spawn_many", "ns/task", {46.4, 46.0, 47.0}, {105.7, 100.0, 110.0}),
             unsupported, compared("idle_memory", "bytes/task", {392.1}, {208.1})},
            "06", "1.24.2", 0, 3);
        CHECK(table ==
              "chapter 06 against Tokio 1.24.2 (current_thread), --threads 0: medians of 3 runs "
              "each, the two programs in turns\n"
              "\n"
              "workload                chapter 06              Tokio  ratio\n"
              "spawn_many            46.4 ns/task      105.7 ns/task  2.28x\n"
              "spawn_remote                     -                  -  chapter 06 cannot run "
              "it: it needs an rt::Handle\n"
              "idle_memory       392.1 bytes/task   208.1 bytes/task  -\n"
              "\n"
              "ratio: Tokio's time over ours (for http, our requests per second over Tokio's);\n"
              "above 1, chapter 06 is faster. "
              "idle_memory: the bytes per task, side by side.\n");
    }

    TEST_CASE("the heading names Tokio's workers, and leaves out a version it does not know") {
        const std::string table = tutor::comparison_table(
            {compared("yield_many", "ns/yield", {20}, {40})}, "08", "", 2, 1);
        CHECK(
            table.starts_with("chapter 08 against Tokio (2 workers), --threads 2: medians of "
                              "1 run each"));
    }

    TEST_CASE("a note beside a ratio follows it in brackets") {
        tutor::BenchComparison http = compared("http", "req/s", {140900}, {141083});
        http.note = "wrk: Socket errors: connect 0, read 2, write 0, timeout 0";
        CHECK(tutor::comparison_markdown({http}, "07", 0) ==
              "| workload | chapter 07 | Tokio current_thread | ratio (above 1: chapter 07 "
              "faster) |\n"
              "|---|---:|---:|---:|\n"
              "| http | 140900.0 req/s | 141083.0 req/s | 1.00x (wrk: Socket errors: connect 0, "
              "read 2, write 0, timeout 0) |\n");
    }

    TEST_CASE("the Markdown table has a row per workload, '-' for a missing figure") {
        tutor::BenchComparison skipped;
        skipped.workload = "http";
        skipped.note = "skipped: it needs wrk (apt-get install wrk)";
        CHECK(tutor::comparison_markdown(
                  {compared("chained_spawn", "ns/spawn", {49.3}, {63.4}), skipped}, "06", 1) ==
              "| workload | chapter 06 | Tokio 1 worker | ratio (above 1: chapter 06 faster) |\n"
              "|---|---:|---:|---:|\n"
              "| chained_spawn | 49.3 ns/spawn | 63.4 ns/spawn | 1.29x |\n"
              "| http | - | - | skipped: it needs wrk (apt-get install wrk) |\n");
    }

    TEST_CASE("wrk's rate is read from its Requests/sec line") {
        const std::string report =
            "Running 4s test @ http://127.0.0.1:40123/\n"
            "  1 threads and 64 connections\n"
            "  Thread Stats   Avg      Stdev     Max   +/- Stdev\n"
            "    Latency   452.10us   80.33us   3.10ms   91.02%\n"
            "    Req/Sec   141.77k     3.02k  145.22k    87.50%\n"
            "  564321 requests in 4.00s, 41.98MB read\n"
            "Requests/sec: 141083.52\n"
            "Transfer/sec:     10.50MB\n";
        const auto rate = tutor::parse_wrk_rate(report);
        REQUIRE(rate.has_value());
        CHECK(*rate == doctest::Approx(141083.52));
        CHECK(tutor::parse_wrk_errors(report).empty());
    }

    TEST_CASE("a wrk report without a rate gives none") {
        CHECK_FALSE(tutor::parse_wrk_rate("unable to connect to 127.0.0.1:1 Connection refused\n"));
        CHECK_FALSE(tutor::parse_wrk_rate("Requests/sec: many\n"));
        CHECK_FALSE(tutor::parse_wrk_rate(""));
    }

    TEST_CASE("wrk's socket errors and bad responses are collected") {
        const std::string report =
            "  10 requests in 4.00s, 1.00KB read\n"
            "  Socket errors: connect 0, read 3, write 0, timeout 12\n"
            "  Non-2xx or 3xx responses: 7\n"
            "Requests/sec:      2.50\n";
        CHECK(tutor::parse_wrk_errors(report) ==
              "Socket errors: connect 0, read 3, write 0, timeout 12; Non-2xx or 3xx responses: 7");
    }

    TEST_CASE("a package's version is read from Cargo.lock, and no other package's") {
        const std::string lock =
            "# This file is automatically @generated by Cargo.\n"
            "version = 3\n"
            "\n"
            "[[package]]\n"
            "name = \"tokio-bench\"\n"
            "version = \"0.1.0\"\n"
            "dependencies = [\n"
            " \"tokio\",\n"
            "]\n"
            "\n"
            "[[package]]\n"
            "name = \"tokio\"\n"
            "version = \"1.24.2\"\n"
            "source = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        CHECK(tutor::cargo_lock_version(lock, "tokio") == "1.24.2");
        CHECK(tutor::cargo_lock_version(lock, "tokio-bench") == "0.1.0");
        CHECK(tutor::cargo_lock_version(lock, "mio") == "");
        CHECK(tutor::cargo_lock_version("", "tokio") == "");
    }
}
