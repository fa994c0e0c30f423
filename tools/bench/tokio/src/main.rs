//! The project's Tokio program: every workload of tools/bench/WORKLOADS.md, written with
//! Tokio, with the command line and the output of the C++ benchmark program (bench.cpp), so
//! that `tutor bench --vs-tokio` can run the two in turns and put their figures side by side.
//!
//! Usage: `tokio-bench WORKLOAD [--threads N] [--port P]`. `--threads 0` is Tokio's
//! current-thread runtime, `N >= 1` its multi-threaded runtime with N workers. For every
//! workload it prints one line, `workload value unit`, the median of 7 timed repetitions
//! after one untimed warm-up; everything else goes to stderr. Bad input exits with code 2.
//!
//! Each workload is written the way bench.cpp writes it, so that the two programs do the same
//! work: the same counts, the same channels, a runtime built once per workload and reused by
//! every repetition, the same thread doing the same part. Where Rust asks for something C++
//! does not (a task must own what it uses: `'static`), shared state is a `static` or a leaked
//! reference, as cheap as the pointer a C++ lambda captures, never an `Arc` cloned per task.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::{oneshot, Notify};

/// Timed repetitions per workload, after one untimed warm-up (WORKLOADS.md).
const REPETITIONS: usize = 7;

const USAGE: &str = "\
The benchmark workloads of tools/bench/WORKLOADS.md on Tokio. Prints one 'workload value unit'
line per workload (median of 7 repetitions after a warm-up); progress goes to stderr.

usage: tokio-bench WORKLOAD [--threads N] [--port P]

  WORKLOAD     spawn_many, spawn_remote, yield_many, ping_pong, chained_spawn, timeout_ready,
               sleep_many, blocking_many, file_read, idle_memory, http, or all (every one but
               idle_memory and http)
  --threads N  0: Tokio's current-thread runtime (default); N >= 1: the multi-threaded
               runtime with N worker threads
  --port P     the port the http workload serves on 127.0.0.1 (required for http)
";

// ---- The command line ------------------------------------------------------------------------

/// What the command line asks for.
struct Options {
    workload: String,
    threads: usize,
    port: Option<u16>,
}

/// Reads the arguments after the program's name: `Ok(None)` for --help, `Err` with the
/// message for bad input.
fn parse_options(args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut workload = None;
    let mut threads = 0usize;
    let mut port = None;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        // "--threads 2" and "--threads=2" both.
        let (name, inline_value) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline_value
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value ({what})"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--threads" => {
                let text = value("a number of worker threads, 0 to 256")?;
                threads = match text.parse::<usize>() {
                    Ok(n) if n <= 256 => n,
                    _ => return Err(format!("--threads {text}: expected a number from 0 to 256")),
                };
            }
            "--port" => {
                let text = value("a port, 1 to 65535")?;
                port = match text.parse::<u16>() {
                    Ok(p) if p >= 1 => Some(p),
                    _ => return Err(format!("--port {text}: expected a port from 1 to 65535")),
                };
            }
            _ if name.starts_with('-') => {
                return Err(format!(
                    "unknown option '{name}'; run with --help for the options"
                ))
            }
            _ if workload.is_none() => workload = Some(arg),
            _ => {
                return Err(format!(
                    "one workload at a time (or all): '{arg}' is one too many"
                ))
            }
        }
    }
    match workload {
        Some(workload) => Ok(Some(Options {
            workload,
            threads,
            port,
        })),
        None => Err("which workload? run with --help for the list".to_string()),
    }
}

/// The runtime of `--threads`: current-thread for 0, multi-threaded with that many workers
/// otherwise; timers and sockets enabled, as bench.cpp's executor always has them.
fn build_runtime(threads: usize) -> std::io::Result<Runtime> {
    let mut builder = if threads == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    if threads > 0 {
        builder.worker_threads(threads);
    }
    builder.enable_all().build()
}

