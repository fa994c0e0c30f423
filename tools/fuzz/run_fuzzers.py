#!/usr/bin/env python3
"""The short fuzz run of `tutor test` (suite 'fuzz'; docs/reliability.md, "Fuzzed parsers").

Builds every libFuzzer target of tools/fuzz with clang++ into BUILD/fuzz/, then runs each for a
fixed number of inputs from a copy of its seed corpus (tools/fuzz/corpus/TARGET/), with a fixed
seed, so that a run is the same every time. Fails, printing the input and where it was saved,
when a target finds one that crashes it or breaks one of the properties it checks.

Without clang++, or with a clang++ that cannot link -fsanitize=fuzzer, it prints why and exits
with 77, which meson reports as SKIP. A target is compiled again only when its source or a file
it includes changed (clang's -MD depfile lists them).

    run_fuzzers.py --source-root . --build-root build [--runs-scale 1] [--only TARGET]
    run_fuzzers.py --source-root . --build-root build --seconds 600 [--jobs 2]   # a long run

A long run (--seconds) fuzzes each target for that long instead of a number of runs, with a
seed of libFuzzer's choosing and --jobs processes; what it finds is saved and printed the same
way, and the inputs it adds stay in BUILD/fuzz/TARGET.corpus/ (start from there again with
--keep-corpus).
"""
import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77

# name -> its source, other sources ("sources"), include folders (relative to the source root),
# extra compiler flags ("flags"), its seed corpus (tools/fuzz/corpus/NAME), runs, max_len.
# The runs are counted so that the whole suite takes well under a minute on two cores.
TARGETS = {
    "http_request_head_10": {
        "source": "tools/fuzz/http_request_head.cpp",
        "includes": ["chapters/10-observability"],
        "corpus": "http_request_head",
        "runs": 8000,
        "max_len": 9000,
    },
    "http_request_head_06": {
        "source": "tools/fuzz/http_request_head.cpp",
        "includes": ["chapters/06-timers"],
        "corpus": "http_request_head",
        "runs": 4000,
        "max_len": 9000,
    },
    "json_reader": {
        "source": "tools/fuzz/json_reader.cpp",
        "sources": ["tools/tutor/json.cpp"],
        "includes": ["tools/tutor"],
        "corpus": "json_reader",
        "runs": 20000,
        "max_len": 4096,
    },
    "line_protocol": {
        "source": "tools/fuzz/line_protocol.cpp",
        "includes": ["solutions/05-epoll-reactor/01-line-protocol", "chapters/05-epoll-reactor",
                     "common/include"],
        # clang 14 cannot assemble UBSan's function check in coroutines ("Cannot represent a
        # difference across sections"), so that one check is left out here.
        "flags": ["-fno-sanitize=function"],
        "corpus": "line_protocol",
        "runs": 3000,
        "max_len": 512,
    },
}

FLAGS = ["-std=c++20", "-O1", "-g", "-fsanitize=fuzzer,address,undefined",
         "-fno-sanitize-recover=undefined"]


def find_clang():
    """clang++ from PATH (CXX_FUZZ may name another), or None."""
    name = os.environ.get("CXX_FUZZ", "clang++")
    return shutil.which(name)


