import { randomBytes } from "node:crypto";

// A network namespace of the test's own (`ip netns add`, a unique name), with only its loopback
// up: servers the test starts in it (a KDC, PostgreSQL, slapd) listen where nothing else on the
// machine can reach them or collide with them, on fixed ports if they like. Unix sockets are
// files, so the agent's socket and the servers' own sockets still work across it. remove() deletes
// it; a namespace a test forgot is deleted when the test process exits.

export interface NetNs {
  readonly name: string;
  /** argv run inside the namespace: `ip netns exec NAME argv…`. */
  wrap(argv: string[]): string[];
  remove(): void;
}

/** Why namespaces cannot be made here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "making a network namespace needs root";
  if (!Bun.which("ip")) return "the ip command is missing (apt-get install iproute2)";
  return null;
}

const live = new Set<NetNs>();
process.on("exit", () => {
  for (const ns of live) ns.remove();
});

export function createNetns(tag: string): NetNs {
  const reason = netnsUnavailable();
  if (reason) throw new Error(reason);
  const name = `ca-${tag}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const run = (argv: string[]) => {
    const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", timeout: 10_000 });
    if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stderr.toString()}`);
  };
  run(["ip", "netns", "add", name]);
  let removed = false;
  const ns: NetNs = {
    name,
    wrap: (argv) => ["ip", "netns", "exec", name, ...argv],
    remove() {
      if (removed) return;
      removed = true;
      live.delete(ns);
      Bun.spawnSync(["ip", "netns", "del", name], { stdout: "ignore", stderr: "ignore" });
    },
  };
  live.add(ns);
  try {
    run(ns.wrap(["ip", "link", "set", "lo", "up"]));
  } catch (err) {
    ns.remove();
    throw err;
  }
  return ns;
}