// ---- Measuring -------------------------------------------------------------------------------

/// Runs `once` (which returns its own measurement) once to warm up, then REPETITIONS times,
/// and returns the median.
fn median_of(mut once: impl FnMut() -> f64) -> f64 {
    once();
    let mut samples: Vec<f64> = (0..REPETITIONS).map(|_| once()).collect();
    samples.sort_by(|a, b| a.partial_cmp(b).expect("a time is a number"));
    samples[samples.len() / 2]
}

/// `elapsed` per operation, in nanoseconds.
fn ns_per(elapsed: Duration, operations: usize) -> f64 {
    elapsed.as_nanos() as f64 / operations as f64
}

/// Runs `future` on `rt` from this thread and returns how long it took.
fn timed<F: Future>(rt: &Runtime, future: F) -> Duration {
    let start = Instant::now();
    rt.block_on(future);
    start.elapsed()
}

/// A blocking (not async) signal, set by one thread and waited for by another, once per
/// repetition: std's mutex and condition variable, nothing of Tokio's.
struct Signal {
    set: Mutex<bool>,
    changed: Condvar,
}

impl Signal {
    const fn new() -> Signal {
        Signal {
            set: Mutex::new(false),
            changed: Condvar::new(),
        }
    }

    fn set(&self) {
        *self.set.lock().expect("no thread panics holding it") = true;
        self.changed.notify_one();
    }

    /// Waits until set, and resets it for the next repetition.
    fn wait(&self) {
        let mut set = self.set.lock().expect("no thread panics holding it");
        while !*set {
            set = self.changed.wait(set).expect("no thread panics holding it");
        }
        *set = false;
    }
}

/// A `Notify` that lives as long as the program: tasks keep a plain reference to it.
fn leaked_notify() -> &'static Notify {
    Box::leak(Box::new(Notify::new()))
}

// ---- spawn_many ------------------------------------------------------------------------------
// From inside a task, spawn 100,000 tasks; the last one to run signals the main thread, which
// waits on a blocking Signal. As in bench.cpp the runtime is driven by a thread of its own,
// made once: each repetition is one block_on there, started by the main thread.

static SPAWN_MANY_LEFT: AtomicUsize = AtomicUsize::new(0);
static SPAWN_MANY_DONE: Signal = Signal::new();

fn spawn_many(rt: &Runtime) -> f64 {
    const N: usize = 100_000;
    let all_ran = leaked_notify(); // ends the repetition's block_on, without polling it in a loop
    let (start_tx, start_rx) = mpsc::channel::<bool>(); // true: one repetition; false: quit
    let (finished_tx, finished_rx) = mpsc::channel::<()>(); // the block_on has returned
    thread::scope(|scope| {
        scope.spawn(move || {
            while let Ok(true) = start_rx.recv() {
                rt.block_on(async move {
                    tokio::spawn(async move {
                        for _ in 0..N {
                            tokio::spawn(async move {
                                if SPAWN_MANY_LEFT.fetch_sub(1, Ordering::Relaxed) == 1 {
                                    SPAWN_MANY_DONE.set();
                                    all_ran.notify_one();
                                }
                            });
                        }
                    });
                    all_ran.notified().await;
                });
                finished_tx.send(()).expect("the main thread waits for it");
            }
        });
        let figure = median_of(|| {
            SPAWN_MANY_LEFT.store(N, Ordering::Relaxed); // published by the send below
            let start = Instant::now();
            start_tx
                .send(true)
                .expect("the runtime's thread waits for it");
            SPAWN_MANY_DONE.wait();
            let elapsed = start.elapsed();
            finished_rx.recv().expect("the runtime's thread sends it");
            ns_per(elapsed, N)
        });
        start_tx
            .send(false)
            .expect("the runtime's thread waits for it");
        figure
    })
}

