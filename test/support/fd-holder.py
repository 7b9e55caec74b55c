#!/usr/bin/env python3
"""One process holding connections its short-lived children opened (issue 21, item 3).

    fd-holder.py SOCKET TOTAL PER_CHILD [REOPEN_MS]

Each child connects PER_CHILD times to the agent's socket (so the agent sees the child's pid
through SO_PEERCRED), sends on each the headers of a request whose body never comes (so that the
connection is busy, never taken for idle), hands the descriptors to this process over a
socketpair (SCM_RIGHTS) and exits. This process keeps TOTAL connections open: when the agent closes some, new children open
more, REOPEN_MS (default 1000) after the last round. Prints one JSON line once TOTAL are held (or could not be); then, for each line "report" on
stdin, {"open", "children", "closed_by_agent"}. Exits when stdin closes, closing everything."""
import json, os, resource, select, socket, sys

import time

path, total, per_child = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
reopen_s = (int(sys.argv[4]) if len(sys.argv) > 4 else 1000) / 1000
last_top_up = 0.0
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, total + 256)), hard))

PARTIAL = b"GET /v1/credentials/db HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n"
held = {}
stats = {"children": 0, "closed_by_agent": 0}


def child_opens(count):
    """A child opens `count` connections and hands them over; returns the descriptors received."""
    parent, child = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        parent.close()
        conns = []
        for _ in range(count):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                s.sendall(PARTIAL)
                conns.append(s)
            except OSError:
                s.close()
        for i in range(0, len(conns), 200):
            socket.send_fds(child, [b"x"], [c.fileno() for c in conns[i : i + 200]])
        child.close()
        os._exit(0)
    child.close()
    stats["children"] += 1
    received = []
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(parent, 16, 253)
        except OSError:
            break
        if not msg:
            break
        received += fds
    parent.close()
    os.waitpid(pid, 0)
    return received


def top_up():
    global last_top_up
    last_top_up = time.monotonic()
    while len(held) < total:
        fds = child_opens(min(per_child, total - len(held)))
        if not fds:
            return
        for fd in fds:
            held[fd] = socket.socket(fileno=fd)


top_up()
print(json.dumps({"open": len(held), "children": stats["children"]}), flush=True)

# poll, not select: more than FD_SETSIZE (1024) descriptors.
poller = select.poll()
poller.register(sys.stdin.fileno(), select.POLLIN)
watched = set()
while True:
    for fd in held.keys() - watched:
        poller.register(fd, select.POLLIN)
        watched.add(fd)
    for fd, _ in poller.poll(200):
        if fd == sys.stdin.fileno():
            line = sys.stdin.readline()
            if not line:
                for s in held.values():
                    s.close()
                sys.exit(0)
            if line.strip() == "report":
                print(json.dumps({"open": len(held), **stats}), flush=True)
            continue
        conn = held.get(fd)
        if conn is None:
            continue
        try:
            data = conn.recv(4096)
        except OSError:
            data = b""
        if not data:
            # Closed by the agent (evicted): the attacker opens another through a new child.
            poller.unregister(fd)
            watched.discard(fd)
            del held[fd]
            conn.close()
            stats["closed_by_agent"] += 1
    if len(held) < total and time.monotonic() - last_top_up >= reopen_s:
        top_up()
