import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { BIN, countingSource, Sandbox, waitFor } from "./harness.ts";

// Who is asking: allow rules by executable and hash, the audit log, the session token, and a
// second Linux user, with the compiled binary and real processes (curl, python3).
const CURL = realpathSync(Bun.which("curl")!);
// Debian's python3 (not a version manager's shim): a real executable that other users can run.
const PYTHON = realpathSync(Bun.which("python3", { PATH: "/usr/bin:/bin" }) ?? Bun.which("python3")!);
const SH = realpathSync("/bin/sh");
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** A python3 client that GETs a path over the socket (with an optional session token). */
const PY_CLIENT = `
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
auth = ("Authorization: Bearer " + sys.argv[3] + "\\r\\n") if len(sys.argv) > 3 else ""
try:
    s.sendall(("GET " + sys.argv[2] + " HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n" + auth + "\\r\\n").encode())
except (BrokenPipeError, ConnectionResetError):
    pass  # refused before the request was read: the answer is already waiting
data = b""
while True:
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:
        break
    if not chunk: break
    data += chunk
print(data.decode())
`;

let box: Sandbox;
let clientCopy: string;
let pyScript: string;

beforeAll(async () => {
  box = new Sandbox();
  box.env.CRED_SOCK = box.socket;
  const db = countingSource(box, "db", 3600);
  const open = countingSource(box, "open", 3600);
  clientCopy = join(box.root, "client");
  copyFileSync(CURL, clientCopy);
  chmodSync(clientCopy, 0o755);
  pyScript = join(box.root, "client.py");
  writeFileSync(pyScript, PY_CLIENT);
  box.writeConfig(
    `[credentials.db]\nsource = "command"\ncommand = ["${db.script}"]\nallow = [ { exe = "${CURL}" } ]\n\n` +
      `[credentials.pinned]\nsource = "command"\ncommand = ["${db.script}"]\nallow = [ { exe = "${clientCopy}", sha256 = "${sha256(clientCopy)}" } ]\n\n` +
      `[credentials.open]\nsource = "command"\ncommand = ["${open.script}"]\n\n` +
      `[credentials.py]\nsource = "command"\ncommand = ["${open.script}"]\nallow = [ { exe = "${PYTHON}" } ]\n`,
  );
  await box.start();
});
afterAll(() => box.cleanup());