// ---- spawn_remote ----------------------------------------------------------------------------
// The main thread spawns 100,000 empty tasks through the runtime's Handle, from outside the
// runtime, keeping the JoinHandles, then spawns (the same way) one more task that awaits them
// in order and signals the main thread. As in bench.cpp, a thread of its own, made once, runs
// the runtime in one block_on for every repetition, so each spawn takes Tokio's remote path:
// the injection queue, and the unpark of the runtime (with --threads 0, its driver, parked in
// epoll_wait whenever it has nothing to do; with workers, a parked worker).

static REMOTE_DONE: Signal = Signal::new();

fn spawn_remote(rt: &Runtime) -> f64 {
    const N: usize = 100_000;
    let (quit_tx, quit_rx) = oneshot::channel::<()>();
    thread::scope(|scope| {
        scope.spawn(move || {
            rt.block_on(async move {
                let _ = quit_rx.await;
            })
        });
        let handle = rt.handle();
        let figure = median_of(|| {
            let start = Instant::now();
            let mut joins = Vec::with_capacity(N);
            for _ in 0..N {
                joins.push(handle.spawn(async {}));
            }
            handle.spawn(async move {
                for join in joins {
                    join.await
                        .expect("an empty task neither panics nor is aborted");
                }
                REMOTE_DONE.set();
            });
            REMOTE_DONE.wait();
            ns_per(start.elapsed(), N)
        });
        let _ = quit_tx.send(()); // ends the runtime thread's block_on
        figure
    })
}

// ---- yield_many ------------------------------------------------------------------------------

fn yield_many(rt: &Runtime) -> f64 {
    const TASKS: usize = 200;
    const YIELDS: usize = 1_000;
    median_of(|| {
        let elapsed = timed(rt, async {
            let mut handles = Vec::with_capacity(TASKS);
            for _ in 0..TASKS {
                handles.push(tokio::spawn(async {
                    for _ in 0..YIELDS {
                        tokio::task::yield_now().await;
                    }
                }));
            }
            for handle in handles {
                handle.await.expect("a yielding task does not fail");
            }
        });
        ns_per(elapsed, TASKS * YIELDS)
    })
}

// ---- ping_pong -------------------------------------------------------------------------------
// 10,000 tasks, each with a responder of its own and two oneshot channels between them; the
// last to finish sends on the channel that block_on awaits.

static PINGS_LEFT: AtomicUsize = AtomicUsize::new(0);
static PINGS_DONE: Mutex<Option<oneshot::Sender<()>>> = Mutex::new(None);

fn ping_pong(rt: &Runtime) -> f64 {
    const PINGS: usize = 10_000;
    median_of(|| {
        let elapsed = timed(rt, async {
            let (done_tx, done_rx) = oneshot::channel::<()>();
            *PINGS_DONE.lock().expect("no task panics holding it") = Some(done_tx);
            PINGS_LEFT.store(PINGS, Ordering::Relaxed);
            for _ in 0..PINGS {
                tokio::spawn(async {
                    let (ping_tx, ping_rx) = oneshot::channel::<()>();
                    let (pong_tx, pong_rx) = oneshot::channel::<()>();
                    tokio::spawn(async move {
                        ping_rx.await.expect("the pinger sends");
                        let _ = pong_tx.send(());
                    });
                    let _ = ping_tx.send(());
                    pong_rx.await.expect("the responder sends");
                    if PINGS_LEFT.fetch_sub(1, Ordering::AcqRel) == 1 {
                        let done = PINGS_DONE.lock().expect("no task panics holding it").take();
                        if let Some(done) = done {
                            let _ = done.send(());
                        }
                    }
                });
            }
            done_rx.await.expect("the last task sends");
        });
        ns_per(elapsed, PINGS)
    })
}

// ---- chained_spawn ---------------------------------------------------------------------------

/// Spawns the next link of the chain, or, at its end, sends on `done`.
fn chain(done: oneshot::Sender<()>, left: usize) {
    if left == 0 {
        let _ = done.send(());
        return;
    }
    tokio::spawn(async move { chain(done, left - 1) });
}

