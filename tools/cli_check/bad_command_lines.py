#!/usr/bin/env python3
"""Bad command lines: every demo, solution program and tool of the build, given bad options,
missing values, numbers that are not numbers or out of range, a port in use or a file it may
not read or write, says what is wrong on stderr and exits 2 (a usage error) or 1 (a failure at
run time); it is never killed by a signal, never reported by a sanitizer, never hangs.

The table below holds one row per command line: the program, its arguments, the exit code
expected and what stderr must mention. meson runs this script in every build folder (build/,
build-asan/, build-tsan/) with that folder's programs:

    bad_command_lines.py --source-root DIR --build-root DIR PROGRAM...

Every PROGRAM must have rows in the table and every program of the table must be given, so a
new program cannot go untested. No row starts a program that would run for real: each one
fails while reading its command line, or at once at run time (the port in use, the file it
cannot open). Rows run a few at a time; each has a deadline that only guards against a hang.
"""

import argparse
import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Optional

USAGE = 2  # a bad command line (support/cli.hpp, tools/tutor/errors.hpp)
RUNTIME = 1  # the command line is fine, what it asks for fails

# A row that has not finished after this many seconds hangs: it fails with a message. The
# sanitized builds run 3 to 10 times slower than this needs.
ROW_DEADLINE_S = 30

SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "WARNING: ThreadSanitizer", "runtime error:")


@dataclass
class Row:
    program: str  # the program's path in the build folder, e.g. chapters/01-naive-executor/demo
    args: list  # its arguments
    code: int  # the exit code expected
    mentions: tuple  # what stderr must contain (each, ignoring case)
    skip: Optional[str] = None  # why this row cannot run here, or None


def unprivileged_low_ports():
    """Why binding port 1 would not fail here, or None when it fails for want of privileges."""
    try:
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            if int(f.read()) <= 1:
                return "port 1 may be bound here without privileges"
    except (OSError, ValueError):
        return "cannot tell which ports need privileges"
    return None


class Context:
    """What rows need from the outside: folders, a port in use, files the test made."""

    def __init__(self, source_root, scratch):
        self.source_root = source_root
        self.scratch = scratch  # the rows' working folder, removed at the end
        # A port on 127.0.0.1 that a socket of this process listens on while the rows run.
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.busy_port = self.listener.getsockname()[1]
        self.missing = os.path.join(scratch, "no-such-file")
        self.missing_dir_file = os.path.join(scratch, "no-such-folder", "out")
        self.a_folder = os.path.join(scratch, "a-folder")
        os.mkdir(self.a_folder)
        # A file nobody but root may read, in a folder nobody but root may write to.
        self.locked_dir = os.path.join(scratch, "locked")
        os.mkdir(self.locked_dir)
        self.unreadable = os.path.join(self.locked_dir, "unreadable")
        with open(self.unreadable, "w") as f:
            f.write("secret\n")
        os.chmod(self.unreadable, 0)
        os.chmod(self.locked_dir, 0o555)
        self.unwritable = os.path.join(self.locked_dir, "out")
        # A timeline with one event, for timeline-svg's rows about its output.
        self.trace = os.path.join(scratch, "trace.json")
        with open(self.trace, "w") as f:
            f.write('{"traceEvents": [{"tid": 1, "ph": "X", "cat": "poll", "name": "poll", '
                    '"ts": 0, "dur": 1}]}\n')
        # Permission bits do not stop root, and CI runs as root.
        self.root_skip = ("running as root, whom permission bits do not stop"
                          if os.geteuid() == 0 else None)
        self.privileged_port_skip = self.root_skip or unprivileged_low_ports()

    def close(self):
        self.listener.close()
        os.chmod(self.locked_dir, 0o755)
        os.chmod(self.unreadable, 0o600)


# ---- The table -----------------------------------------------------------------------------
#
# Most rows come from a program's description below: its name in the build folder, the
# arguments every row of it needs first (a subcommand, required positional arguments), one
# option that takes a number and values of it out of range, and rows of its own.

HUGE = "99999999999999999999"  # more than any integer type of the programs holds


