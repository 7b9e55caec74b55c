#!/usr/bin/env python3
"""A process of another user flooding the agent with requests it must refuse, as fast as it answers.

    refusal-flood.py SECONDS WORKERS TARGET:COUNT...

TARGET: unix:PATH or tcp:HOST:PORT (the SDK endpoints): a new connection per request, since both
refuse another uid at connect, with one answer.
Each target gets WORKERS processes, which stop once they made COUNT requests between them, or
after SECONDS. Prints one JSON line: {"unix": requests, "tcp": requests}."""
import json, multiprocessing, socket, sys, time

SECONDS, WORKERS, TARGETS = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
UNIX_REQUEST = b"GET /v1/credentials/db HTTP/1.1\r\nHost: localhost\r\n\r\n"
TCP_REQUEST = b"GET /computeMetadata/v1/instance/service-accounts/default/token HTTP/1.1\r\nHost: 127.0.0.1\r\nMetadata-Flavor: Google\r\n\r\n"


def unix_worker(path, target, deadline, out):
    n = 0
    while n < target and time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(path)
            s.sendall(UNIX_REQUEST)
            s.recv(4096)
            n += 1
        except OSError:
            pass
        finally:
            s.close()
    out.put(("unix", n))


def tcp_worker(host, port, target, deadline, out):
    n = 0
    while n < target and time.monotonic() < deadline:
        try:
            s = socket.create_connection((host, port), timeout=5)
        except OSError:
            continue
        try:
            s.sendall(TCP_REQUEST)
            if s.recv(4096).startswith(b"HTTP/1.1 "):
                n += 1
        except OSError:
            pass
        finally:
            s.close()
    out.put(("tcp", n))


if __name__ == "__main__":
    deadline = time.monotonic() + SECONDS
    out = multiprocessing.Queue()
    procs = []
    for target in TARGETS:
        kind, _, rest = target.partition(":")
        where, _, count = rest.rpartition(":")
        share = -(-int(count) // WORKERS)
        for _ in range(WORKERS):
            if kind == "unix":
                p = multiprocessing.Process(target=unix_worker, args=(where, share, deadline, out))
            else:
                host, _, port = where.rpartition(":")
                p = multiprocessing.Process(target=tcp_worker, args=(host, int(port), share, deadline, out))
            p.start()
            procs.append(p)
    totals = {"unix": 0, "tcp": 0}
    for _ in procs:
        kind, n = out.get(timeout=SECONDS + 30)
        totals[kind] += n
    for p in procs:
        p.join()
    print(json.dumps(totals))
