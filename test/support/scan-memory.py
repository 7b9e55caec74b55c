#!/usr/bin/env python3
"""As root: every place the given strings stand in a process's memory, with the 24 bytes before
each. Only resident pages are read (from /proc/PID/pagemap): the agent reserves gigabytes it
never touches, and reading those would only make zeros. Prints JSON {needle: [before, ...]}.
A string also counts where it stands as an array of numbers holds it (the keyring library answers
with one): each byte in an 8-byte JSValue, the byte then 0 0 0 0 0 0xfe 0xff; such a place is
listed as "[as an array of numbers]"."""
import json, struct, sys

pid, needles = int(sys.argv[1]), [n.encode() for n in sys.argv[2:]]
PAGE = 4096
hits = {n.decode(): [] for n in needles}
BOXED = "[as an array of numbers]"
boxed = {n: b"".join(bytes([c, 0, 0, 0, 0, 0, 0xFE, 0xFF]) for c in n) for n in needles}
mem = open(f"/proc/{pid}/mem", "rb", 0)
pagemap = open(f"/proc/{pid}/pagemap", "rb", 0)

def resident_runs(start, end):
    pagemap.seek(start // PAGE * 8)
    entries = pagemap.read((end - start) // PAGE * 8)
    run = None
    for i in range(len(entries) // 8):
        present = struct.unpack_from("<Q", entries, i * 8)[0] >> 63
        addr = start + i * PAGE
        if present and run is None:
            run = addr
        elif not present and run is not None:
            yield run, addr
            run = None
    if run is not None:
        yield run, end

for line in open(f"/proc/{pid}/maps"):
    parts = line.split()
    if "r" not in parts[1] or (len(parts) > 5 and parts[5] in ("[vvar]", "[vsyscall]", "[vdso]")):
        continue
    start, end = (int(x, 16) for x in parts[0].split("-"))
    for a, b in resident_runs(start, end):
        try:
            mem.seek(a)
            data = mem.read(b - a)
        except OSError:
            continue
        for n in needles:
            i = data.find(n)
            while i >= 0:
                hits[n.decode()].append(data[max(0, i - 24):i].decode("latin-1"))
                i = data.find(n, i + 1)
            i = data.find(boxed[n])
            while i >= 0:
                hits[n.decode()].append(BOXED)
                i = data.find(boxed[n], i + 1)
print(json.dumps(hits))