fn chained_spawn(rt: &Runtime) -> f64 {
    const DEPTH: usize = 100_000;
    median_of(|| {
        let elapsed = timed(rt, async {
            let (done_tx, done_rx) = oneshot::channel::<()>();
            chain(done_tx, DEPTH);
            done_rx.await.expect("the chain's end sends");
        });
        ns_per(elapsed, DEPTH)
    })
}

// ---- timeout_ready ---------------------------------------------------------------------------

fn timeout_ready(rt: &Runtime) -> f64 {
    const N: usize = 1_000_000;
    median_of(|| {
        let elapsed = timed(rt, async {
            tokio::spawn(async {
                let mut sum = 0usize;
                for i in 0..N {
                    sum += tokio::time::timeout(Duration::from_secs(1), std::future::ready(i))
                        .await
                        .expect("a ready future beats a 1-second timeout");
                }
                if sum == 0 {
                    eprintln!("impossible"); // keeps the loop's work
                }
            })
            .await
            .expect("the task does not fail");
        });
        ns_per(elapsed, N)
    })
}

// ---- sleep_many ------------------------------------------------------------------------------

fn sleep_many(rt: &Runtime) -> f64 {
    const N: u64 = 100_000;
    median_of(|| {
        let elapsed = timed(rt, async {
            let mut handles = Vec::with_capacity(N as usize);
            for i in 0..N {
                let duration = Duration::from_micros((i * 7919) % 50_000);
                handles.push(tokio::spawn(
                    async move { tokio::time::sleep(duration).await },
                ));
            }
            for handle in handles {
                handle.await.expect("a sleeping task does not fail");
            }
        });
        elapsed.as_secs_f64() * 1e3 // milliseconds, in all
    })
}

// ---- blocking_many ---------------------------------------------------------------------------

fn blocking_many(rt: &Runtime) -> f64 {
    const N: usize = 10_000;
    median_of(|| {
        let elapsed = timed(rt, async {
            tokio::spawn(async {
                let handles: Vec<_> = (0..N)
                    .map(|i| tokio::task::spawn_blocking(move || i))
                    .collect();
                let mut sum = 0usize;
                for handle in handles {
                    sum += handle.await.expect("the closure does not panic");
                }
                assert_eq!(sum, N * (N - 1) / 2, "every closure's value, once");
            })
            .await
            .expect("the task does not fail");
        });
        ns_per(elapsed, N)
    })
}

// ---- file_read -------------------------------------------------------------------------------

/// A file in the temporary folder, removed when this goes.
struct TemporaryFile(PathBuf);

impl Drop for TemporaryFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn file_read(rt: &Runtime) -> f64 {
    const SIZE: usize = 256 * 1024;
    const READS: usize = 1_000;
    let path = std::env::temp_dir().join(format!("tokio-bench-{}.bin", std::process::id()));
    let contents: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    if let Err(error) = std::fs::write(&path, &contents) {
        eprintln!("tokio-bench: cannot write {}: {error}", path.display());
        std::process::exit(1);
    }
    let file = TemporaryFile(path);
    median_of(|| {
        let path = file.0.clone();
        let elapsed = timed(rt, async move {
            tokio::spawn(async move {
                for _ in 0..READS {
                    read_whole(&path, SIZE).await;
                }
            })
            .await
            .expect("the task does not fail");
        });
        elapsed.as_secs_f64() * 1e6 / READS as f64 // microseconds per read
    })
}

/// Opens `path` and reads it to the end, as the seed's `File::open` and `read_to_end`.
async fn read_whole(path: &Path, expected: usize) {
    let mut file = tokio::fs::File::open(path)
        .await
        .expect("the file was just written");
    let mut data = Vec::new();
    file.read_to_end(&mut data).await.expect("the file reads");
    assert_eq!(data.len(), expected, "the whole file");
}

