import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { countingSource, Sandbox } from "./harness.ts";

// The client libraries for apps that read CRED_SOCK (clients/node, clients/python), each run by the
// real runtime (node, python3) against the real agent, as a user's app would.

const CLIENTS = resolve(import.meta.dir, "../../clients");
let box: Sandbox;
let counter: ReturnType<typeof countingSource>;

beforeAll(async () => {
  const build = Bun.spawnSync([join(CLIENTS, "node/build.sh")], { stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`clients/node/build.sh failed: ${build.stderr}`);
  box = new Sandbox();
  counter = countingSource(box, "api", 3600);
  box.writeConfig(
    `[credentials.api]\nsource = "command"\ncommand = ["${counter.script}"]\n\n[credentials.broken]\nsource = "command"\ncommand = ["/bin/false"]\n`,
  );
  await box.start();
}, 60_000);
afterAll(async () => {
  await box?.cleanup();
});

/** Runs a script with the real program; the app sees the agent only through CRED_SOCK. */
function runApp(argv: string[], script: string, file: string, env: Record<string, string> = {}) {
  const path = join(box.root, file);
  writeFileSync(path, script);
  const r = Bun.spawnSync([...argv, path], {
    env: { ...box.env, CRED_SOCK: box.socket, ...env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  if (r.exitCode !== 0) throw new Error(`${argv[0]} ${file} exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout.toString());
}

const nodeApp = (kind: "mjs" | "cjs") => `
${kind === "mjs" ? `import { CredagentClient, getCredential, CredagentError } from ${JSON.stringify(join(CLIENTS, "node/dist/index.mjs"))};` : `const { CredagentClient, getCredential, CredagentError } = require(${JSON.stringify(join(CLIENTS, "node/dist/index.cjs"))});`}
(async () => {
  const first = await getCredential("api");
  // 20 callers at once on a fresh client: one request to the agent, one answer for all.
  const client = new CredagentClient();
  const many = await Promise.all(Array.from({ length: 20 }, () => client.getCredential("api")));
  const errors = {};
  for (const name of ["nope", "broken"]) {
    try { await client.getCredential(name); } catch (err) { errors[name] = { code: err.code, status: err.status, isError: err instanceof CredagentError, message: err.message }; }
  }
  try { await new CredagentClient({ socketPath: ${JSON.stringify(join(box?.root ?? "/nonexistent", "absent.sock"))} }).getCredential("api"); } catch (err) { errors.absent = { code: err.code, message: err.message }; }
  // Cached: the same object until shortly before expiry; a minValid beyond the lifetime asks again.
  const again = await client.getCredential("api");
  console.log(JSON.stringify({ first, sameAnswer: many.every((c) => c === many[0]), cached: again === many[0], token: many[0].token, errors }));
})().catch((err) => { console.error(err); process.exit(1); });
`;

for (const kind of ["mjs", "cjs"] as const) {
  test(`node client (${kind === "mjs" ? "ESM" : "CommonJS"}) under plain Node: the token, one request for concurrent callers, the API's error codes`, () => {
    const before = counter.count();
    const out = runApp(["node"], nodeApp(kind), `app.${kind}`);
    expect(out.first.name).toBe("api");
    expect(out.first.token).toMatch(/^api-\d+$/);
    expect(typeof out.first.expires_at).toBe("string");
    expect(out.sameAnswer).toBe(true);
    expect(out.cached).toBe(true);
    expect(out.token).toBe(out.first.token);
    // The agent's own cache answered: the source ran at most once for all of it.
    expect(counter.count() - before).toBeLessThanOrEqual(1);
    expect(out.errors.nope).toMatchObject({ code: "unknown_credential", status: 404, isError: true });
    expect(out.errors.nope.message).toContain("nope");
    expect(out.errors.broken.isError).toBe(true);
    expect(out.errors.broken.status).toBeGreaterThanOrEqual(500);
    expect(out.errors.absent.code).toBe("agent_not_running");
    expect(out.errors.absent.message).toContain("credagent start");
  });
}

test("node client: concurrent callers share one request (counted at a socket of the test's own)", async () => {
  // A stand-in agent that counts requests: only this test may fake the agent, the others use the real one.
  let requests = 0;
  const sock = join(box.root, "fake.sock");
  const server = Bun.serve({
    unix: sock,
    async fetch(req) {
      requests += 1;
      await Bun.sleep(100);
      const url = new URL(req.url);
      return Response.json({
        name: url.pathname.split("/").pop(),
        token: `t${requests}`,
        token_type: "Bearer",
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        expires_in: 3600,
      });
    },
  });
  try {
    const app = `
      import { CredagentClient } from ${JSON.stringify(join(CLIENTS, "node/dist/index.mjs"))};
      const c = new CredagentClient({ socketPath: ${JSON.stringify(sock)} });
      const all = await Promise.all(Array.from({ length: 50 }, () => c.getCredential("db")));
      const later = await c.getCredential("db");
      const fresh = await c.getCredential("db", { minValid: 7200 });
      c.clear();
      const cleared = await c.getCredential("db");
      console.log(JSON.stringify({ tokens: [...new Set(all.map((x) => x.token))], later: later.token, fresh: fresh.token, cleared: cleared.token }));
    `;
    const path = join(box.root, "count.mjs");
    writeFileSync(path, app);
    const proc = Bun.spawn(["node", path], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.tokens).toEqual(["t1"]);
    expect(out.later).toBe("t1");
    // A minValid longer than what is left asks the agent again; so does a call after clear().
    expect(out.fresh).toBe("t2");
    expect(out.cleared).toBe("t3");
    expect(requests).toBe(3);
  } finally {
    server.stop(true);
  }
});

test("python client (stdlib only) under python3: the token, the cache, the API's error codes", () => {
  const app = `
import json, sys, threading
sys.path.insert(0, ${JSON.stringify(join(CLIENTS, "python"))})
import credagent
first = credagent.get_credential("api")
client = credagent.Client()
results = []
threads = [threading.Thread(target=lambda: results.append(client.get_credential("api"))) for _ in range(10)]
[t.start() for t in threads]
[t.join() for t in threads]
errors = {}
for name in ["nope", "broken"]:
    try:
        client.get_credential(name)
    except credagent.CredagentError as err:
        errors[name] = {"code": err.code, "status": err.status, "message": str(err)}
try:
    credagent.Client(socket_path=${JSON.stringify(join(box?.root ?? "/nonexistent", "absent.sock"))}).get_credential("api")
except credagent.CredagentError as err:
    errors["absent"] = {"code": err.code, "message": str(err)}
print(json.dumps({"first": first, "same": all(r is results[0] for r in results), "again": client.get_credential("api") is results[0], "errors": errors}))
`;
  const out = runApp(["python3"], app, "app.py");
  expect(out.first.token).toMatch(/^api-\d+$/);
  expect(out.same).toBe(true);
  expect(out.again).toBe(true);
  expect(out.errors.nope).toMatchObject({ code: "unknown_credential", status: 404 });
  expect(out.errors.broken.status).toBeGreaterThanOrEqual(500);
  expect(out.errors.absent.code).toBe("agent_not_running");
});

/** The app's own directory, as a user's project would be: the client installed into it, not found by path. */
function appDir(name: string): string {
  const dir = join(box.root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

test("node client as a package: npm pack's tarball installs into an app (offline, npm install ./credagent-client-VERSION.tgz); ESM and CommonJS import it by name", () => {
  const version = JSON.parse(readFileSync(join(CLIENTS, "node/package.json"), "utf8")).version as string;
  const dir = appDir("node-app");
  const packed = Bun.spawnSync(["npm", "pack", "--silent", "--pack-destination", dir], {
    cwd: join(CLIENTS, "node"),
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(packed.exitCode).toBe(0);
  const tarball = `credagent-client-${version}.tgz`;
  expect(packed.stdout.toString().trim()).toBe(tarball);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true }));
  const install = Bun.spawnSync(["npm", "install", "--offline", "--no-audit", "--no-fund", "--cache", join(dir, ".npm"), `./${tarball}`], {
    cwd: dir,
    env: { ...process.env, HOME: dir },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  expect(install.stderr.toString()).not.toContain("ERR");
  expect(install.exitCode).toBe(0);
  expect(existsSync(join(dir, "node_modules/@credagent/client/README.md"))).toBe(true);
  const esm = `import { getCredential } from "@credagent/client";\nconsole.log(JSON.stringify(await getCredential("api")));\n`;
  const cjs = `const { getCredential } = require("@credagent/client");\ngetCredential("api").then((c) => console.log(JSON.stringify(c)));\n`;
  for (const [file, script] of [
    ["app.mjs", esm],
    ["app.cjs", cjs],
  ] as const) {
    writeFileSync(join(dir, file), script);
    const r = Bun.spawnSync(["node", file], {
      cwd: dir,
      env: { ...box.env, CRED_SOCK: box.socket },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 30_000,
    });
    expect(r.stderr.toString()).toBe("");
    expect(JSON.parse(r.stdout.toString()).token).toMatch(/^api-\d+$/);
  }
}, 90_000);

test("python client as a package: pip installs clients/python (pyproject.toml, no build dependencies, offline) and its wheel into a venv; the app imports it with no PYTHONPATH", () => {
  const dir = appDir("py-app");
  const venv = join(dir, "venv");
  // Debian's python3 and its pip, installing into a venv of the test's own (pip --python: no pip
  // copied into the venv first), nothing fetched: --no-index.
  const made = Bun.spawnSync(["/usr/bin/python3", "-m", "venv", "--without-pip", venv], {
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  expect(made.stderr.toString()).toBe("");
  expect(made.exitCode).toBe(0);
  const pip = (args: string[]) =>
    Bun.spawnSync(["/usr/bin/python3", "-m", "pip", "--python", join(venv, "bin/python"), "--disable-pip-version-check", ...args], {
      cwd: dir,
      env: { PATH: "/usr/bin:/bin", HOME: dir, PYTHONDONTWRITEBYTECODE: "1" },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 60_000,
    });
  const fromDir = pip(["install", "--no-index", join(CLIENTS, "python")]);
  expect(fromDir.stderr.toString()).toBe("");
  expect(fromDir.exitCode).toBe(0);
  const app = `import credagent, json\nprint(json.dumps({"file": credagent.__file__, "token": credagent.get_credential("api")["token"]}))\n`;
  writeFileSync(join(dir, "app.py"), app);
  const run = () => {
    const r = Bun.spawnSync([join(venv, "bin/python"), "app.py"], {
      cwd: dir,
      env: { ...box.env, CRED_SOCK: box.socket, PYTHONDONTWRITEBYTECODE: "1" },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 30_000,
    });
    expect(r.stderr.toString()).toBe("");
    return JSON.parse(r.stdout.toString()) as { file: string; token: string };
  };
  const installed = run();
  expect(installed.file.startsWith(join(venv, "lib"))).toBe(true);
  expect(installed.token).toMatch(/^api-\d+$/);

  // The wheel a release archive ships, built by the same backend, installs the same.
  const wheels = join(dir, "wheels");
  mkdirSync(wheels);
  const built = Bun.spawnSync(["/usr/bin/python3", join(CLIENTS, "python/_backend.py"), wheels], { stdout: "pipe", stderr: "pipe" });
  expect(built.exitCode).toBe(0);
  const wheel = built.stdout.toString().trim();
  expect(wheel).toMatch(/^credagent-\d+\.\d+\.\d+-py3-none-any\.whl$/);
  expect(pip(["uninstall", "-y", "credagent"]).exitCode).toBe(0);
  const fromWheel = pip(["install", "--no-index", join(wheels, wheel)]);
  expect(fromWheel.exitCode).toBe(0);
  expect(run().token).toMatch(/^api-\d+$/);
}, 120_000);
