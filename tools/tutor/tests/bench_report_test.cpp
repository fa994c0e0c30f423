// Tests of reading the benchmark programs' output and of the stages' table, as text, as
// Markdown and as an SVG chart.
#include <doctest/doctest.h>

#include <cstddef>
#include <string>
#include <string_view>

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
}