// ---- idle_memory -----------------------------------------------------------------------------
// 1,000,000 tasks, each waiting on one event (a Notify: each waiter is a node inside its own
// future, as bench.cpp's Event); resident memory per task once all have started. Measured
// once, not 7 times (WORKLOADS.md).

static IDLE_STARTED: AtomicUsize = AtomicUsize::new(0);

fn idle_memory(rt: &Runtime) -> f64 {
    const N: usize = 1_000_000;
    let event = leaked_notify();
    let all_started = leaked_notify();
    IDLE_STARTED.store(0, Ordering::Relaxed);
    let before = rss_kb();
    let handles = rt.block_on(async move {
        let mut spawned = Vec::with_capacity(N);
        for _ in 0..N {
            spawned.push(tokio::spawn(async move {
                // A Notified receives notify_waiters() from its creation on, polled or not,
                // so the event cannot be missed by a task that has counted itself started.
                let wait = event.notified();
                if IDLE_STARTED.fetch_add(1, Ordering::AcqRel) + 1 == N {
                    all_started.notify_one();
                }
                wait.await;
            }));
        }
        all_started.notified().await;
        spawned
    });
    let after = rss_kb();
    rt.block_on(async move {
        event.notify_waiters();
        for handle in handles {
            handle.await.expect("a waiting task does not fail");
        }
    });
    (after.saturating_sub(before)) as f64 * 1024.0 / N as f64
}

/// The process's resident memory in KiB: `VmRSS` in /proc/self/status (0 if unreadable).
fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

// ---- http ------------------------------------------------------------------------------------
// Not timed here: serve HTTP/1.1 on 127.0.0.1:PORT until killed; wrk is the load. Every
// request (everything up to "\r\n\r\n") on a keep-alive connection gets the same 78-byte
// response; the requests that end in one read are answered with one write, as bench.cpp's
// server does. No timeouts: the workload does not need them (bench.cpp's server has them).

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";
const READ_BUFFER: usize = 8 * 1024;
/// The most requests that can end in one read: the first may need one byte, every other 4.
const MAX_REQUESTS_PER_READ: usize = (READ_BUFFER + 3) / 4;

fn serve_http(rt: &Runtime, port: u16) -> ExitCode {
    assert_eq!(RESPONSE.len(), 78);
    // The responses to N requests are the first N copies of a block made once.
    let responses: &'static [u8] = RESPONSE.repeat(MAX_REQUESTS_PER_READ).leak();
    rt.block_on(async move {
        let listener = match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("tokio-bench: cannot listen on 127.0.0.1:{port}: {error}");
                return ExitCode::from(1);
            }
        };
        eprintln!("tokio-bench: serving HTTP/1.1 on 127.0.0.1:{port}");
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true); // as bench.cpp's server
                    tokio::spawn(serve_connection(stream, responses));
                }
                Err(error) => {
                    // Out of descriptors, or a connection reset before it was accepted: go on.
                    eprintln!("tokio-bench: accept: {error}");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    })
}

/// One connection: read, count the requests that ended, answer them with one write; until
/// the client closes or a read or write fails.
async fn serve_connection(mut stream: TcpStream, responses: &'static [u8]) {
    let mut buffer = [0u8; READ_BUFFER];
    let mut matched = 0; // how much of "\r\n\r\n" the bytes read so far end with
    loop {
        let read = match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        let ended = count_request_ends(&buffer[..read], &mut matched);
        if ended > 0
            && stream
                .write_all(&responses[..ended * RESPONSE.len()])
                .await
                .is_err()
        {
            return;
        }
    }
}

