#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal, answering prompts: pty-run.py STEPS_JSON CMD ARGS...
STEPS_JSON is a list of [expected_text, reply]. Prints {"code", "output"} as JSON."""
import json, os, pty, select, sys, time

steps = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
output = b""
deadline = time.time() + 15
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
for expected, reply in steps:
    while expected.encode() not in output and time.time() < deadline:
        if not read_some():
            break
    os.write(fd, reply.encode())
while time.time() < deadline and read_some():
    pass
_, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "output": output.decode(errors="replace")}))
