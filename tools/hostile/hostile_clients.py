#!/usr/bin/env python3
"""Servers under hostile clients: one server program, started on 127.0.0.1, against clients
that reset mid-request, send one byte at a time, never finish a request, send a head larger
than the limit, open 2,000 connections at once, or stop reading while the server writes (and,
open more connections than the server has descriptors, or hold theirs through the HTTP
server's Ctrl-C); with well-behaved clients served alongside each of them. Guarantees of a passing
run: the server kept serving the well-behaved clients through every case, the echo server
lost no byte (SHA-256 of what each client sent against what came back), the HTTP server
closed what it must close, its memory stayed bounded, and it ended by the signal the test
sent with nothing on stderr from a sanitizer. docs/reliability.md describes each case.

Usage: hostile_clients.py echo [--retries-accept] [--ubsan] COMMAND [ARG...]
       hostile_clients.py http [--ctrl-c] [--ubsan] COMMAND [ARG...]
--retries-accept: the echo server tries a failed accept again (chapter 8's echo-server); the
test then also runs it out of descriptors, and every connection must still be served.
--ctrl-c: the server stops gracefully on SIGINT (chapter 9's http-server); the test then also
holds connections open through the Ctrl-C, and the server must exit with 0. Without it, the
server is stopped by SIGTERM.
--ubsan: the server is built with UBSan; the case that runs it out of descriptors is skipped.
The command must print "listening on 127.0.0.1:PORT" (stdout) or "serving HTTP/1.1 on
127.0.0.1:PORT" (stderr) once it listens, with --port 0 already among its arguments. For http,
the test appends --header-timeout-ms and --idle-timeout-ms to a second instance of the server,
the one that must time out silent clients.

No verdict depends on speed: every wait is bounded by a generous deadline (WAIT, 30 s) and fails
with a message when it passes; every loop is bounded. Standard library only, loopback only.
"""

import hashlib
import os
import random
import re
import resource
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

WAIT = 30.0  # seconds: the bound on every wait; a healthy server needs milliseconds
RSS_MARGIN_KB = 64 * 1024  # growth of the server's peak RSS allowed over one case
MANY = 2000  # connections opened at once
SCARCE = 128  # the server's limit on descriptors in the case of running out of them
HTTP_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
HTTP_RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\n"
                 b"Hello, World!")
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "ThreadSanitizer",
                   "UndefinedBehaviorSanitizer", "runtime error:")


class Failure(Exception):
    """A verdict against the server."""


def log(text):
    print(text, flush=True)


# --- The server process -----------------------------------------------------------------