/// How many times "\r\n\r\n" ends in `bytes`, given that the bytes before them ended with
/// its first `*matched` bytes; updates `*matched` for the next read.
fn count_request_ends(bytes: &[u8], matched: &mut usize) -> usize {
    const END: &[u8; 4] = b"\r\n\r\n";
    let mut ends = 0;
    for &byte in bytes {
        if byte == END[*matched] {
            *matched += 1;
            if *matched == END.len() {
                ends += 1;
                *matched = 0;
            }
        } else {
            // Only a '\r' can begin the pattern again.
            *matched = usize::from(byte == b'\r');
        }
    }
    ends
}

// ---- main ------------------------------------------------------------------------------------

/// A workload: its name, its unit, and what measures it on a runtime.
struct Workload {
    name: &'static str,
    unit: &'static str,
    figure: fn(&Runtime) -> f64,
    in_all: bool,
}

/// WORKLOADS.md's table, in its order; http is served, not measured (see main).
const WORKLOADS: &[Workload] = &[
    Workload {
        name: "spawn_many",
        unit: "ns/task",
        figure: spawn_many,
        in_all: true,
    },
    Workload {
        name: "spawn_remote",
        unit: "ns/task",
        figure: spawn_remote,
        in_all: true,
    },
    Workload {
        name: "yield_many",
        unit: "ns/yield",
        figure: yield_many,
        in_all: true,
    },
    Workload {
        name: "ping_pong",
        unit: "ns/ping",
        figure: ping_pong,
        in_all: true,
    },
    Workload {
        name: "chained_spawn",
        unit: "ns/spawn",
        figure: chained_spawn,
        in_all: true,
    },
    Workload {
        name: "timeout_ready",
        unit: "ns/op",
        figure: timeout_ready,
        in_all: true,
    },
    Workload {
        name: "sleep_many",
        unit: "ms_total",
        figure: sleep_many,
        in_all: true,
    },
    Workload {
        name: "idle_memory",
        unit: "bytes/task",
        figure: idle_memory,
        in_all: false,
    },
    Workload {
        name: "blocking_many",
        unit: "ns/op",
        figure: blocking_many,
        in_all: true,
    },
    Workload {
        name: "file_read",
        unit: "us/read",
        figure: file_read,
        in_all: true,
    },
];

fn main() -> ExitCode {
    let options = match parse_options(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("tokio-bench: {message}");
            return ExitCode::from(2);
        }
    };
    // As bench.cpp does: start and join one thread first. Until a process has had a second
    // thread, the C library's malloc skips its arena lock (glibc's __libc_single_threaded), and
    // libstdc++ its atomic reference counts; bench.cpp runs every workload in a process that
    // has had one, so this one does too.
    thread::spawn(|| {})
        .join()
        .expect("an empty thread does not panic");
    let runtime = |threads| match build_runtime(threads) {
        Ok(rt) => Some(rt),
        Err(error) => {
            eprintln!("tokio-bench: cannot build the runtime: {error}");
            None
        }
    };

    if options.workload == "http" {
        let port = match options.port {
            Some(port) => port,
            None => {
                eprintln!("tokio-bench: the http workload needs --port");
                return ExitCode::from(2);
            }
        };
        return match runtime(options.threads) {
            Some(rt) => serve_http(&rt, port),
            None => ExitCode::from(1),
        };
    }
    let chosen: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| w.name == options.workload || (options.workload == "all" && w.in_all))
        .collect();
    if chosen.is_empty() {
        eprintln!(
            "tokio-bench: unknown workload '{}'; run with --help for the list",
            options.workload
        );
        return ExitCode::from(2);
    }
    for workload in chosen {
        eprintln!("tokio-bench: running {}", workload.name);
        // A runtime per workload, as bench.cpp builds an executor per workload.
        let rt = match runtime(options.threads) {
            Some(rt) => rt,
            None => return ExitCode::from(1),
        };
        let value = (workload.figure)(&rt);
        drop(rt);
        println!("{} {:.1} {}", workload.name, value, workload.unit);
        let _ = std::io::stdout().flush();
    }
    ExitCode::SUCCESS
}