const curl = (path: string, exe = CURL, extra: string[] = []) => {
  const r = Bun.spawnSync([exe, "-sS", "--unix-socket", box.socket, ...extra, `http://localhost${path}`]);
  return { code: r.exitCode, body: r.stdout.toString() };
};
const python = (path: string, exe = PYTHON, token?: string) => {
  const r = Bun.spawnSync([exe, pyScript, box.socket, path, ...(token ? [token] : [])]);
  return r.stdout.toString();
};
const auditLines = () =>
  readFileSync(join(box.stateDir, "credagent", "audit.log"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("allow rules", () => {
  test("allow by exe lets curl in and keeps python3 out, naming the rule; both are audited", async () => {
    const ok = JSON.parse(curl("/v1/credentials/db").body);
    expect(ok.token).toBe("db-1");
    const refused = python("/v1/credentials/db");
    expect(refused).toStartWith("HTTP/1.1 403");
    expect(refused).toContain(`rule 1 { exe = \\"${CURL}\\" }: exe is ${PYTHON}`);
    expect(refused).not.toContain("db-1");
    await waitFor(() => auditLines().some((l) => l.decision === "deny" && l.exe === PYTHON), 3_000, "the audit line");
    const lines = auditLines();
    expect(lines.find((l) => l.decision === "allow" && l.credential === "db")).toMatchObject({
      event: "fetch",
      exe: CURL,
      uid: process.getuid!(),
    });
    expect(lines.find((l) => l.decision === "deny")).toMatchObject({ event: "fetch", credential: "db", exe: PYTHON });
    expect(readFileSync(join(box.stateDir, "credagent", "audit.log"), "utf8")).not.toContain("db-1");
    expect(statSync(join(box.stateDir, "credagent", "audit.log")).mode & 0o777).toBe(0o600);
  });

  test("credagent get is judged as the program that ran it: python3 under an exe = python3 rule gets it, sh does not", async () => {
    const viaPython = Bun.spawnSync([PYTHON, "-c", "import subprocess, sys; sys.exit(subprocess.call([sys.argv[1], 'get', 'py']))", BIN], {
      env: box.env,
    });
    expect(viaPython.stderr.toString()).toBe("");
    expect(viaPython.stdout.toString()).toMatch(/^open-\d+\n$/);
    // Not the last command of the script, so sh forks credagent instead of becoming it.
    const viaSh = Bun.spawnSync(["/bin/sh", "-c", '"$0" get py; exit $?', BIN], { env: box.env });
    expect(viaSh.exitCode).not.toBe(0);
    expect(viaSh.stdout.toString()).toBe("");
    expect(viaSh.stderr.toString()).toContain(`exe is ${SH}`);
    await waitFor(() => auditLines().some((l) => l.credential === "py" && l.decision === "deny"), 3_000, "the audit lines");
    await Bun.sleep(300); // a second decision, were one made, would be written by now
    const lines = auditLines().filter((l) => l.credential === "py");
    // One request, one decision each: the CLI's short path never asks twice.
    expect(lines.map((l) => l.decision)).toEqual(["allow", "deny"]);
    expect(lines.find((l) => l.decision === "allow")).toMatchObject({ exe: PYTHON, via: { exe: realpathSync(BIN) } });
    expect(lines.find((l) => l.decision === "deny")).toMatchObject({ exe: SH, via: { exe: realpathSync(BIN) } });
  });

  test("listings show only what the asking process may fetch", () => {
    const viaCurl = JSON.parse(curl("/v1/credentials").body).credentials.map((c: { name: string }) => c.name);
    expect(viaCurl).toEqual(["db", "open"]);
    const viaPython = python("/v1/credentials");
    expect(viaPython).toContain('"name":"open"');
    expect(viaPython).not.toContain('"name":"db"');
    expect(viaPython).not.toContain('"name":"pinned"');
  });

  test("a sha256 rule refuses an executable replaced under the same path", () => {
    expect(JSON.parse(curl("/v1/credentials/pinned", clientCopy).body).token).toMatch(/^db-/);
    // Same path, other content: python3 put where the pinned client was.
    const tmp = `${clientCopy}.new`;
    copyFileSync(PYTHON, tmp);
    chmodSync(tmp, 0o755);
    renameSync(tmp, clientCopy);
    const refused = python("/v1/credentials/pinned", clientCopy);
    expect(refused).toStartWith("HTTP/1.1 403");
    expect(refused).toContain(`the executable's sha256 is ${sha256(PYTHON)}`);
  });

  test("credagent log shows the decisions, and --json the raw lines", async () => {
    const human = await box.run(["log"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`DENY fetch db by pid \\d+ uid \\d+ ${PYTHON.replaceAll("/", "\\/")}: no allow rule matched`));
    const json = await box.run(["log", "--json"]);
    for (const line of json.stdout.trim().split("\n")) expect(JSON.parse(line).time).toBeDefined();
  });

  test("credagent log -f shows new decisions as they happen", async () => {
    const follow = Bun.spawn([join(import.meta.dir, "../../build/credagent"), "log", "-f", "--json"], { env: box.env, stdout: "pipe" });
    try {
      await Bun.sleep(400);
      expect(JSON.parse(curl("/v1/credentials/open").body).token).toMatch(/^open-/);
      const reader = follow.stdout.getReader();
      let text = "";
      const deadline = Date.now() + 5_000;
      while (!text.includes('"credential":"open"') && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      const line = text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
        .findLast((l) => l.credential === "open");
      expect(line).toMatchObject({ decision: "allow", exe: CURL });
    } finally {
      follow.kill();
    }
  });
});

describe("session token", () => {
  test("required by the config: refused without it, and credagent get and env supply it", async () => {
    const other = new Sandbox();
    try {
      other.env.CRED_SOCK = other.socket;
      const src = countingSource(other, "t", 3600);
      other.writeConfig(`[agent]\nrequire_session_token = true\n\n[credentials.t]\nsource = "command"\ncommand = ["${src.script}"]\n`);
      await other.start();
      const bare = Bun.spawnSync([CURL, "-s", "-i", "--unix-socket", other.socket, "http://localhost/v1/credentials/t"]).stdout.toString();
      // The refusal says a token is what is missing (the CLI sends it, read only then, and asks again).
      expect(bare).toMatch(/^www-authenticate: Bearer realm="credagent"\r$/im);
      expect(JSON.parse(bare.slice(bare.indexOf("\r\n\r\n") + 4)).error.code).toBe("forbidden");
      expect(statSync(`${other.socket}.token`).mode & 0o777).toBe(0o600);
      expect((await other.run(["get", "t"])).stdout).toBe("t-1\n");
      const env = await other.run(["env"]);
      const token = /CRED_SESSION_TOKEN=([0-9a-f]{64});/.exec(env.stdout)?.[1];
      expect(token).toBeDefined();
      const wrong = Bun.spawnSync([
        CURL,
        "-s",
        "--unix-socket",
        other.socket,
        "-H",
        `Authorization: Bearer ${"0".repeat(64)}`,
        "http://localhost/v1/health",
      ]);
      expect(JSON.parse(wrong.stdout.toString()).error.code).toBe("forbidden");
      const right = Bun.spawnSync([
        CURL,
        "-s",
        "--unix-socket",
        other.socket,
        "-H",
        `Authorization: Bearer ${token}`,
        "http://localhost/v1/credentials/t",
      ]);
      expect(JSON.parse(right.stdout.toString()).token).toBe("t-1");
    } finally {
      await other.cleanup();
    }
  });
});

// A second Linux user needs root to create; under CI=true this never skips.
const canUseradd = process.getuid!() === 0 && Bun.which("useradd") !== null && Bun.which("runuser") !== null;
if (!canUseradd) {
  if (process.env.CI === "true") throw new Error("CI=true but the second-user test cannot run: it needs root, useradd and runuser");
  console.warn("skipping the second-user test: it needs root (useradd, runuser)");
}

describe.if(canUseradd)("another user", () => {
  const USER = "credagent-e2e";
  beforeAll(() => {
    Bun.spawnSync(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER]);
  });

  test("a second user given access to the socket by chmod is still refused (403), and audited", async () => {
    // Loosen by hand what the agent created: the uid check must hold regardless.
    chmodSync(box.root, 0o755);
    chmodSync(box.runtimeDir, 0o755);
    chmodSync(box.socket, 0o666);
    chmodSync(pyScript, 0o644);
    try {
      // python3 rather than curl: curl opens two connections for "localhost" (IPv6 and IPv4 races)
      // and reports a refused one as a failure to connect.
      const r = Bun.spawnSync(["runuser", "-u", USER, "--", PYTHON, pyScript, box.socket, "/v1/credentials/open"]);
      const out = r.stdout.toString();
      if (!out) throw new Error(`the client as ${USER} failed (${r.exitCode}): ${r.stderr.toString()}`);
      expect(out).toStartWith("HTTP/1.1 403");
      expect(out).toContain("this agent serves only its own user");
      expect(out).not.toContain("open-");
      const uid = Number(Bun.spawnSync(["id", "-u", USER]).stdout.toString().trim());
      await waitFor(() => auditLines().some((l) => l.event === "connection" && l.uid === uid), 3_000, "the audit line");
      expect(auditLines().find((l) => l.event === "connection")).toMatchObject({ decision: "deny", reason: "another user's process", uid });
    } finally {
      chmodSync(box.runtimeDir, 0o700);
      chmodSync(box.socket, 0o600);
    }
  });

  test("root is let in to another user's agent, unless deny_root = true", async () => {
    const uid = Number(Bun.spawnSync(["id", "-u", USER]).stdout.toString().trim());
    const gid = Number(Bun.spawnSync(["id", "-g", USER]).stdout.toString().trim());
    for (const denyRoot of [false, true]) {
      const home = mkdtempSync("/tmp/ca-user-");
      const run = join(home, "run");
      mkdirSync(run, { mode: 0o700 });
      mkdirSync(join(home, "cfg/credagent"), { recursive: true });
      writeFileSync(
        join(home, "cfg/credagent/config.toml"),
        `[agent]\ndeny_root = ${denyRoot}\n\n[credentials.u]\nsource = "command"\ncommand = ["echo", "user-token"]\n`,
      );
      Bun.spawnSync(["chown", "-R", `${uid}:${gid}`, home]);
      chmodSync(home, 0o755);
      const env = {
        PATH: "/usr/bin:/bin",
        HOME: home,
        XDG_RUNTIME_DIR: run,
        XDG_CONFIG_HOME: join(home, "cfg"),
        XDG_STATE_HOME: join(home, "state"),
        XDG_DATA_HOME: join(home, "data"),
      };
      const agent = Bun.spawn([Bun.which("runuser")!, "-u", USER, "--", BIN, "agent", "-d", "--keyring", "file"], { env, stderr: "pipe" });
      try {
        const socket = join(run, "cred.sock");
        await waitFor(() => existsSync(socket), 5_000, "the other user's agent");
        // Root may traverse the 0700 directory regardless; the agent decides.
        const out = Bun.spawnSync([PYTHON, pyScript, socket, "/v1/credentials/u"]).stdout.toString();
        if (denyRoot) {
          expect(out).toStartWith("HTTP/1.1 403");
        } else {
          expect(out).toStartWith("HTTP/1.1 200");
          expect(out).toContain("user-token");
        }
      } finally {
        agent.kill("SIGTERM");
        await agent.exited;
        rmSync(home, { recursive: true, force: true });
      }
    }
  });
});

describe("confirm = true", () => {
  test("a new program waits for `credagent approve ID` from a terminal; the answer is remembered; no answer is a 403", async () => {
    const other = new Sandbox();
    try {
      other.env.CRED_SOCK = other.socket;
      const src = countingSource(other, "c", 3600);
      other.writeConfig(
        `[agent]\nconfirm_timeout = "8s"\n\n[credentials.c]\nsource = "command"\ncommand = ["${src.script}"]\nconfirm = true\n`,
      );
      await other.start();
      const ask = () => Bun.spawn([CURL, "-s", "--unix-socket", other.socket, "http://localhost/v1/credentials/c"], { stdout: "pipe" });
      const first = ask();
      let id = "";
      await waitFor(
        async () => {
          const list = await other.run(["approve"]);
          id = /^([0-9a-f]{8})\s+c\s+\d+\s+/m.exec(list.stdout)?.[1] ?? "";
          return id !== "";
        },
        8_000,
        "the pending approval",
      );
      // Without a terminal the answer is refused: a background program must not approve itself.
      const noTty = await other.run(["approve", id]);
      expect(noTty.code).toBe(1);
      expect(noTty.stderr).toContain("approvals come from a terminal");
      const withTty = Bun.spawnSync(
        ["python3", join(import.meta.dir, "../support/pty-run.py"), "[]", join(import.meta.dir, "../../build/credagent"), "approve", id],
        { env: other.env },
      );
      expect(JSON.parse(withTty.stdout.toString()).code).toBe(0);
      expect(JSON.parse(await new Response(first.stdout).text()).token).toBe("c-1");
      // Remembered for the agent's lifetime: the same program is not asked again.
      expect(JSON.parse(await new Response(ask().stdout).text()).token).toBe("c-1");
      // Another program is asked; unanswered, it is refused after the timeout.
      const started = Date.now();
      const py = Bun.spawnSync([PYTHON, pyScript, other.socket, "/v1/credentials/c"]).stdout.toString();
      expect(py).toStartWith("HTTP/1.1 403");
      expect(py).toContain("not confirmed by the user");
      expect(Date.now() - started).toBeGreaterThanOrEqual(7_900);
    } finally {
      await other.cleanup();
    }
  }, 40_000);

  const confirmBox = async (): Promise<Sandbox> => {
    const other = new Sandbox();
    other.env.CRED_SOCK = other.socket;
    const src = countingSource(other, "c", 3600);
    other.writeConfig(
      `[agent]\nconfirm_timeout = "8s"\n\n[credentials.c]\nsource = "command"\ncommand = ["${src.script}"]\nconfirm = true\n`,
    );
    await other.start();
    return other;
  };
  /** The pending approvals, as `credagent approve` lists them. */
  const pendingOf = async (other: Sandbox) =>
    [...(await other.run(["approve"])).stdout.matchAll(/^([0-9a-f]{8})\s+(\S+)\s+(\d+)\s+(\S+)$/gm)].map((m) => ({
      id: m[1]!,
      credential: m[2]!,
      pid: Number(m[3]),
      exe: m[4]!,
    }));
  const approveFromTerminal = (other: Sandbox, args: string[]) =>
    JSON.parse(
      Bun.spawnSync(["python3", join(import.meta.dir, "../support/pty-run.py"), "[]", BIN, "approve", ...args], {
        env: other.env,
      }).stdout.toString(),
    );

  test("a program without a terminal cannot approve its own request through script(1): refused, and 403 at the timeout", async () => {
    expect(Bun.which("script")).not.toBeNull();
    const other = await confirmBox();
    try {
      // The attack as found: ask in the background, then answer through a pty that script(1) provides.
      const attack = join(other.root, "attack.sh");
      writeFileSync(
        attack,
        `"$1" get c > "$2/got" 2> "$2/get.err" &
i=0
while [ $i -lt 50 ]; do
  id=$("$1" approve | awk '$2 == "c" { print $1 }')
  [ -n "$id" ] && break
  sleep 0.1
  i=$((i + 1))
done
echo "id=$id"
script -qec "'$1' approve $id" /dev/null
echo "approve-exit=$?"
wait $!
echo "get-exit=$?"
`,
      );
      const started = Date.now();
      // setsid: no controlling terminal, whatever the test runner has.
      const run = Bun.spawnSync(["setsid", "-w", "/bin/sh", attack, BIN, other.root], { env: other.env, stdin: "ignore", timeout: 25_000 });
      const out = run.stdout.toString();
      expect(out).toMatch(/^id=[0-9a-f]{8}$/m);
      expect(out).toMatch(/^approve-exit=1$/m);
      expect(out).toContain("which made the request: a program may not approve its own request");
      expect(out).toMatch(/^get-exit=[1-9]\d*$/m);
      expect(readFileSync(join(other.root, "got"), "utf8")).toBe("");
      expect(readFileSync(join(other.root, "get.err"), "utf8")).toContain("not confirmed by the user");
      expect(Date.now() - started).toBeGreaterThanOrEqual(7_900);
    } finally {
      await other.cleanup();
    }
  }, 40_000);

  test("credagent get is approved per program that runs it: approving sh does not approve python3; the audit log shows both", async () => {
    const other = await confirmBox();
    const children: Array<ReturnType<typeof Bun.spawn>> = [];
    try {
      const viaSh = Bun.spawn(["/bin/sh", "-c", '"$0" get c; exit $?', BIN], { env: other.env, stdout: "pipe", stderr: "pipe" });
      children.push(viaSh);
      let pending: Awaited<ReturnType<typeof pendingOf>> = [];
      await waitFor(async () => (pending = await pendingOf(other)).length > 0, 8_000, "the pending approval");
      // Listed as the shell that ran credagent, not as credagent.
      expect(pending).toEqual([{ id: expect.any(String), credential: "c", pid: viaSh.pid, exe: SH }]);
      expect(approveFromTerminal(other, [pending[0]!.id]).code).toBe(0);
      expect(await new Response(viaSh.stdout).text()).toBe("c-1\n");

      const viaPython = Bun.spawn([PYTHON, "-c", "import subprocess, sys; sys.exit(subprocess.call([sys.argv[1], 'get', 'c']))", BIN], {
        env: other.env,
        stdout: "pipe",
        stderr: "pipe",
      });
      children.push(viaPython);
      await waitFor(async () => (pending = await pendingOf(other)).length > 0, 8_000, "python3's own pending approval");
      expect(pending).toEqual([{ id: expect.any(String), credential: "c", pid: viaPython.pid, exe: PYTHON }]);
      expect(approveFromTerminal(other, [pending[0]!.id, "--deny"]).code).toBe(0);
      expect(await viaPython.exited).not.toBe(0);
      expect(await new Response(viaPython.stdout).text()).toBe("");

      const audit = () =>
        readFileSync(join(other.stateDir, "credagent", "audit.log"), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l));
      await waitFor(() => audit().length >= 2, 3_000, "the audit lines");
      const bin = realpathSync(BIN);
      expect(audit().find((l) => l.decision === "allow")).toMatchObject({
        credential: "c",
        exe: SH,
        pid: viaSh.pid,
        via: { exe: bin, pid: expect.any(Number) },
      });
      // How it was confirmed: which process answered, on which terminal (a detached program that
      // opened a pseudo-terminal to approve itself is not stopped, but is seen here).
      const allowReason: string = audit().find((l) => l.decision === "allow").reason;
      expect(allowReason).toContain(`confirmed by the user with 'credagent approve' from pid `);
      expect(allowReason).toContain(`(${bin}) on /dev/pts/`);
      expect(audit().find((l) => l.decision === "deny").reason).toMatch(
        /denied with 'credagent approve' from pid \d+ .* on \/dev\/pts\/\d+\)$/,
      );
      expect(audit().find((l) => l.decision === "deny")).toMatchObject({
        credential: "c",
        exe: PYTHON,
        pid: viaPython.pid,
        via: { exe: bin },
      });
      expect((await other.run(["log"])).stdout).toContain(
        `ALLOW fetch c by pid ${viaSh.pid} uid ${process.getuid!()} ${SH} via ${bin} (pid `,
      );
    } finally {
      for (const child of children) child.kill();
      await other.cleanup();
    }
  }, 40_000);
});