class Server:
    """A server program, started, its address read from its output, its output kept."""

    def __init__(self, command, ctrl_c=False, descriptors=None):
        """ctrl_c: the server stops gracefully on SIGINT, and must then exit with 0 (chapter 9's
        http-server); otherwise it is stopped by SIGTERM. descriptors: if given, the server's
        soft and hard limit on open descriptors."""
        self.command = command
        self.ctrl_c = ctrl_c
        self.stopped = False  # stop() was called

        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (descriptors, descriptors))
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         stdin=subprocess.DEVNULL,
                                         preexec_fn=limit if descriptors else None)
        self.output = {"stdout": b"", "stderr": b""}
        self.lock = threading.Lock()
        self.readers = [threading.Thread(target=self._drain, args=(name, pipe), daemon=True)
                        for name, pipe in (("stdout", self.process.stdout),
                                           ("stderr", self.process.stderr))]
        for reader in self.readers:
            reader.start()
        self.port = self._wait_for_port()

    def _drain(self, name, pipe):
        for chunk in iter(lambda: pipe.read1(65536), b""):
            with self.lock:
                self.output[name] += chunk

    def text(self, name):
        with self.lock:
            return self.output[name].decode(errors="replace")

    def _wait_for_port(self):
        pattern = re.compile(r"(?:listening on|serving HTTP/1\.1 on) 127\.0\.0\.1:(\d+)")
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            for name in ("stdout", "stderr"):
                found = pattern.search(self.text(name))
                if found:
                    return int(found.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.01)
        self.process.kill()
        self.process.wait(WAIT)
        raise Failure(f"{self.command}: no 'listening on' line within {WAIT:.0f} s; stderr:\n"
                      + self.text("stderr"))

    def alive(self, case):
        if self.process.poll() is not None:
            raise Failure(f"the server ended during '{case}' (exit {self.process.returncode});"
                          " stderr:\n" + self.text("stderr"))

    def memory_kb(self, field):
        """VmRSS (now) or VmHWM (the peak so far) from /proc/PID/status, in KiB."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise Failure(f"no {field} in /proc/{self.process.pid}/status")

    def stop(self):
        """SIGTERM, then the verdict on how it ended: by that signal (its default action; the
        servers have no handler for it) or with 0; or, for a server that stops on Ctrl-C,
        SIGINT and then 0. And no sanitizer report. Only the first call stops and judges."""
        if self.stopped:
            return
        self.stopped = True
        stop = signal.SIGINT if self.ctrl_c else signal.SIGTERM
        if self.process.poll() is None:
            self.process.send_signal(stop)
        try:
            code = self.process.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(WAIT)
            raise Failure(f"the server did not end within {WAIT:.0f} s of {stop.name}")
        for reader in self.readers:
            reader.join(WAIT)
        errors = self.text("stderr")
        if any(mark in errors for mark in SANITIZER_MARKS):
            raise Failure("a sanitizer reported, on the server's stderr:\n" + errors)
        if code not in ((0,) if self.ctrl_c else (0, -signal.SIGTERM)):
            raise Failure(f"the server ended with {code} after {stop.name}; stderr:\n" + errors)


# --- Clients ------------------------------------------------------------------------------

def connect(port, blocking=True):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if blocking:
        sock.settimeout(WAIT)
        sock.connect(("127.0.0.1", port))
    else:
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
    return sock


def reset(sock):
    """Close with SO_LINGER 0: the kernel sends a reset, not an orderly end."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def exchange(socks, payloads, expected_lengths, chunks, case, close_when_served=False):
    """Drive every socket at once, on one thread: send its payload `chunks[i]` bytes per send
    (1: one byte at a time), read whatever comes back, until each has received
    expected_lengths[i] bytes. Returns what each received. Fails if WAIT passes first.
    close_when_served: close each socket as soon as it has received its bytes, which frees
    the server's descriptor for a connection still waiting to be accepted."""
    selector = selectors.DefaultSelector()
    sent = [0] * len(socks)
    received = [bytearray() for _ in socks]
    for i, sock in enumerate(socks):
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, i)
    left = len(socks)
    deadline = time.monotonic() + WAIT
    try:
        while left > 0:
            if time.monotonic() > deadline:
                behind = [i for i in range(len(socks)) if len(received[i]) < expected_lengths[i]]
                i = behind[0]
                raise Failure(f"'{case}': {len(behind)} of {len(socks)} clients not served "
                              f"within {WAIT:.0f} s; client {i} sent {sent[i]} of "
                              f"{len(payloads[i])} bytes and got {len(received[i])} of "
                              f"{expected_lengths[i]} back")
            for key, events in selector.select(timeout=1.0):
                i, sock = key.data, key.fileobj
                if events & selectors.EVENT_WRITE and sent[i] < len(payloads[i]):
                    try:
                        sent[i] += sock.send(payloads[i][sent[i]:sent[i] + chunks[i]])
                    except BlockingIOError:
                        pass
                    if sent[i] == len(payloads[i]):
                        selector.modify(sock, selectors.EVENT_READ, i)
                if events & selectors.EVENT_READ:
                    try:
                        got = sock.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError as error:
                        raise Failure(f"'{case}': client {i}: {error}")
                    if not got:
                        raise Failure(f"'{case}': client {i}: the server closed after "
                                      f"{len(received[i])} of {expected_lengths[i]} bytes")
                    received[i] += got
                    if len(received[i]) >= expected_lengths[i]:
                        selector.unregister(sock)
                        if close_when_served:
                            sock.close()
                        left -= 1
    finally:
        selector.close()
    return received


