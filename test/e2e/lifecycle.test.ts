import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { BIN, countingSource, processAlive, Sandbox, waitFor } from "./harness.ts";

const boxes: Sandbox[] = [];
function sandbox(): Sandbox {
  const box = new Sandbox();
  boxes.push(box);
  return box;
}
afterEach(async () => {
  await Promise.all(boxes.splice(0).map((b) => b.cleanup()));
});

describe("start / stop", () => {
  test("start prints sh code, the socket is 0600 in a 0700 dir, and a second start starts nothing", async () => {
    const box = sandbox();
    const first = await box.run(["start"]);
    expect(first.code).toBe(0);
    const pid = Number(/CRED_AGENT_PID=(\d+)/.exec(first.stdout)![1]);
    expect(first.stdout).toBe(
      `CRED_SOCK=${box.socket}; export CRED_SOCK;\nCRED_AGENT_PID=${pid}; export CRED_AGENT_PID;\necho 'Agent pid ${pid}';\n`,
    );
    expect(processAlive(pid)).toBe(true);
    expect(lstatSync(box.socket).isSocket()).toBe(true);
    expect(statSync(box.socket).mode & 0o777).toBe(0o600);
    expect(statSync(box.runtimeDir).mode & 0o777).toBe(0o700);

    const second = await box.run(["start"]);
    expect(second.stdout).toBe(first.stdout);

    const shellEval = Bun.spawnSync(["sh", "-c", `eval "$(${BIN} start)"; echo "$CRED_SOCK $CRED_AGENT_PID"`], { env: box.env });
    expect(shellEval.stdout.toString().trim().split("\n").pop()).toBe(`${box.socket} ${pid}`);
  });

  test("csh, fish and PowerShell forms, by flag and by $SHELL", async () => {
    const box = sandbox();
    const pid = await box.start();
    expect((await box.run(["start", "-c"])).stdout).toContain(`setenv CRED_AGENT_PID ${pid};`);
    expect((await box.run(["start"], { env: { SHELL: "/usr/bin/fish" } })).stdout).toContain(`set -x CRED_SOCK ${box.socket};`);
    expect((await box.run(["start", "--powershell"])).stdout).toContain(`$env:CRED_AGENT_PID = '${pid}';`);
    expect((await box.run(["start", "-s", "-c"])).code).toBe(2);
  });

  test("stop ends the agent, removes the socket and prints the unset code", async () => {
    const box = sandbox();
    const pid = await box.start();
    const r = await box.run(["stop"], { env: { CRED_SOCK: box.socket, CRED_AGENT_PID: String(pid) } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`unset CRED_SOCK;\nunset CRED_AGENT_PID;\necho 'Agent pid ${pid} killed';\n`);
    expect(processAlive(pid)).toBe(false);
    expect(existsSync(box.socket)).toBe(false);
    expect((await box.run(["-k"])).code).toBe(3);
    expect((await box.run(["status"])).code).toBe(3);
  });

  test("stop removes what the agent made: the socket and its lock file, the database sockets and theirs", async () => {
    const box = sandbox();
    box.writeConfig(
      `[credentials.pg]\nsource = "command"\ncommand = ["echo", "x"]\n\n` +
        `[databases.appdb]\ncredential = "pg"\nprotocol = "postgresql"\nserver = "127.0.0.1:1"\ntls = "disable"\n`,
    );
    await box.start();
    const dbSocket = join(box.runtimeDir, "credagent/db/appdb/.s.PGSQL.5432");
    await waitFor(() => existsSync(dbSocket), 5_000, "the database socket");
    for (const made of [box.socket, `${box.socket}.lock`, `${dbSocket}.lock`]) expect(existsSync(made)).toBe(true);
    expect((await box.run(["stop"], { env: { CRED_SOCK: box.socket } })).code).toBe(0);
    for (const made of [box.socket, `${box.socket}.lock`, `${box.socket}.token`, dbSocket, `${dbSocket}.lock`]) {
      expect({ path: made, exists: existsSync(made) }).toEqual({ path: made, exists: false });
    }
    // The next agent makes them again.
    await box.start();
    expect(existsSync(`${box.socket}.lock`)).toBe(true);
  });

  test("stops and starts racing on one socket never leave two agents (a lock file removed at stop is not taken twice)", async () => {
    const box = sandbox();
    box.env.CRED_SOCK = box.socket;
    await box.start();
    const agents = () =>
      Bun.spawnSync(["pgrep", "-f", `${BIN} agent .*${box.socket}`])
        .stdout.toString()
        .trim()
        .split("\n")
        .filter(Boolean)
        .map(Number);
    for (let round = 0; round < 4; round += 1) {
      await Promise.all([box.run(["stop"]), ...Array.from({ length: 4 }, () => box.run(["start", "-s"]))]);
      await Bun.sleep(200);
      const alive = agents();
      expect(alive.length).toBeLessThanOrEqual(1);
      if (alive.length === 1) expect(JSON.parse((await box.request("GET", "/v1/health")).body).pid).toBe(alive[0]);
      if (alive.length === 0) await box.start();
    }
  }, 60_000);

  test("ten concurrent starts leave exactly one agent, and all print its pid", async () => {
    const box = sandbox();
    const results = await Promise.all(Array.from({ length: 10 }, () => box.run(["start", "-s"])));
    for (const r of results) expect(r.code).toBe(0);
    const pids = new Set(results.map((r) => /CRED_AGENT_PID=(\d+)/.exec(r.stdout)?.[1]));
    expect(pids.size).toBe(1);
    const pid = Number([...pids][0]);
    const agents = Bun.spawnSync(["pgrep", "-f", `${BIN} agent .*${box.socket}`])
      .stdout.toString()
      .trim()
      .split("\n")
      .filter(Boolean);
    expect(agents.map(Number)).toEqual([pid]);
  });

  test("a stale socket left by a killed agent is replaced", async () => {
    const box = sandbox();
    const pid = await box.start();
    process.kill(pid, "SIGKILL");
    await waitFor(() => !processAlive(pid), 5_000, "the agent to die");
    expect(lstatSync(box.socket).isSocket()).toBe(true);
    expect((await box.run(["status"])).code).toBe(3);
    const next = await box.start();
    expect(next).not.toBe(pid);
    expect((await box.request("GET", "/v1/health")).status).toBe(200);
  });

  test("-t: the agent exits cleanly when its lifetime is up", async () => {
    const box = sandbox();
    const pid = await box.start(["-t", "1s"]);
    await waitFor(() => !processAlive(pid), 5_000, "the agent to exit after -t 1s");
    expect(existsSync(box.socket)).toBe(false);
    expect(box.agentLog).toContain('reason="lifetime reached"');
  });

  test("refuses an unsafe socket directory or a symlinked socket path, saying how to fix it", async () => {
    const box = sandbox();
    chmodSync(box.runtimeDir, 0o755);
    let r = await box.run(["start"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`chmod 700 ${box.runtimeDir}`);
    chmodSync(box.runtimeDir, 0o700);
    symlinkSync(join(box.root, "elsewhere"), box.socket);
    r = await box.run(["start"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("symbolic link");
  });

  test("without XDG_RUNTIME_DIR the socket goes to a private directory under TMPDIR", async () => {
    const box = sandbox();
    const r = await box.run(["start"], { env: { XDG_RUNTIME_DIR: undefined, TMPDIR: box.root } });
    expect(r.code).toBe(0);
    const dir = join(box.root, `credagent-${process.getuid!()}`);
    expect(r.stdout).toContain(`CRED_SOCK=${dir}/cred.sock;`);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const stop = await box.run(["stop"], { env: { XDG_RUNTIME_DIR: undefined, TMPDIR: box.root } });
    expect(stop.code).toBe(0);
  });

  test("an invalid config stops start with the file, the key and the problem", async () => {
    const box = sandbox();
    box.writeConfig('[credentials.db]\nsource = "command"\ncommand = "not-a-list"\n');
    const r = await box.run(["start"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(box.configFile);
    expect(r.stderr).toContain("credentials.db.command");
  });
});

describe("signals", () => {
  test("SIGTERM answers the request in flight, then removes the socket and exits 0", async () => {
    const box = sandbox();
    const slow = box.script("slow.sh", 'sleep 1; echo \'{"access_token":"slow-token","expires_in":600}\'');
    box.writeConfig(`[credentials.slow]\nsource = "command"\ncommand = ["${slow}"]\n`);
    const agent = Bun.spawn([BIN, "agent", "-d"], { env: box.env, stdout: "pipe", stderr: "pipe" });
    // Answering, not only there: the socket file exists from bind(), a moment before listen().
    const answers = async () => {
      try {
        return existsSync(box.socket) && (await box.request("GET", "/v1/health")).status === 200;
      } catch {
        return false;
      }
    };
    await waitFor(answers, 5_000, "the socket to answer");
    const inFlight = box.request("GET", "/v1/credentials/slow");
    await Bun.sleep(300);
    agent.kill("SIGTERM");
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).token).toBe("slow-token");
    expect(await agent.exited).toBe(0);
    expect(existsSync(box.socket)).toBe(false);
    const log = await new Response(agent.stderr).text();
    expect(log).toContain("agent stopping reason=SIGTERM");
    expect(log).not.toContain("slow-token");
  });

  test("SIGHUP reloads: unchanged credentials keep their token, a bad config keeps the old one", async () => {
    const box = sandbox();
    const a = countingSource(box, "a", 3600);
    const b = countingSource(box, "b", 3600);
    const conf = (bTimeout: string) =>
      `[credentials.a]\nsource = "command"\ncommand = ["${a.script}"]\n\n` +
      `[credentials.b]\nsource = "command"\ncommand = ["${b.script}"]\ntimeout = "${bTimeout}"\n`;
    box.writeConfig(conf("10s"));
    const pid = await box.start();
    expect((await box.run(["get", "a"])).stdout).toBe("a-1\n");
    expect((await box.run(["get", "b"])).stdout).toBe("b-1\n");

    box.writeConfig(conf("20s") + '\n[credentials.c]\nsource = "command"\ncommand = ["true"]\n');
    process.kill(pid, "SIGHUP");
    await waitFor(() => box.agentLog.includes("config reloaded"), 5_000, "the reload");
    expect((await box.run(["get", "a"])).stdout).toBe("a-1\n");
    expect((await box.run(["get", "b"])).stdout).toBe("b-2\n");
    expect(a.count()).toBe(1);
    expect(JSON.parse((await box.run(["list", "--json"])).stdout).map((c: { name: string }) => c.name)).toEqual(["a", "b", "c"]);

    box.writeConfig("[credentials.a\n");
    process.kill(pid, "SIGHUP");
    await waitFor(() => box.agentLog.includes("config reload failed"), 5_000, "the failed reload");
    expect((await box.run(["get", "a"])).stdout).toBe("a-1\n");
    expect(processAlive(pid)).toBe(true);
  });
});

describe("a phase that fails releases exactly what the phases before it started", () => {
  /** An agent in the foreground with a kept file, a database socket and the SDK endpoints on `port`. */
  async function failingAgent(box: Sandbox, port: number): Promise<{ code: number; stderr: string }> {
    const src = countingSource(box, "db", 3600);
    box.writeConfig(
      `[endpoints]\nport = ${port}\naws = "db"\n\n` +
        `[credentials.db]\nsource = "command"\ncommand = ["${src.script}"]\nusername = "app"\n\n` +
        `[files.env]\nformat = "env"\ntemplate = "TOKEN={{ db }}\\n"\n\n` +
        `[databases.pg]\ncredential = "db"\nprotocol = "postgresql"\nserver = "127.0.0.1:1"\ntls = "disable"\n`,
    );
    const proc = Bun.spawn([BIN, "agent", "-a", box.socket, "-d"], { env: box.env, stdout: "ignore", stderr: "pipe" });
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    return { code, stderr };
  }
  const leftovers = (box: Sandbox) =>
    [
      box.socket,
      `${box.socket}.token`,
      join(box.runtimeDir, "credagent", "db", "pg", ".s.PGSQL.5432"),
      join(box.runtimeDir, "credagent", "env"),
    ].filter((p) => existsSync(p));

  test("the SDK endpoints' port in use (the last phase): the database socket, the socket, its token and the kept file are gone", async () => {
    const box = sandbox();
    // The port taken by another program.
    const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const r = await failingAgent(box, taken.port);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${taken.port}: the port is in use by another program`);
      // Before, the database listener started before the endpoints stayed up in a process that
      // went on running half-configured.
      expect(leftovers(box)).toEqual([]);
    } finally {
      taken.stop(true);
    }
  });

  test("the socket's directory unsafe (the front doors' phase): the kept file written by the core is gone, nothing listens", async () => {
    const box = sandbox();
    chmodSync(box.runtimeDir, 0o755);
    const r = await failingAgent(box, 0);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("has mode 755, open to other users");
    expect(leftovers(box)).toEqual([]);
  });
});
