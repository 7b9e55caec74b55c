#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal, answering prompts: pty-run.py STEPS_JSON CMD ARGS...
STEPS_JSON is a list of [expected_text, reply]: each expected text is looked for after the previous
one's match, so a prompt asked twice is answered only when it is shown again (a reply typed before
the program turns echo off would be echoed). Prints {"code", "output"} as JSON."""
import json, os, pty, select, sys, time

steps = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
output = b""
deadline = time.time() + 30
def read_some():
    global output
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            return False
        if not data:
            return False
        output += data
    return True
seen = 0
for expected, reply in steps:
    while output.find(expected.encode(), seen) < 0 and time.time() < deadline:
        if not read_some():
            break
    found = output.find(expected.encode(), seen)
    if found >= 0:
        seen = found + len(expected.encode())
    os.write(fd, reply.encode())
while time.time() < deadline and read_some():
    pass
_, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "output": output.decode(errors="replace")}))