def read_to_end(sock, case, limit=1 << 30):
    """Everything the server sends until it closes (an end of stream or a reset), bounded by
    WAIT per read, and by `limit` bytes. Returns (bytes, how it ended)."""
    sock.settimeout(WAIT)
    data = bytearray()
    while len(data) < limit:
        try:
            got = sock.recv(65536)
        except ConnectionResetError:
            return bytes(data), "reset"
        except socket.timeout:
            raise Failure(f"'{case}': the server neither sent nor closed within {WAIT:.0f} s")
        if not got:
            return bytes(data), "end"
        data += got
    raise Failure(f"'{case}': more than {limit} bytes")


def send_until_full(sock, unit, limit):
    """Send copies of `unit`, back to back, on a non-blocking socket until the kernel takes no
    more (the server has stopped reading, and every buffer on the way is full) or `limit`
    bytes. Returns the bytes sent. "No more" is the send failing with EAGAIN, and no room made
    within WAIT/30 s. A server that is merely slow makes this stop early, which changes no
    verdict: whatever was sent must come back."""
    sock.setblocking(False)
    block = unit * max(1, 65536 // len(unit))
    sent = bytearray()
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_WRITE)
    deadline = time.monotonic() + WAIT
    while len(sent) < limit and time.monotonic() < deadline:
        # The stream goes on where the last send stopped, which may be inside a copy of
        # `unit`: starting the next send at the block's start would splice two copies.
        rest = block[len(sent) % len(unit):]
        try:
            sent += rest[:sock.send(rest)]
        except BlockingIOError:
            if not selector.select(timeout=WAIT / 30):
                break
    selector.close()
    return bytes(sent)


# --- Well-behaved clients -----------------------------------------------------------------

def echo_payloads(count, size, seed):
    rng = random.Random(seed)
    return [rng.randbytes(size) for _ in range(count)]


def check_echo(payloads, received, case):
    for i, (sent, back) in enumerate(zip(payloads, received)):
        if hashlib.sha256(sent).digest() != hashlib.sha256(bytes(back)).digest():
            raise Failure(f"'{case}': client {i} sent {len(sent)} bytes, SHA-256 "
                          f"{hashlib.sha256(sent).hexdigest()[:16]}..., and got back "
                          f"{len(back)} bytes, SHA-256 "
                          f"{hashlib.sha256(bytes(back)).hexdigest()[:16]}...")


def well_behaved_echo(port, case, clients=16, size=64 * 1024):
    socks = [connect(port) for _ in range(clients)]
    payloads = echo_payloads(clients, size, sum(case.encode()))
    received = exchange(socks, payloads, [size] * clients, [16384] * clients, case)
    for sock in socks:
        sock.close()
    check_echo(payloads, received, case + ": the well-behaved clients")


def well_behaved_http(port, case, clients=8, requests=16):
    """Each client sends its requests one at a time, and pipelined once, and checks every
    response."""
    for c in range(clients):
        with connect(port) as sock:
            for _ in range(requests):
                sock.sendall(HTTP_REQUEST)
                expect_http(sock, 1, case + ": a well-behaved client")
            sock.sendall(HTTP_REQUEST * requests)
            expect_http(sock, requests, case + ": a well-behaved client, pipelining")


def expect_http(sock, count, case):
    want = HTTP_RESPONSE * count
    got = bytearray()
    sock.settimeout(WAIT)
    while len(got) < len(want):
        try:
            chunk = sock.recv(len(want) - len(got))
        except socket.timeout:
            raise Failure(f"'{case}': no response within {WAIT:.0f} s")
        if not chunk:
            raise Failure(f"'{case}': the server closed after {len(got)} of {len(want)} bytes")
        got += chunk
    if bytes(got) != want:
        raise Failure(f"'{case}': wrong responses: {bytes(got[:120])!r}...")