def can_link_fuzzer(clang, out_dir):
    """Whether clang links a trivial fuzz target (libclang_rt.fuzzer may be missing)."""
    source = os.path.join(out_dir, "probe.cpp")
    with open(source, "w") as f:
        f.write('#include <cstddef>\n#include <cstdint>\n'
                'extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) '
                '{ return 0; }\n')
    result = subprocess.run([clang, *FLAGS, source, "-o", os.path.join(out_dir, "probe")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return result.returncode == 0, result.stdout


def depfile_inputs(path):
    """The files a target was built from, read from clang's -MD depfile (None if unreadable)."""
    try:
        with open(path) as f:
            text = f.read().replace("\\\n", " ")
    except OSError:
        return None
    _, _, deps = text.partition(": ")
    return [d.replace("\\ ", " ") for d in deps.split()]


def up_to_date(binary, depfile, command_file, command):
    """Whether `binary` is newer than everything it was built from, with the same command."""
    if not os.path.exists(binary):
        return False
    try:
        with open(command_file) as f:
            if f.read() != "\n".join(command):
                return False
    except OSError:
        return False
    deps = depfile_inputs(depfile)
    if not deps:
        return False
    built = os.path.getmtime(binary)
    for dep in deps:
        try:
            if os.path.getmtime(dep) > built:
                return False
        except OSError:
            return False  # a file it was built from is gone
    return True


def build(clang, root, out_dir, name, target):
    """Compile `target` into out_dir/name unless up to date; (ok, message)."""
    binary = os.path.join(out_dir, name)
    depfile = binary + ".d"
    command_file = binary + ".command"
    sources = [os.path.join(root, target["source"])]
    sources += [os.path.join(root, s) for s in target.get("sources", [])]
    includes = ["-I" + os.path.join(root, i) for i in target["includes"]]
    flags = FLAGS + target.get("flags", [])
    command = [clang, *flags, *includes, *sources, "-o", binary, "-MD", "-MF", depfile]
    if up_to_date(binary, depfile, command_file, command):
        return True, f"{name}: up to date"
    # Built under another name, then renamed: a run that started meanwhile keeps its binary.
    building = binary + ".new"
    command_new = [building if c == binary else c for c in command]
    if len(sources) > 1:
        # -MD with several sources writes one depfile per object; gather them into one.
        objects, dep_lines = [], []
        for i, source in enumerate(sources):
            obj = f"{binary}.{i}.o"
            result = subprocess.run([clang, *flags, *includes, "-c", source, "-o", obj,
                                     "-MD", "-MF", obj + ".d"],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if result.returncode != 0:
                return False, f"{name}: compiling {source} failed:\n{result.stdout}"
            objects.append(obj)
            dep_lines += depfile_inputs(obj + ".d") or []
        result = subprocess.run([clang, *flags, *objects, "-o", building],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode == 0:
            with open(depfile, "w") as f:
                f.write(binary + ": " + " ".join(d.replace(" ", "\\ ") for d in dep_lines) + "\n")
    else:
        result = subprocess.run(command_new, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
    if result.returncode != 0:
        return False, f"{name}: compiling failed:\n{result.stdout}"
    os.replace(building, binary)
    with open(command_file, "w") as f:
        f.write("\n".join(command))
    return True, f"{name}: compiled"


def escaped(data, limit=512):
    """`data` as a Python bytes literal, cut at `limit` bytes."""
    shown = repr(data[:limit])
    return shown + (f" ... ({len(data)} bytes)" if len(data) > limit else "")


def run(root, out_dir, name, target, args):
    """Run the target on a copy of its corpus; (ok, message)."""
    binary = os.path.join(out_dir, name)
    corpus = os.path.join(root, "tools", "fuzz", "corpus", target["corpus"])
    work = os.path.join(out_dir, name + ".corpus")
    if args.seconds:
        # A long run keeps its corpus and findings in BUILD/fuzz/, to be started from again.
        artifacts = os.path.join(out_dir, name + ".crashes")
        if not (args.keep_corpus and os.path.isdir(work)):
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(corpus, work)  # grows as it runs: never the checked-in corpus
        os.makedirs(artifacts, exist_ok=True)
    else:
        # The short run works in a folder of its own, so runs at once (--repeat) do not meet.
        scratch = tempfile.mkdtemp(prefix=name + ".", dir=out_dir)
        work = os.path.join(scratch, "corpus")
        artifacts = os.path.join(scratch, "crashes")
        shutil.copytree(corpus, work)  # grows as it runs: never the checked-in corpus
        os.makedirs(artifacts)
    artifacts += os.sep
    if args.seconds:
        runs = f"{args.seconds} s"
        budget = [f"-max_total_time={args.seconds}"]
        if args.jobs > 1:
            budget += [f"-jobs={args.jobs}", f"-workers={args.jobs}"]
    else:
        runs = max(1, int(target["runs"] * args.runs_scale))
        budget = [f"-runs={runs}", "-seed=1"]
    command = [binary, *budget, f"-max_len={target['max_len']}", "-timeout=10",
               "-rss_limit_mb=2048", "-print_final_stats=1", f"-artifact_prefix={artifacts}", work]
    # With -jobs, libFuzzer writes each job's output to fuzz-N.log in its working folder.
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace", cwd=out_dir)
    found = sorted(os.listdir(artifacts))
    if result.returncode == 0 and not found:
        stats = [line for line in result.stdout.splitlines() if line.startswith("stat::")]
        added = [s.split()[-1] for s in stats if s.startswith("stat::new_units_added")]
        if not args.seconds:
            shutil.rmtree(scratch, ignore_errors=True)
        executed = [s.split()[-1] for s in stats
                    if s.startswith("stat::number_of_executed_units")]
        if args.seconds:
            return True, (f"{name}: ok, {runs}, {executed[0] if executed else '?'} inputs; "
                          f"the corpus is {len(os.listdir(work))} inputs")
        return True, f"{name}: ok, {runs} runs, {added[0] if added else '?'} new inputs"
    lines = [f"{name}: FAILED (exit code {result.returncode})", "  command: " + " ".join(command),
             "  fuzzer output (last 60 lines):"]
    lines += ["    " + line for line in result.stdout.splitlines()[-60:]]
    for artifact in found:
        path = os.path.join(artifacts, artifact)
        with open(path, "rb") as f:
            data = f.read()
        lines.append(f"  input that failed, saved in {path}:")
        lines.append("    " + escaped(data))
        lines.append(f"  hex: {data[:256].hex()}")
        lines.append(f"  to run it again: {binary} {path}")
    return False, "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-root", required=True)
    parser.add_argument("--build-root", required=True)
    parser.add_argument("--runs-scale", type=float, default=1.0,
                        help="multiply every target's number of runs")
    parser.add_argument("--only", action="append", help="run this target only (repeatable)")
    parser.add_argument("--seconds", type=int, default=0,
                        help="a long run: fuzz each target this long (no fixed runs nor seed)")
    parser.add_argument("--jobs", type=int, default=1, help="with --seconds: processes per target")
    parser.add_argument("--keep-corpus", action="store_true",
                        help="start from the corpus a previous run left in BUILD/fuzz/")
    args = parser.parse_args()
    root = os.path.abspath(args.source_root)
    out_dir = os.path.join(os.path.abspath(args.build_root), "fuzz")
    os.makedirs(out_dir, exist_ok=True)

    clang = find_clang()
    if clang is None:
        print("skipped: no clang++ on PATH, and the fuzz targets need clang's libFuzzer "
              "(install it with: apt-get install clang)")
        return SKIP
    ok, output = can_link_fuzzer(clang, out_dir)
    if not ok:
        print(f"skipped: {clang} cannot link -fsanitize=fuzzer (libclang_rt.fuzzer missing?); "
              "install clang from the distribution: apt-get install clang\n" + output)
        return SKIP

    names = args.only or list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        print("unknown target(s): " + ", ".join(unknown) + "; known: " + ", ".join(TARGETS))
        return 2
    failed = False
    for name in names:
        with open(os.path.join(out_dir, "build.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one compiler per target at a time (--repeat)
            ok, message = build(clang, root, out_dir, name, TARGETS[name])
        print(message, flush=True)
        if not ok:
            failed = True
            continue
        ok, message = run(root, out_dir, name, TARGETS[name], args)
        print(message, flush=True)
        failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
