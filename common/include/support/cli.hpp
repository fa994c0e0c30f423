// The command-line conventions every program of the project follows (demos, solution
// programs, tools): `--help` explains every option and exits 0; a bad option or value prints
// a clear message and the hint to use --help, and exits 2.
#pragma once

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>

namespace support {

/// Exit code for a usage error, the convention of shells and of this project.
inline constexpr int usage_error = 2;

/// Parse the command line. Returns std::nullopt when the program should go on, or the exit
/// code to return from main (0 after --help, 2 after a usage error).
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
    try {
        app.parse(argc, argv);
        return std::nullopt;
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        return 0;
    } catch (const CLI::CallForAllHelp&) {
        std::cout << app.help("", CLI::AppFormatMode::All);
        return 0;
    } catch (const CLI::CallForVersion&) {
        std::cout << app.version() << '\n';
        return 0;
    } catch (const CLI::ParseError& e) {
        std::cerr << app.get_name() << ": " << e.what() << "\nRun with --help for the options.\n";
        return usage_error;
    }
}

}  // namespace support