# --- The cases ----------------------------------------------------------------------------

def many_at_once(port, unit, answer_length, case, server):
    """MANY connections opened at once, each then sending `unit` and expecting
    answer_length bytes back (the echo: unit itself). Returns what came back."""
    socks = []
    try:
        for _ in range(MANY):
            socks.append(connect(port, blocking=False))
        # Every connect completes (writable) or fails, within WAIT.
        selector = selectors.DefaultSelector()
        for i, sock in enumerate(socks):
            selector.register(sock, selectors.EVENT_WRITE, i)
        pending = len(socks)
        deadline = time.monotonic() + WAIT
        while pending > 0:
            if time.monotonic() > deadline:
                raise Failure(f"'{case}': {pending} of {MANY} connects not done in {WAIT:.0f} s")
            for key, _ in selector.select(timeout=1.0):
                error = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    raise Failure(f"'{case}': connect failed: {os.strerror(error)}")
                selector.unregister(key.fileobj)
                pending -= 1
        selector.close()
        server.alive(case)
        return socks, exchange(socks, [unit(i) for i in range(MANY)], [answer_length(i)
                                                                       for i in range(MANY)],
                               [65536] * MANY, case)
    finally:
        for sock in socks:
            sock.close()


def beyond_the_limit(port, count, case):
    """`count` connections at once, each sending one request: each must get its response
    (served) or be closed with nothing sent (refused), within WAIT. Returns the two counts."""
    socks = [connect(port, blocking=False) for _ in range(count)]
    selector = selectors.DefaultSelector()
    received = [bytearray() for _ in socks]
    written = [False] * count
    served = refused = 0
    try:
        for i, sock in enumerate(socks):
            selector.register(sock, selectors.EVENT_WRITE, i)
        left = count
        deadline = time.monotonic() + WAIT
        while left > 0:
            if time.monotonic() > deadline:
                raise Failure(f"'{case}': {left} of {count} connections neither served nor "
                              f"refused within {WAIT:.0f} s")
            for key, events in selector.select(timeout=1.0):
                i, sock = key.data, key.fileobj
                ended = False
                if events & selectors.EVENT_WRITE and not written[i]:
                    try:
                        sock.send(HTTP_REQUEST)  # 35 bytes: a fresh socket takes them whole
                        written[i] = True
                        selector.modify(sock, selectors.EVENT_READ, i)
                    except (BrokenPipeError, ConnectionResetError):
                        ended = True
                    except BlockingIOError:
                        pass
                if events & selectors.EVENT_READ:
                    try:
                        got = sock.recv(4096)
                        ended = not got
                        received[i] += got
                    except ConnectionResetError:
                        ended = True
                    except BlockingIOError:
                        pass
                if len(received[i]) >= len(HTTP_RESPONSE) or ended:
                    if bytes(received[i]) == HTTP_RESPONSE:
                        served += 1
                    elif ended and not received[i]:
                        refused += 1
                    else:
                        raise Failure(f"'{case}': connection {i} got {bytes(received[i])!r}")
                    selector.unregister(sock)
                    left -= 1
    finally:
        selector.close()
        for sock in socks:
            sock.close()
    if served == 0:
        raise Failure(f"'{case}': every one of {count} connections was refused")
    return served, refused


