#!/usr/bin/env python3
"""Run as a non-root user: starts the agent as its own child (so that even a parent's access is
tried), then tries what a hostile process of the same user would: read /proc/PID/environ, open
/proc/PID/mem, ptrace-attach, raise the core limit and crash it. A control process, treated the
same way, shows that this machine does write cores. Prints one JSON object."""
import ctypes, glob, json, os, resource, signal, subprocess, sys, time

binary, workdir, socket = sys.argv[1], sys.argv[2], sys.argv[3]
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
out = {}

def cores():
    return sorted(glob.glob(os.path.join(workdir, "core*")))

def crash_writes_core(pid):
    before = set(cores())
    try:
        resource.prlimit(pid, resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        raised = True
    except (PermissionError, ValueError, OSError):
        raised = False
    os.kill(pid, signal.SIGSEGV)
    for _ in range(200):
        try:
            os.waitpid(pid, 0)
            break
        except ChildProcessError:
            break
    time.sleep(0.5)
    return raised, sorted(set(cores()) - before)

agent = subprocess.Popen([binary, "agent", "-d", "--keyring", "file", "-a", socket], cwd=workdir,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "agent.err"), "w"))
for _ in range(500):
    if os.path.exists(socket):
        break
    time.sleep(0.01)
out["agent_started"] = os.path.exists(socket)
pid = agent.pid

try:
    with open(f"/proc/{pid}/environ", "rb") as f:
        out["environ_readable"] = b"CREDAGENT_FILE_PASSPHRASE" in f.read()
except OSError as e:
    out["environ_readable"] = False
    out["environ_error"] = e.strerror
try:
    open(f"/proc/{pid}/mem", "rb").close()
    out["mem_opened"] = True
except OSError as e:
    out["mem_opened"] = False
    out["mem_error"] = e.strerror
attached = libc.ptrace(PTRACE_ATTACH, pid, None, None)
out["ptrace_attached"] = attached == 0
if attached == 0:
    os.waitpid(pid, 0)
    libc.ptrace(PTRACE_DETACH, pid, None, None)
else:
    out["ptrace_error"] = os.strerror(ctypes.get_errno())

raised, written = crash_writes_core(pid)
out["agent_core_limit_raised"] = raised
out["agent_cores"] = written

control = subprocess.Popen(["sleep", "30"], cwd=workdir)
raised, written = crash_writes_core(control.pid)
out["control_cores"] = written
for path in cores():
    os.unlink(path)
print(json.dumps(out))