def common_rows(program, number_option, out_of_range, before=(), positional_ok=True):
    """Rows every program gets: an unknown option, an option missing its value, a number that
    is not one, numbers out of range, and an argument it does not take."""
    before = list(before)
    rows = [
        Row(program, before + ["--no-such-option"], USAGE, ("--no-such-option",)),
        Row(program, before + [number_option], USAGE, (number_option,)),
        Row(program, before + [number_option, "many"], USAGE, ("many",)),
    ]
    for value in list(out_of_range) + [HUGE]:
        rows.append(Row(program, before + [number_option, value], USAGE, (value,)))
    if positional_ok:
        rows.append(Row(program, before + ["surplus"], USAGE, ("surplus",)))
    return rows


def demo(chapter):
    return "chapters/%s/demo" % chapter


def http_server(chapter):
    return "chapters/%s/http-server" % chapter


def solution(exercise):
    return "exercises/solution-" + exercise


def table(ctx):
    rows = []
    add = rows.extend

    # The chapters' demos.
    for chapter in ("01-naive-executor", "02-wakers"):
        add(common_rows(demo(chapter), "--tasks", ["0", "-1", "1001"]))
        add(common_rows(demo(chapter), "--pause-ms", ["10001"], positional_ok=False))
    add(common_rows(demo("03-reactor"), "--tasks", ["0", "10001"]))
    add([Row(demo("03-reactor"), ["--min-latency-ms", "20", "--max-latency-ms", "10"], USAGE,
             ("--min-latency-ms",)),
         Row(demo("03-reactor"), ["--seed", "-"], USAGE, ("--seed",)),
         Row(demo("03-reactor"), ["--seed", "-1"], USAGE, ("-1",))])
    add(common_rows(demo("04-coroutines"), "--tasks", ["0", "100001"]))
    add(common_rows(demo("05-epoll-reactor"), "--connections", ["0", "10001"]))
    add(common_rows(demo("05-epoll-reactor"), "--port", ["-1", "65536"], positional_ok=False))
    add([Row(demo("05-epoll-reactor"), ["--port", str(ctx.busy_port)], RUNTIME,
             ("address already in use",))])
    add(common_rows(demo("06-timers"), "--tasks", ["0", "1000001"]))
    add(common_rows(demo("06-timers"), "--timers", ["1"], positional_ok=False))
    add(common_rows(demo("07-as-fast-as-tokio"), "--tasks", ["0", "2000001"]))
    add(common_rows(demo("08-multi-threaded"), "--workers", ["0", "-1", "65"]))
    echo = "chapters/08-multi-threaded/echo-server"
    add(common_rows(echo, "--workers", ["-1", "65"]))
    add(common_rows(echo, "--port", ["-1", "65536"], positional_ok=False))
    add([Row(echo, ["--port", str(ctx.busy_port)], RUNTIME, ("address already in use",))])
    check = "chapters/08-multi-threaded/model-check"
    add(common_rows(check, "--seeds", ["0", "-1", "100000001"]))
    add(common_rows(check, "--seed", ["-1"], positional_ok=False))
    add([Row(check, ["--protocol", "no-such-protocol"], USAGE, ("no-such-protocol",)),
         Row(check, ["--trace"], USAGE, ("--seed",))])
    add(common_rows(demo("09-blocking-and-files"), "--workers", ["0", "65"]))
    add([
        Row(demo("09-blocking-and-files"), ["--file", ctx.missing], RUNTIME, ("no-such-file",)),
        Row(demo("09-blocking-and-files"), ["--file", ctx.a_folder], RUNTIME, ("a-folder",)),
        Row(demo("09-blocking-and-files"), ["--file", ctx.unreadable], RUNTIME,
            ("permission denied",), ctx.root_skip),
    ])
    add(common_rows(demo("10-observability"), "--workers", ["-1", "65"]))
    add(common_rows(demo("10-observability"), "--duration", ["99", "0"], positional_ok=False))
    add([
        Row(demo("10-observability"), ["--console"], USAGE, ("terminal",)),
        Row(demo("10-observability"), ["--trace", ctx.missing_dir_file], RUNTIME,
            ("no-such-folder",)),
        Row(demo("10-observability"), ["--metrics-json", ctx.a_folder], RUNTIME, ("a-folder",)),
        Row(demo("10-observability"), ["--trace", ctx.unwritable], RUNTIME,
            ("permission denied",), ctx.root_skip),
    ])

    # The HTTP servers: bad options, a port in use, a port that needs privileges.
    for chapter in ("06-timers", "07-as-fast-as-tokio", "08-multi-threaded",
                    "09-blocking-and-files", "10-observability"):
        server = http_server(chapter)
        add(common_rows(server, "--port", ["-1", "65536"]))
        add(common_rows(server, "--header-timeout-ms", ["0", "-5"], positional_ok=False))
        add([
            Row(server, ["--address", "localhost:80"], USAGE, ("localhost:80",)),
            Row(server, ["--address", "127.0.0.1", "--port", str(ctx.busy_port)], RUNTIME,
                ("address already in use",)),
            Row(server, ["--address", "127.0.0.1", "--port", "1"], RUNTIME,
                ("permission denied",), ctx.privileged_port_skip),
        ])
        if chapter >= "08":
            add(common_rows(server, "--workers", ["-1", "65"], positional_ok=False))

    # timeline-svg: two positional arguments, files to read and to write.
    svg = "chapters/10-observability/timeline-svg"
    out_svg = os.path.join(ctx.scratch, "out.svg")
    add(common_rows(svg, "--window-us", ["0", "-5", "1e10", "nan", "inf"],
                    before=[ctx.trace, out_svg]))
    add([
        Row(svg, [ctx.trace, out_svg, "--from-us", "nan"], USAGE, ("nan",)),
        Row(svg, [ctx.trace, out_svg, "--from-us", "inf"], USAGE, ("inf",)),
        Row(svg, [], USAGE, ("trace",)),
        Row(svg, [ctx.missing, out_svg], RUNTIME, ("no-such-file",)),
        Row(svg, [ctx.a_folder, out_svg], RUNTIME, ("a-folder",)),
        Row(svg, [ctx.trace, ctx.missing_dir_file], RUNTIME, ("no-such-folder",)),
        Row(svg, [ctx.trace, ctx.a_folder], RUNTIME, ("a-folder",)),
        Row(svg, [ctx.unreadable, out_svg], RUNTIME, ("permission denied",), ctx.root_skip),
        Row(svg, [ctx.trace, ctx.unwritable], RUNTIME, ("permission denied",), ctx.root_skip),
    ])

    # The solution programs of the exercises.
    add(common_rows(solution("01-01"), "--jobs", ["-1", "1001"]))
    add(common_rows(solution("01-02"), "--start", ["0", "1000001"]))
    add(common_rows(solution("01-03"), "--tasks", ["0", "1001"]))
    add(common_rows(solution("02-01"), "--workers", ["0", "17"]))
    add(common_rows(solution("02-01"), "--threads", ["0", "65"], positional_ok=False))
    add(common_rows(solution("02-02"), "--requests", ["-1", "1001"]))
    add(common_rows(solution("03-01"), "--tasks", ["0", "1001"]))
    add([Row(solution("03-01"), ["--seed", "-1"], USAGE, ("-1",))])
    add(common_rows(solution("03-02"), "--permits", ["0", "1001"]))
    add([Row(solution("03-02"), ["--min-latency-ms", "20", "--max-latency-ms", "10"], USAGE,
             ("--min-latency-ms",)),
         Row(solution("03-02"), ["--seed", "-1"], USAGE, ("-1",))])
    add(common_rows(solution("04-01"), "--tasks", ["0", "101"]))
    add(common_rows(solution("04-01"), "--fail", ["-2", "100"], positional_ok=False))
    add(common_rows(solution("04-02"), "--timeout-ms", ["0", "5001"]))
    add([Row(solution("04-02"), ["--seed", "-1"], USAGE, ("-1",))])
    add(common_rows(solution("05-01"), "--clients", ["-1", "401"]))
    add(common_rows(solution("05-01"), "--max-line", ["63", "-1"], positional_ok=False))
    add([
        Row(solution("05-01"), ["--address", "127.0.0.1"], USAGE, ("127.0.0.1",)),
        Row(solution("05-01"), ["--address", "127.0.0.1:%d" % ctx.busy_port], RUNTIME,
            ("address already in use",)),
        Row(solution("05-01"), ["--address", "127.0.0.1:1"], RUNTIME, ("permission denied",),
            ctx.privileged_port_skip),
    ])
    add(common_rows(solution("05-02"), "--clients", ["0", "201"]))
    add(common_rows(solution("05-02"), "--bytes", ["-1"], positional_ok=False))
    add(common_rows(solution("06-01"), "--idle-ms", ["-1", "10001"]))
    add([
        Row(solution("06-01"), ["--gaps", "5,many"], USAGE, ("many",)),
        Row(solution("06-01"), ["--gaps", "5,-1"], USAGE, ("-1",)),
        Row(solution("06-01"), ["--end", "sometimes"], USAGE, ("sometimes",)),
    ])
    add(common_rows(solution("06-02"), "--permits", ["0", "1001"]))
    add(common_rows(solution("06-02"), "--impatient", ["-2"], positional_ok=False))
    add(common_rows(solution("07-01"), "--threads", ["0", "65"]))
    add(common_rows(solution("07-01"), "--duration-ms", ["9"], positional_ok=False))
    add(common_rows(solution("07-02"), "--burst", ["0", "1000001"]))
    add(common_rows(solution("08-01"), "--stealers", ["0", "65"]))
    add(common_rows(solution("08-01"), "--tasks", ["0", "-1"], positional_ok=False))
    add([Row(solution("08-01"), ["--capacity", "7"], USAGE, ("7",)),
         Row(solution("08-01"), ["--seed", "-1"], USAGE, ("-1",))])
    add(common_rows(solution("08-02"), "--workers", ["0", "257"]))
    add(common_rows(solution("08-02"), "--items", ["0", "-1"], positional_ok=False))
    add(common_rows(solution("09-01"), "--threads", ["0", "257"]))
    add(common_rows(solution("09-01"), "--calls", ["0"], positional_ok=False))
    copy = solution("09-02")
    copied = os.path.join(ctx.scratch, "copy")
    add(common_rows(copy, "--chunk-kib", ["0", "-1", "2049"], before=[ctx.trace, copied]))
    add([
        Row(copy, [], USAGE, ("FROM",)),
        Row(copy, [ctx.missing, copied], RUNTIME, ("no-such-file",)),
        Row(copy, [ctx.trace, ctx.missing_dir_file], RUNTIME, ("no-such-folder",)),
        Row(copy, [ctx.trace, ctx.trace], RUNTIME, ("same file",)),
        Row(copy, [ctx.unreadable, copied], RUNTIME, ("permission denied",), ctx.root_skip),
        Row(copy, [ctx.trace, ctx.unwritable], RUNTIME, ("permission denied",), ctx.root_skip),
    ])
    add(common_rows(solution("10-01"), "--workers", ["-1", "65"]))
    add(common_rows(solution("10-01"), "--polls", ["0"], positional_ok=False))
    add(common_rows(solution("10-02"), "--threshold-ms", ["0", "60001"]))
    add(common_rows(solution("10-02"), "--workers", ["-1"], positional_ok=False))

    # The benchmark program, one per stage from chapter 4 on.
    for stage in ("04", "05", "06", "07", "08", "09", "10"):
        bench = "tools/bench/bench-" + stage
        add(common_rows(bench, "--threads", ["-1", "257"], before=["yield_many"]))
        add(common_rows(bench, "--port", ["0", "65536"], before=["http"], positional_ok=False))
        add([
            Row(bench, [], USAGE, ("workload",)),
            Row(bench, ["no_such_workload"], USAGE, ("no_such_workload",)),
        ])
        if stage < "06":
            add([Row(bench, ["http", "--port", "8080"], USAGE, ("not supported",))])
        else:
            add([
                Row(bench, ["http"], USAGE, ("--port",)),
                Row(bench, ["http", "--port", str(ctx.busy_port)], RUNTIME,
                    ("address already in use",)),
            ])
        if stage < "08":
            add([Row(bench, ["yield_many", "--threads", "2"], USAGE, ("--threads",))])
        else:
            add([Row(bench, ["yield_many", "--threads", "2", "--scheduling", "lottery"], USAGE,
                     ("lottery",))])

    # The snippet checker: a subcommand is required.
    snippets = "tools/snippets/snippets"
    add([
        Row(snippets, [], USAGE, ("subcommand",)),
        Row(snippets, ["chek"], USAGE, ("chek",)),
        Row(snippets, ["check", "--no-such-option"], USAGE, ("--no-such-option",)),
        Row(snippets, ["check", "--root"], USAGE, ("--root",)),
        Row(snippets, ["check", "--root", ctx.missing], USAGE, ("no-such-file",)),
        Row(snippets, ["outputs", "--root", ctx.source_root, "--build", ctx.missing], USAGE,
            ("no-such-file",)),
    ])

    # The tutor program, each command given a bad command line. None of these rows gets as far
    # as building or running anything.
    tutor = "tools/tutor/tutor"
    root = ["--root", ctx.source_root]
    add([
        Row(tutor, ["--no-such-option"], USAGE, ("--no-such-option",)),
        Row(tutor, ["chek"], USAGE, ("check",)),
        Row(tutor, ["--root"], USAGE, ("--root",)),
        Row(tutor, ["--root", ctx.a_folder, "list"], USAGE, ("a-folder",)),
        Row(tutor, root + ["status", "surplus"], USAGE, ("surplus",)),
        Row(tutor, root + ["list", "--no-such-option"], USAGE, ("--no-such-option",)),
        Row(tutor, root + ["hint", "99-99"], USAGE, ("99-99",)),
        Row(tutor, root + ["hint", "01-01", "surplus"], USAGE, ("surplus",)),
        Row(tutor, root + ["check", "99-99"], USAGE, ("99-99",)),
        Row(tutor, root + ["check", "--asan", "--tsan", "01-01"], USAGE, ("--tsan",)),
        Row(tutor, root + ["watch", "no-such-exercise"], USAGE, ("no-such-exercise",)),
        Row(tutor, root + ["run"], USAGE, ("target",)),
        Row(tutor, root + ["run", "99"], USAGE, ("99",)),
        Row(tutor, root + ["reset"], USAGE, ("exercise",)),
        Row(tutor, root + ["reset", "99-99"], USAGE, ("99-99",)),
        Row(tutor, root + ["diff", "01"], USAGE, ("MM",)),
        Row(tutor, root + ["diff", "01", "99"], USAGE, ("99",)),
        Row(tutor, root + ["test", "--repeat"], USAGE, ("--repeat",)),
        Row(tutor, root + ["test", "--repeat", "many"], USAGE, ("many",)),
        Row(tutor, root + ["test", "--repeat", "0"], USAGE, ("0",)),
        Row(tutor, root + ["test", "--repeat", HUGE], USAGE, (HUGE,)),
        Row(tutor, root + ["bench", "--threads", "-1"], USAGE, ("-1",)),
        Row(tutor, root + ["bench", "--rounds", "3"], USAGE, ("--vs-tokio",)),
        Row(tutor, root + ["bench", "--vs-tokio", "--rounds", "0"], USAGE, ("0",)),
        Row(tutor, root + ["bench", "--stage", "99"], USAGE, ("99",)),
        Row(tutor, root + ["bench", "no_such_workload"], USAGE, ("no_such_workload",)),
        Row(tutor, root + ["bench", "--stage", "04", "--markdown", ctx.a_folder, "yield_many"],
            RUNTIME, ("a-folder",)),
        Row(tutor, root + ["bench", "--stage", "04", "--markdown", ctx.unwritable,
                           "yield_many"], RUNTIME, ("permission denied",), ctx.root_skip),
    ])
    return rows


