import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

// The Windows build against its named pipe, under Wine (Debian's wine64 8.0), with the compiled
// .exe: the agent serves the pipe, and the CLI reaches it over node:http (Bun's fetch cannot open a
// pipe). Wine's quirks are worked around here, never in the product: Bun's executables need
// bcryptprimitives.dll!ProcessPrng, which Wine 8 lacks (test/support/windows/bcryptprimitives.c);
// Wine's helper processes inherit stdio, so every output goes to a file, never a pipe; the OS
// keyring addon does not load under Wine 8 without a path quirk, so these tests use command
// credentials, which need no store.

const ROOT = resolve(import.meta.dir, "../..");
const WINE = "/usr/lib/wine/wine64";
const WINESERVER = "/usr/lib/wine/wineserver64";
const MINGW = Bun.which("x86_64-w64-mingw32-gcc");
const missing = !existsSync(WINE) ? "wine64" : !MINGW ? "gcc-mingw-w64-x86-64-win32" : null;
if (missing && process.env.CI === "true") throw new Error(`CI=true and ${missing} is missing: test/run.sh installs it`);
if (missing) console.warn(`skipping the Windows tests: ${missing} is not installed (apt-get install wine64 gcc-mingw-w64-x86-64-win32)`);

const EXE = join(ROOT, "build/credagent-windows-x64.exe");
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  if (missing) return;
  dir = mkdtempSync("/tmp/ca-wine-");
  const build = Bun.spawnSync([join(ROOT, "scripts/build.sh"), "bun-windows-x64"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`the Windows build failed: ${build.stderr}`);
  const prefix = Bun.spawnSync([join(ROOT, "test/support/windows/prefix.sh"), join(dir, "prefix")], { stdout: "pipe", stderr: "pipe", timeout: 120_000 });
  if (prefix.exitCode !== 0) throw new Error(`the Wine prefix could not be made: ${prefix.stderr}`);
  mkdirSync(join(dir, "cfg"));
  writeFileSync(join(dir, "cfg", "config.toml"), `[credentials.db]\nsource = "command"\ncommand = ["cmd", "/c", "echo", "tok-123"]\n`);
  env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    WINEPREFIX: join(dir, "prefix"),
    WINEDEBUG: "-all",
    WINEDLLOVERRIDES: "mscoree,mshtml=",
    // Z: is the Linux root in every Wine prefix.
    CREDAGENT_CONFIG: `Z:${join(dir, "cfg", "config.toml").replaceAll("/", "\\")}`,
  };
}, 180_000);

afterAll(async () => {
  if (missing || !dir) return;
  // Every Wine process of this prefix, whatever happened.
  Bun.spawnSync([WINESERVER, "-k"], { env });
  rmSync(dir, { recursive: true, force: true });
});

/** The prefix's user directory (Wine names it after the Unix user). */
function userDir(): string {
  const { readdirSync } = require("node:fs") as typeof import("node:fs");
  return readdirSync(join(dir, "prefix/drive_c/users")).find((d) => d !== "Public")!;
}

let seq = 0;
/** Runs a Windows program under Wine, its output captured in files. */
async function wine(args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const n = seq++;
  const out = join(dir, `out-${n}`);
  const err = join(dir, `err-${n}`);
  const proc = Bun.spawn([WINE, ...args], { env, cwd: dir, stdin: "ignore", stdout: Bun.file(out), stderr: Bun.file(err) });
  const code = await Promise.race([proc.exited, Bun.sleep(timeoutMs).then(() => -1)]);
  if (code === -1) proc.kill("SIGKILL");
  const read = (f: string) => (existsSync(f) ? readFileSync(f, "utf8").replaceAll("\r\n", "\n") : "");
  return { code, stdout: read(out), stderr: read(err) };
}

test.skipIf(missing !== null)(
  "the .exe under Wine: start (PowerShell by default), status, list, get, get --json, exec, an orderly stop over the pipe; no session token, no answer",
  async () => {
    expect((await wine([EXE, "version"])).stdout).toMatch(/^credagent \d+\.\d+\.\d+\n$/);
    // start: the agent detached, ready when its pipe answers; PowerShell code by default (no SHELL).
    const started = await wine([EXE, "start"]);
    // Without an OS keyring (under Wine) start says the file store waits for its passphrase: a notice, not a failure.
    expect(started.stderr).not.toContain("credagent start:");
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(/^\$env:CRED_SOCK = '\\\\\.\\pipe\\credagent-[^']+';\n\$env:CRED_AGENT_PID = '\d+';\n/);
    expect((await wine([EXE, "start", "-s"])).stdout).toContain("CRED_SOCK=");
    const status = await wine([EXE, "status"]);
    expect(status.stderr).toBe("");
    expect(status.code).toBe(0);
    const pipe = /socket (\\\\\.\\pipe\\credagent-\S+),/.exec(status.stdout)?.[1];
    expect(pipe).toBeDefined();
    expect((await wine([EXE, "list"])).stdout).toMatch(/^db\s+command/m);
    const get = await wine([EXE, "get", "db"]);
    expect(get).toMatchObject({ code: 0, stdout: "tok-123\n" });
    expect(JSON.parse((await wine([EXE, "get", "db", "--json"])).stdout)).toMatchObject({ name: "db", kind: "bearer", token: "tok-123" });
    // The token reaches a cmd child through its environment only.
    expect((await wine([EXE, "exec", "--env", "TOKEN=db", "--", "cmd", "/c", "echo", "%TOKEN%"])).stdout).toBe("tok-123\n");

    // A program that does not send the session token gets nothing: any local user can open a pipe.
    const probe = join(dir, "probe.ts");
    writeFileSync(
      probe,
      `import { request } from "node:http";
const alive = setInterval(() => {}, 60_000);
request({ socketPath: ${JSON.stringify(pipe)}, path: "/v1/credentials/db", headers: { host: "localhost" } }, (res) => {
  let body = ""; res.on("data", (d) => (body += d)); res.on("end", () => { console.log(res.statusCode, body); clearInterval(alive); });
}).on("error", (e) => { console.log("error", e.message); clearInterval(alive); }).end();`,
    );
    const built = Bun.spawnSync([join(ROOT, "node_modules/.bin/bun"), "build", probe, "--compile", "--target=bun-windows-x64", "--outfile", join(dir, "probe.exe")], { stdout: "pipe", stderr: "pipe" });
    expect(built.exitCode).toBe(0);
    const refused = await wine([join(dir, "probe.exe")]);
    expect(refused.stdout).toStartWith("403 ");
    expect(refused.stdout).toContain("session token");
    expect(refused.stdout).not.toContain("tok-123");

    // stop asks the agent over the pipe (Windows has no SIGTERM): its orderly shutdown removes the token file.
    const tokenFile = join(dir, "prefix/drive_c/users", userDir(), "AppData/Local/credagent/session-token");
    expect(existsSync(tokenFile)).toBe(true);
    const stop = await wine([EXE, "stop"]);
    expect(stop.stderr).toBe("");
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain("Remove-Item Env:CRED_SOCK");
    expect(existsSync(tokenFile)).toBe(false);
    expect((await wine([EXE, "status"])).code).toBe(3);
  },
  240_000,
);