def served_beyond_the_limit(server, count, case):
    """`count` connections at once, more than the echo server has descriptors. While all are
    open and none has sent anything, the server must run out (its stderr says an accept
    failed: it cannot hold them all); then each sends 1 KiB and is closed once its echo is
    complete, and every one, those that waited in the backlog included, must get every byte
    back. Returns the server's stderr lines about accepting."""
    payloads = echo_payloads(count, 1024, 4)
    socks = []
    try:
        for _ in range(count):
            socks.append(connect(server.port))  # the backlog (1,024) takes them all
        deadline = time.monotonic() + WAIT
        while "an accept failed" not in server.text("stderr"):
            server.alive(case)
            if time.monotonic() > deadline:
                raise Failure(f"'{case}': {count} connections open, and no failed accept on "
                              f"the server's stderr within {WAIT:.0f} s")
            time.sleep(0.01)
        received = exchange(socks, payloads, [1024] * count, [1024] * count, case,
                            close_when_served=True)
        check_echo(payloads, received, case)
    finally:
        for sock in socks:
            sock.close()
    server.alive(case)
    return [line for line in server.text("stderr").splitlines() if "accept" in line]


def serves_again(port, case):
    """A request gets its response within WAIT: tried again while the server refuses, since
    it may not have seen yet the closes that free its descriptors."""
    deadline = time.monotonic() + WAIT
    while True:
        with connect(port) as sock:
            try:
                sock.sendall(HTTP_REQUEST)
                back, _ = read_to_end_or(sock, len(HTTP_RESPONSE), case)
            except (BrokenPipeError, ConnectionResetError):
                back = b""
        if back == HTTP_RESPONSE:
            return
        if back:
            raise Failure(f"'{case}': got {back!r}")
        if time.monotonic() > deadline:
            raise Failure(f"'{case}': still refusing connections {WAIT:.0f} s after they closed")
        time.sleep(0.05)


def read_to_end_or(sock, length, case):
    """Up to `length` bytes, or fewer if the server closes first; bounded by WAIT a read."""
    sock.settimeout(WAIT)
    data = bytearray()
    while len(data) < length:
        try:
            got = sock.recv(length - len(data))
        except ConnectionResetError:
            return bytes(data), "reset"
        except socket.timeout:
            raise Failure(f"'{case}': the server neither sent nor closed within {WAIT:.0f} s")
        if not got:
            return bytes(data), "end"
        data += got
    return bytes(data), "complete"


def raise_own_descriptor_limit():
    """Soft limit up to the hard one. Returns False if even that is too low for MANY."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MANY + 512
    if soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft >= wanted


def bounded_memory(server, case, action):
    """Run `action`; fail if the server's peak RSS grew by more than RSS_MARGIN_KB."""
    before = server.memory_kb("VmRSS")
    action()
    peak = server.memory_kb("VmHWM")
    if peak - before > RSS_MARGIN_KB:
        raise Failure(f"'{case}': the server's RSS went from {before} KiB to a peak of {peak} KiB")
    return before, peak