# ---- Running the rows ----------------------------------------------------------------------

def run_row(row, executable, cwd, env):
    """Runs one row; returns (verdict, detail): verdict is 'ok', 'FAIL' or 'skip'."""
    if row.skip:
        return "skip", row.skip
    try:
        process = subprocess.Popen([executable] + row.args, cwd=cwd, env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True)
    except OSError as error:
        return "FAIL", "cannot start it: %s" % error
    try:
        out, err = process.communicate(timeout=ROW_DEADLINE_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        _, err = process.communicate()
        err = err.decode("utf-8", "replace").strip().splitlines()[:6]
        return "FAIL", ("still running after %d s: a hang, or it started for real"
                        % ROW_DEADLINE_S + "\n      stderr: " + ("\n      ".join(err) or "(empty)"))
    out = out.decode("utf-8", "replace")
    err = err.decode("utf-8", "replace")
    first_line = err.strip().splitlines()[0] if err.strip() else ""
    problems = []
    if process.returncode < 0:
        problems.append("killed by signal %s" % signal.Signals(-process.returncode).name)
    elif process.returncode != row.code:
        problems.append("exit code %d, expected %d" % (process.returncode, row.code))
    for report in SANITIZER_REPORTS:
        if report in out or report in err:
            problems.append("a sanitizer report (%s)" % report)
    if not err.strip():
        problems.append("nothing on stderr")
    else:
        for mention in row.mentions:
            if mention.lower() not in err.lower():
                problems.append("stderr does not mention %r" % mention)
    if problems:
        detail = "; ".join(problems)
        detail += "\n      stderr: " + ("\n      ".join(err.strip().splitlines()[:12]) or "(empty)")
        if out.strip():
            detail += "\n      stdout: " + "\n      ".join(out.strip().splitlines()[:6])
        return "FAIL", detail
    return "ok", first_line


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source-root", required=True)
    parser.add_argument("--build-root", required=True)
    parser.add_argument("--jobs", type=int, default=4, help="rows run at the same time")
    parser.add_argument("programs", nargs="+", help="the programs, by their full paths")
    options = parser.parse_args()

    build_root = os.path.realpath(options.build_root)
    given = {}
    for path in options.programs:
        given[os.path.relpath(os.path.realpath(path), build_root)] = os.path.abspath(path)

    env = dict(os.environ)
    env.pop("TUTOR_ROOT", None)  # the tutor rows say --root, or find no project
    env["NO_COLOR"] = "1"

    failures = 0
    rows = []
    counts = {"ok": 0, "FAIL": 0, "skip": 0}
    with tempfile.TemporaryDirectory(prefix="bad-command-lines-") as scratch:
        ctx = Context(os.path.realpath(options.source_root), scratch)
        try:
            rows = table(ctx)
            in_table = {row.program for row in rows}
            for program in sorted(set(given) - in_table):
                print("FAIL %s: no rows in the table of %s" % (program, __file__))
                failures += 1
            for program in sorted(in_table - set(given)):
                if program.startswith("tools/bench/bench-"):  # built on demand (tools/bench)
                    print("skip %s: not built by default" % program)
                    continue
                print("FAIL %s: in the table, but meson did not pass it" % program)
                failures += 1
            rows = [row for row in rows if row.program in given]

            def run(row):
                return run_row(row, given[row.program], scratch, env)

            with concurrent.futures.ThreadPoolExecutor(max_workers=options.jobs) as pool:
                for row, (verdict, detail) in zip(rows, pool.map(run, rows)):
                    counts[verdict] += 1
                    command = " ".join([row.program] + row.args).replace(scratch + "/", "")
                    print("%-4s %s -> %d: %s" % (verdict, command, row.code, detail), flush=True)
        finally:
            ctx.close()
    failures += counts["FAIL"]
    print("\n%d rows: %d ok, %d failed, %d skipped; %d programs"
          % (len(rows), counts["ok"], counts["FAIL"], counts["skip"], len(given)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