def run_echo(command, retries_accept=False, ubsan=False):
    server = Server(command)
    port = server.port
    try:
        case = "warm-up"
        well_behaved_echo(port, case)

        case = "reset mid-stream"
        for i in range(50):
            sock = connect(port)
            sock.sendall(os.urandom(1000 + 997 * i))
            reset(sock)
        server.alive(case)
        well_behaved_echo(port, case)
        log(f"ok: {case}: 50 clients reset with bytes in flight; the others served intact")

        case = "one byte at a time"
        slow = 8
        socks = [connect(port) for _ in range(slow + 8)]
        payloads = echo_payloads(slow, 2000, 1) + echo_payloads(8, 64 * 1024, 2)
        chunks = [1] * slow + [16384] * 8
        received = exchange(socks, payloads, [len(p) for p in payloads], chunks, case)
        for sock in socks:
            sock.close()
        check_echo(payloads, received, case)
        log(f"ok: {case}: {slow} clients sent 2,000 bytes each one byte per send, next to 8 "
            "clients of 64 KiB; every byte back, in order")

        case = "silent clients"
        silent = [connect(port) for _ in range(100)]
        well_behaved_echo(port, case)
        for sock in silent:
            sock.close()
        log(f"ok: {case}: 100 connections that send nothing do not hold the others up")

        case = "stops reading while the server writes"
        stalled = connect(port)
        state = {}

        def stall():
            state["sent"] = send_until_full(stalled, os.urandom(65536), 256 << 20)
            server.alive(case)
            well_behaved_echo(port, case)
        before, peak = bounded_memory(server, case, stall)
        stalled.shutdown(socket.SHUT_WR)
        back, how = read_to_end(stalled, case, limit=len(state["sent"]) + 1)
        stalled.close()
        check_echo([state["sent"]], [back], case + ": the client that stopped reading")
        log(f"ok: {case}: the server stopped with {len(state['sent']):,} bytes sent to it, the "
            f"others were served meanwhile, RSS {before:,} KiB -> peak {peak:,} KiB; once the "
            "client read again, every byte came back intact")

        case = f"{MANY:,} connections at once"
        if not raise_own_descriptor_limit():
            log(f"skipped: {case}: the hard limit on descriptors "
                f"({resource.getrlimit(resource.RLIMIT_NOFILE)[1]}) is below {MANY + 512}")
        else:
            payloads = echo_payloads(MANY, 1024, 3)
            _, received = many_at_once(port, lambda i: payloads[i], lambda i: 1024, case, server)
            check_echo(payloads, received, case)
            well_behaved_echo(port, case)
            log(f"ok: {case}: each sent 1 KiB and got it back intact; then the others served")
        server.alive("the end")
    finally:
        server.stop()
    errors = server.text("stderr")
    if errors.strip():
        log("the server's stderr:\n" + errors)

    # More connections than the server has descriptors, on an instance whose hard limit is
    # SCARCE: for a server that tries a failed accept again, the connections beyond the limit
    # wait in the backlog, and are served as the others close.
    case = f"more connections than the server has descriptors ({SCARCE})"
    if not retries_accept:
        log(f"skipped: {case}: this server's accept loop ends at the first failed accept")
    elif ubsan:
        log(f"skipped: {case}: the server is built with UBSan, whose vptr check needs a free "
            "descriptor")
    else:
        server = Server(command, descriptors=SCARCE)
        try:
            lines = served_beyond_the_limit(server, 2 * SCARCE, case)
            if not any("accepting again" in line for line in lines):
                raise Failure(f"'{case}': every connection served, but the server never said "
                              "it was accepting again; its stderr:\n" + server.text("stderr"))
            well_behaved_echo(server.port, case)
            log(f"ok: {case}: {2 * SCARCE} connections at once, each holding on until its "
                "echo was back: the server ran out, said so, and served every one, intact, as "
                "the others closed (" + "; ".join(lines[:2]) + ")")
        finally:
            server.stop()


def ctrl_c_with_connections_held(server, case):
    """Ctrl-C while a client is silent, one has sent half a head, and one has stopped reading
    its responses: the server must exit with 0 (Server.stop), having abandoned at least the
    last one, which cannot finish, and closed them all."""
    port = server.port
    idle = connect(port)
    half = connect(port)
    half.sendall(HTTP_REQUEST[:20])
    stalled = connect(port)
    sent = send_until_full(stalled, HTTP_REQUEST, 64 << 20)
    well_behaved_http(port, case)  # accepted after the three: they are accepted too
    server.stop()
    complete = len(sent) // len(HTTP_REQUEST)
    for sock, limit in ((idle, 0), (half, 0), (stalled, (complete + 1) * len(HTTP_RESPONSE))):
        read_to_end(sock, case, limit=limit + 1)
        sock.close()
    report = re.search(r"connections open at Ctrl-C: (\d+), finished: (\d+), abandoned at the "
                       r"\d+ ms deadline: (\d+)", server.text("stderr"))
    if not report:
        raise Failure(f"'{case}': no shutdown report on stderr:\n" + server.text("stderr"))
    opened, finished, abandoned = (int(n) for n in report.groups())
    if abandoned < 1:
        raise Failure(f"'{case}': the client that stopped reading was not abandoned: "
                      + report.group(0))
    return report.group(0)


def run_http(command, ctrl_c=False, ubsan=False):
    server = Server(command, ctrl_c)
    port = server.port
    try:
        case = "warm-up"
        well_behaved_http(port, case)

        case = "reset mid-request"
        for i in range(50):
            sock = connect(port)
            if i % 2:
                sock.sendall(HTTP_REQUEST[:1 + i % len(HTTP_REQUEST)])  # part of a head
            else:
                sock.sendall(HTTP_REQUEST * 200)  # whole requests, responses unread
            reset(sock)
        server.alive(case)
        well_behaved_http(port, case)
        log(f"ok: {case}: 50 clients reset mid-head or with responses unread; the others "
            "served")

        case = "one byte at a time"
        slow = [connect(port) for _ in range(8)]
        for sock in slow:
            for byte in HTTP_REQUEST * 2:
                sock.sendall(bytes([byte]))
        well_behaved_http(port, case)
        for sock in slow:
            expect_http(sock, 2, case)
            sock.close()
        log(f"ok: {case}: 8 clients sent two requests one byte per send and got two responses;"
            " the others served")

        case = "never finishes a request (held, under the default timeouts)"
        held = [connect(port) for _ in range(100)]
        for i, sock in enumerate(held):
            sock.sendall(HTTP_REQUEST[:i % len(HTTP_REQUEST)])
        well_behaved_http(port, case)
        for sock in held:
            sock.close()
        log(f"ok: {case}: 100 unfinished heads and silent connections do not hold the others up")

        case = "a head larger than the limit"

        def oversized():
            for i in range(40):
                with connect(port) as sock:
                    # A whole request first, then a head that never ends: 1 MiB without a
                    # blank line. The server answers the first, then closes.
                    sock.settimeout(WAIT)
                    sock.sendall(HTTP_REQUEST)
                    expect_http(sock, 1, case + ": the request before")
                    try:
                        sock.sendall(b"GET / HTTP/1.1\r\nX-Long: " + b"x" * (1 << 20))
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # closed while we were still sending: the verdict, too
                    rest, how = read_to_end(sock, case, limit=1 << 20)
                    if rest:
                        raise Failure(f"'{case}': got {rest[:80]!r} after the oversized head")
            server.alive(case)
            well_behaved_http(port, case)
        before, peak = bounded_memory(server, case, oversized)
        log(f"ok: {case}: 40 clients sent a 1 MiB head after one request, got the one response"
            f" and then the close; RSS {before:,} KiB -> peak {peak:,} KiB; the others served")

        case = "stops reading while the server writes"
        stalled = connect(port)
        state = {}

        def stall():
            state["sent"] = send_until_full(stalled, HTTP_REQUEST, 64 << 20)
            server.alive(case)
            well_behaved_http(port, case)
        before, peak = bounded_memory(server, case, stall)
        stalled.shutdown(socket.SHUT_WR)
        complete = len(state["sent"]) // len(HTTP_REQUEST)
        back, how = read_to_end(stalled, case, limit=(complete + 1) * len(HTTP_RESPONSE))
        stalled.close()
        if back != HTTP_RESPONSE * complete:
            raise Failure(f"'{case}': {complete} requests sent, {len(back)} bytes of responses "
                          f"back ({len(back) / len(HTTP_RESPONSE):.1f} responses); {how}")
        log(f"ok: {case}: the server stopped reading after {complete:,} requests, the others "
            f"were served meanwhile, RSS {before:,} KiB -> peak {peak:,} KiB; once the client "
            "read again, it got every response")

        case = f"{MANY:,} connections at once"
        if not raise_own_descriptor_limit():
            log(f"skipped: {case}: the hard limit on descriptors "
                f"({resource.getrlimit(resource.RLIMIT_NOFILE)[1]}) is below {MANY + 512}")
        else:
            _, received = many_at_once(port, lambda i: HTTP_REQUEST,
                                       lambda i: len(HTTP_RESPONSE), case, server)
            wrong = sum(1 for r in received if bytes(r) != HTTP_RESPONSE)
            if wrong:
                raise Failure(f"'{case}': {wrong} wrong responses")
            well_behaved_http(port, case)
            log(f"ok: {case}: each sent a request and got its response; then the others served")
        server.alive("the end")
        if ctrl_c:
            case = "Ctrl-C with connections held"
            report = ctrl_c_with_connections_held(server, case)
            log(f"ok: {case}: a silent client, half a head and a client that stopped reading; the "
                f"server exited with 0 and closed them all ({report})")
    finally:
        server.stop()

    # More connections than the server has descriptors, on an instance whose hard limit is
    # SCARCE: those it has room for are served, the others refused (closed at once), none left
    # waiting; once they close, the server serves again.
    case = f"more connections than the server has descriptors ({SCARCE})"
    if ubsan:
        # UBSan's vptr check asks whether memory is readable by writing it into a pipe it
        # opens (sanitizer_common's IsAccessibleMemoryRange): in a process out of descriptors
        # the pipe fails, and every virtual call is reported as one on an invalid object.
        log(f"skipped: {case}: the server is built with UBSan, whose vptr check needs a free "
            "descriptor")
    else:
        server = Server(command, ctrl_c, descriptors=SCARCE)
        try:
            served, refused = beyond_the_limit(server.port, 2 * SCARCE, case)
            server.alive(case)
            serves_again(server.port, case)
            log(f"ok: {case}: of {2 * SCARCE} connections at once, {served} served and {refused} "
                "refused, none left waiting; once they closed, the server served again")
        finally:
            server.stop()

    # The timeouts, on a second instance with short ones: a client that never finishes its
    # head, and one that sends nothing, are closed once the timeout has passed; not before
    # (the server's deadline starts at its accept, after our connect began), and within WAIT.
    timeout_ms = 500
    server = Server(command + ["--header-timeout-ms", str(timeout_ms),
                               "--idle-timeout-ms", str(timeout_ms)], ctrl_c)
    try:
        for case, prefix in (("never finishes a request (timed out)", HTTP_REQUEST[:20]),
                             ("sends nothing (timed out)", b"")):
            started = time.monotonic()
            sock = connect(server.port)
            sock.sendall(prefix)
            rest, how = read_to_end(sock, case)
            elapsed = time.monotonic() - started
            sock.close()
            if rest:
                raise Failure(f"'{case}': got {rest[:80]!r} instead of the close")
            if elapsed < timeout_ms / 1000 - 0.05:
                raise Failure(f"'{case}': closed after {elapsed * 1000:.0f} ms, before the "
                              f"{timeout_ms} ms timeout")
            log(f"ok: {case}: closed ({how}) {elapsed * 1000:.0f} ms after the connect, with a "
                f"{timeout_ms} ms timeout")
        server.alive("the timeouts")
    finally:
        server.stop()


def main():
    flags = set()
    command = sys.argv[2:]
    while command and command[0] in ("--ctrl-c", "--ubsan", "--retries-accept"):
        flags.add(command.pop(0))
    ctrl_c = "--ctrl-c" in flags
    retries_accept = "--retries-accept" in flags
    if (not command or sys.argv[1] not in ("echo", "http") or (ctrl_c and sys.argv[1] != "http")
            or (retries_accept and sys.argv[1] != "echo")):
        print(__doc__, file=sys.stderr)
        return 2
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    started = time.monotonic()
    try:
        if sys.argv[1] == "echo":
            run_echo(command, retries_accept, ubsan="--ubsan" in flags)
        else:
            run_http(command, ctrl_c, ubsan="--ubsan" in flags)
    except Failure as failure:
        print(f"FAILED: {failure}", file=sys.stderr, flush=True)
        return 1
    log(f"all cases passed in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
