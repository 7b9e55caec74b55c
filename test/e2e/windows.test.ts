import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { approveDevice } from "../support/device-approve.ts";
import { TestProvider } from "../support/oidc.ts";
import { listProcesses, winePath } from "../support/processes.ts";

// The Windows build against its named pipe, under Wine (Debian's wine64 8.0), with the compiled
// .exe: the agent serves the pipe, and the CLI reaches it over node:http (Bun's fetch cannot open a
// pipe). Wine's quirks are worked around here, never in the product:
// - Bun's executables need bcryptprimitives.dll!ProcessPrng, which Wine 8 lacks
//   (test/support/windows/bcryptprimitives.c);
// - Wine's helper processes inherit stdio, so every output goes to a file, never a pipe;
// - the OS keyring binding Bun embeds in the .exe is written to a temporary path from which Wine 8's
//   LoadLibrary fails ("Module not found"); the same file loads from a Z: path, so the tests name it
//   with NAPI_RS_NATIVE_LIBRARY_PATH (@napi-rs/keyring's own override).
// Standard input is given from files; piped input is tested once, as a user would pipe it.

const ROOT = resolve(import.meta.dir, "../..");
const WINE = "/usr/lib/wine/wine64";
const WINESERVER = "/usr/lib/wine/wineserver64";
const MINGW = Bun.which("x86_64-w64-mingw32-gcc");
const missing = !existsSync(WINE) ? "wine64" : !MINGW ? "gcc-mingw-w64-x86-64-win32" : null;
if (missing && process.env.CI === "true") throw new Error(`CI=true and ${missing} is missing: test/run.sh installs it`);
if (missing) console.warn(`skipping the Windows tests: ${missing} is not installed (apt-get install wine64 gcc-mingw-w64-x86-64-win32)`);

const EXE = join(ROOT, "build/credagent-windows-x64.exe");
const BINDING = join(ROOT, "node_modules/@napi-rs/keyring-win32-x64-msvc/keyring.win32-x64-msvc.node");
let dir: string;
let env: Record<string, string>;
let probe: string;

/** A Linux path as Windows programs under Wine see it (Z: is the Linux root in every prefix). */
const winPath = winePath;

/**
 * This file's Wine processes: those of its own prefix (every Wine process carries WINEPREFIX), never
 * a program's name machine-wide, which would wait on (or be disturbed by) another suite run's.
 */
const ownWineProcesses = () => listProcesses().filter((p) => p.environ?.includes(`WINEPREFIX=${join(dir, "prefix")}`));

beforeAll(async () => {
  if (missing) return;
  // Inside this run's directory when test/run.sh gives one, so that its leftover check finds them.
  dir = mkdtempSync(join(process.env.CREDAGENT_TEST_RUN_DIR ?? tmpdir(), "ca-wine-"));
  env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    WINEPREFIX: join(dir, "prefix"),
    // Debian's Wine puts its server's directory in $TMPDIR/wine-XXXXXX and leaves it behind: ours
    // goes with the rest. Every Wine command of this prefix must see the same TMPDIR to find its server.
    TMPDIR: join(dir, "tmp"),
    WINEDEBUG: "-all",
    WINEDLLOVERRIDES: "mscoree,mshtml=",
    NAPI_RS_NATIVE_LIBRARY_PATH: winPath(BINDING),
  };
  mkdirSync(env.TMPDIR!, { mode: 0o700 });
  const build = Bun.spawnSync([join(ROOT, "scripts/build.sh"), "bun-windows-x64"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`the Windows build failed: ${build.stderr}`);
  const prefix = Bun.spawnSync([join(ROOT, "test/support/windows/prefix.sh"), env.WINEPREFIX!], {
    env,
    stdout: "pipe",
    stderr: "pipe",
    timeout: 120_000,
  });
  if (prefix.exitCode !== 0) throw new Error(`the Wine prefix could not be made: ${prefix.stderr}`);
  // One small Windows program for three jobs: a command credential that counts its fetches (each
  // token says how many fetches made it), one that prints a username and password, and a client
  // that asks the pipe without the session token.
  const source = join(dir, "probe.ts");
  writeFileSync(
    source,
    `import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
const [mode, arg] = process.argv.slice(2);
if (mode === "aws") {
  console.log(JSON.stringify({ Version: 1, AccessKeyId: "AKIAWINE", SecretAccessKey: "wine-secret", SessionToken: "wine-session" }));
} else if (mode === "login") {
  console.log(JSON.stringify({ username: "app-user", password: "app-pass" }));
} else if (mode === "count") {
  let n = 0;
  try { n = Number(readFileSync(arg, "utf8")); } catch {}
  writeFileSync(arg, String(n + 1));
  console.log("tok-" + (n + 1));
} else {
  const alive = setInterval(() => {}, 60_000);
  request({ socketPath: arg, path: "/v1/credentials/db", headers: { host: "localhost" } }, (res) => {
    let body = ""; res.on("data", (d) => (body += d)); res.on("end", () => { console.log(res.statusCode, body); clearInterval(alive); });
  }).on("error", (e) => { console.log("error", e.message); clearInterval(alive); }).end();
}`,
  );
  probe = join(dir, "probe.exe");
  const built = Bun.spawnSync(
    [join(ROOT, "node_modules/.bin/bun"), "build", source, "--compile", "--target=bun-windows-x64", "--outfile", probe],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (built.exitCode !== 0) throw new Error(`the probe did not build: ${built.stderr}`);
  mkdirSync(join(dir, "cfg"));
  // One wineserver for the whole file, kept until afterAll kills it (-p: it does not exit when idle).
  // With Wine's default 3 s persistence, a test that started a program just as the previous test's
  // server was exiting got "wine client error:0: recvmsg: Connection reset by peer" (seen once in a
  // CI run, on `secret set --stdin`).
  const server = Bun.spawnSync([WINESERVER, "-p"], { env, stdin: "ignore", stdout: "ignore", stderr: "ignore", timeout: 30_000 });
  if (server.exitCode !== 0) throw new Error(`wineserver -p failed (${server.exitCode})`);
}, 180_000);

afterEach(async () => {
  if (missing || !dir) return;
  // No agent outlives its test, whatever happened in it; each test starts with an empty file store.
  await wine([EXE, "stop"]);
  rmSync(join(stateDir(), "store"), { recursive: true, force: true });
});

afterAll(async () => {
  if (missing || !dir) return;
  // Every Wine process of this prefix, whatever happened.
  Bun.spawnSync([WINESERVER, "-k"], { env });
  Bun.spawnSync([WINESERVER, "-w"], { env, timeout: 30_000 });
  // A Windows process's Unix process can outlive the wineserver by a moment: wait until this
  // prefix's are gone (SIGKILL after 10 s), then remove the prefix and Wine's server directory.
  for (let i = 0; i < 100 && ownWineProcesses().length > 0; i++) await Bun.sleep(100);
  for (const p of ownWineProcesses()) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
});

/** The prefix's user directory (Wine names it after the Unix user). */
function userDir(): string {
  return join(dir, "prefix/drive_c/users", readdirSync(join(dir, "prefix/drive_c/users")).find((d) => d !== "Public")!);
}
const stateDir = () => join(userDir(), "AppData/Local/credagent");

/** A config file for this test: a counting command credential `db`, a static `pw`, the given store. */
function config(name: string, keyring: "os" | "file"): { CREDAGENT_CONFIG: string; counter: string } {
  const counter = join(dir, `${name}.count`);
  const path = join(dir, "cfg", `${name}.toml`);
  writeFileSync(
    path,
    `keyring = "${keyring}"\n` +
      `[credentials.db]\nsource = "command"\ncommand = [${JSON.stringify(winPath(probe))}, "count", ${JSON.stringify(winPath(counter))}]\nlifetime = "1h"\n` +
      `[credentials.pw]\nsource = "static"\nlifetime = "1h"\n`,
  );
  return { CREDAGENT_CONFIG: winPath(path), counter };
}

let seq = 0;
/** Runs a Windows program under Wine, its output captured in files; `stdin` is a file's contents. */
async function wine(
  args: string[],
  options: { env?: Record<string, string>; stdin?: string; timeoutMs?: number; retried?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const n = seq++;
  const out = join(dir, `out-${n}`);
  const err = join(dir, `err-${n}`);
  let stdin: "ignore" | ReturnType<typeof Bun.file> = "ignore";
  if (options.stdin !== undefined) {
    writeFileSync(join(dir, `in-${n}`), options.stdin);
    stdin = Bun.file(join(dir, `in-${n}`));
  }
  const proc = Bun.spawn([WINE, ...args], {
    env: { ...env, ...options.env },
    cwd: dir,
    stdin,
    stdout: Bun.file(out),
    stderr: Bun.file(err),
  });
  const code = await Promise.race([proc.exited, Bun.sleep(options.timeoutMs ?? 60_000).then(() => -1)]);
  if (code === -1) proc.kill("SIGKILL");
  const read = (f: string) => (existsSync(f) ? readFileSync(f, "utf8").replaceAll("\r\n", "\n") : "");
  const result = { code, stdout: read(out), stderr: read(err) };
  // Wine 8 now and then fails a Bun executable at start with "wine: Unhandled exception
  // 0xc06d007e" (a delay-loaded DLL not found; seen once in about 15 runs of this file, on `get`,
  // with nothing printed by credagent): a Wine limitation, so that one signature, with nothing on
  // stdout, is run once more and said on the test's output. Any other failure stands.
  if (!options.retried && result.code !== 0 && result.stdout === "" && result.stderr.startsWith("wine: Unhandled exception 0xc06d007e")) {
    console.warn(`Wine crashed starting ${args.join(" ")} (0xc06d007e); running it once more`);
    return wine(args, { ...options, retried: true });
  }
  return result;
}

test.skipIf(missing !== null)(
  "the .exe under Wine: start (PowerShell by default, sh on request), status, list, get, get --json, exec, refresh; no session token, no answer; one agent per pipe; an orderly stop over the pipe",
  async () => {
    const cfg = config("basic", "file");
    const opts = { env: { CREDAGENT_CONFIG: cfg.CREDAGENT_CONFIG, CREDAGENT_FILE_PASSPHRASE: "file-pass" } };
    expect((await wine([EXE, "version"])).stdout).toMatch(/^credagent \d+\.\d+\.\d+\n$/);
    // start: the agent detached, ready when its pipe answers; PowerShell code by default (no SHELL).
    const started = await wine([EXE, "start"], opts);
    expect(started.stderr).toBe("");
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(/^\$env:CRED_SOCK = '\\\\\.\\pipe\\credagent-[^']+';\n\$env:CRED_AGENT_PID = '\d+';\n/);
    const pid = /CRED_AGENT_PID = '(\d+)'/.exec(started.stdout)![1];
    // A second start finds the agent answering and starts none.
    const again = await wine([EXE, "start", "-s"], opts);
    expect(again.stdout).toContain("CRED_SOCK='\\\\.\\pipe\\credagent-");
    expect(again.stdout).toContain(`CRED_AGENT_PID=${pid};`);
    // One agent per pipe, even where Wine ignores FILE_FLAG_FIRST_PIPE_INSTANCE: the lock file says no.
    const second = await wine([EXE, "agent", "-d"], opts);
    expect(second.code).toBe(10);
    expect(second.stderr).toContain("another agent is already serving \\\\.\\pipe\\credagent-");
    expect(
      existsSync(join(stateDir(), `${/socket \\\\\.\\pipe\\(\S+),/.exec((await wine([EXE, "status"], opts)).stdout)?.[1]}.lock`)),
    ).toBe(true);

    const status = await wine([EXE, "status"], opts);
    expect(status.stderr).toBe("");
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`agent pid ${pid}`);
    const pipe = /socket (\\\\\.\\pipe\\credagent-\S+),/.exec(status.stdout)?.[1];
    expect(pipe).toBeDefined();
    expect((await wine([EXE, "list"], opts)).stdout).toMatch(/^db\s+command/m);
    const get = await wine([EXE, "get", "db"], opts);
    expect(get).toMatchObject({ code: 0, stdout: "tok-1\n" });
    expect(JSON.parse((await wine([EXE, "get", "db", "--json"], opts)).stdout)).toMatchObject({
      name: "db",
      kind: "bearer",
      token: "tok-1",
    });
    // The token reaches a cmd child through its environment only.
    expect((await wine([EXE, "exec", "--env", "TOKEN=db", "--", "cmd", "/c", "echo", "%TOKEN%"], opts)).stdout).toBe("tok-1\n");
    const refreshed = await wine([EXE, "refresh", "db"], opts);
    expect(refreshed.code).toBe(0);
    expect(refreshed.stdout).toMatch(/^db: refreshed, expires in 59m/);
    expect((await wine([EXE, "get", "db"], opts)).stdout).toBe("tok-2\n");
    expect(await wine([EXE, "get", "nope"], opts)).toMatchObject({ code: 1, stdout: "" });

    // A program that does not send the session token gets nothing: any local user can open a pipe.
    const refused = await wine([probe, "request", pipe!]);
    expect(refused.stdout).toStartWith("403 ");
    expect(refused.stdout).toContain("session token");
    expect(refused.stdout).not.toContain("tok-");

    // stop asks the agent over the pipe (Windows has no SIGTERM): its orderly shutdown removes the token file.
    const tokenFile = join(stateDir(), `${pipe!.slice("\\\\.\\pipe\\".length)}.token`);
    expect(existsSync(tokenFile)).toBe(true);
    const stop = await wine([EXE, "stop"], opts);
    expect(stop.stderr).toBe("");
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain("Remove-Item Env:CRED_SOCK");
    expect(existsSync(tokenFile)).toBe(false);
    expect((await wine([EXE, "status"], opts)).code).toBe(3);
    // The lock went with the agent: the next one starts.
    expect((await wine([EXE, "start"], opts)).code).toBe(0);
  },
  240_000,
);

/** secret set / list / rm, the static credential served from the store, a cached token across a restart, lock and unlock. */
async function storeRoundTrip(keyring: "os" | "file", extra: Record<string, string>): Promise<void> {
  const cfg = config(`store-${keyring}`, keyring);
  const opts = { env: { CREDAGENT_CONFIG: cfg.CREDAGENT_CONFIG, ...extra } };
  const where = keyring === "os" ? "the OS keyring (Credential Manager" : "the encrypted file store at C:\\users\\";

  const set = await wine([EXE, "secret", "set", "pw", "--stdin"], { ...opts, stdin: "hunter2\r\n" });
  expect(set.stderr).toContain(`secret 'pw' stored in ${where}`);
  expect(set.code).toBe(0);
  expect((await wine([EXE, "secret", "list"], opts)).stdout).toMatch(/^pw\s+yes\s+pw \(static\)$/m);

  expect((await wine([EXE, "start", "-s"], opts)).code).toBe(0);
  expect((await wine([EXE, "get", "pw"], opts)).stdout).toBe("hunter2\n");
  expect((await wine([EXE, "get", "db"], opts)).stdout).toBe("tok-1\n");

  // lock drops the tokens and refuses; unlock with the same passphrase reloads them from the store.
  const lock = await wine([EXE, "lock", "--stdin"], { ...opts, stdin: "lock-pass\n" });
  expect(lock).toMatchObject({ code: 0 });
  const locked = await wine([EXE, "get", "db"], opts);
  expect(locked.code).toBe(1);
  expect(locked.stderr).toContain("locked; 'credagent unlock' unlocks it");
  expect((await wine([EXE, "unlock", "--stdin"], { ...opts, stdin: "wrong\n" })).code).toBe(1);
  expect((await wine([EXE, "unlock", "--stdin"], { ...opts, stdin: "lock-pass\n" })).code).toBe(0);
  expect((await wine([EXE, "get", "db"], opts)).stdout).toBe("tok-1\n");

  // A restart restores the cached token from the store: no new fetch.
  expect((await wine([EXE, "stop"], opts)).code).toBe(0);
  expect((await wine([EXE, "start", "-s"], opts)).code).toBe(0);
  expect((await wine([EXE, "get", "db"], opts)).stdout).toBe("tok-1\n");
  expect(readFileSync(cfg.counter, "utf8")).toBe("1");

  if (keyring === "os") {
    // Credential Manager's limit (2,560 bytes an entry): refused with what to do, nothing stored.
    const big = await wine([EXE, "secret", "set", "big", "--stdin"], { ...opts, stdin: "a".repeat(3000) });
    expect(big.code).toBe(1);
    expect(big.stderr).toContain('2560 chars; a value this large does not fit this keyring; keyring = "file" stores it');
  }
  const rm = await wine([EXE, "secret", "rm", "pw"], opts);
  expect(rm.code).toBe(0);
  expect((await wine([EXE, "secret", "list"], opts)).stdout).toMatch(/^pw\s+missing\s+pw \(static\)$/m);
  expect((await wine([EXE, "secret", "rm", "pw"], opts)).code).toBe(1);
}

test.skipIf(missing !== null)(
  "Credential Manager under Wine: secret set / list / rm, a static credential, lock and unlock, a cached token restored after a restart",
  async () => {
    await storeRoundTrip("os", {});
  },
  240_000,
);

test.skipIf(missing !== null)(
  "the encrypted file store under Windows paths: secret set / list / rm, a static credential, lock and unlock, a cached token restored after a restart",
  async () => {
    await storeRoundTrip("file", { CREDAGENT_FILE_PASSPHRASE: "file-pass" });
    expect(existsSync(join(stateDir(), "store", "key.jwe"))).toBe(true);
  },
  240_000,
);

test.skipIf(missing !== null)(
  "secret set --stdin reads a pipe on Windows too",
  async () => {
    const cfg = config("piped", "file");
    const out = join(dir, "piped.out");
    // Through sh: the pipe is the shell's, as when a user pipes a value in.
    const r = Bun.spawnSync(["sh", "-c", `printf 'from-a-pipe\\n' | "${WINE}" "${EXE}" secret set pw --stdin > "${out}" 2>&1`], {
      env: { ...env, CREDAGENT_CONFIG: cfg.CREDAGENT_CONFIG, CREDAGENT_FILE_PASSPHRASE: "file-pass" },
      timeout: 60_000,
    });
    expect(readFileSync(out, "utf8")).toContain("secret 'pw' stored in the encrypted file store");
    expect(r.exitCode).toBe(0);
  },
  60_000,
);

test.skipIf(missing !== null)(
  "OAuth under Wine against a provider on 127.0.0.1 (client_credentials, device login), and the other commands: reload, env, log, connection, git-credential, kube-credential, exec --sdk, approve, db, manpage, completion",
  async () => {
    const provider = await TestProvider.create(600);
    try {
      const path = join(dir, "cfg", "oauth.toml");
      const write = (extra: string) =>
        writeFileSync(
          path,
          `keyring = "file"\n[endpoints]\nazure = true\n` +
            `[credentials.api]\nsource = "oauth2"\ngrant = "client_credentials"\nissuer = "${provider.issuer}"\nclient_id = "svc-basic"\nscope = "api:read"\nresource = "https://api.credagent.test"\n` +
            `[credentials.dev]\nsource = "oauth2"\ngrant = "device_code"\nissuer = "${provider.issuer}"\nclient_id = "device-app"\nscope = "openid offline_access api:read"\n` +
            `[credentials.login]\nsource = "command"\ncommand = [${JSON.stringify(winPath(probe))}, "login"]\n` +
            `[credentials.aws]\nsource = "command"\ncommand = [${JSON.stringify(winPath(probe))}, "aws"]\n` +
            `[connections.app]\ncredential = "api"\ntemplate = "postgresql://svc:{token}@db.example.com/app"\n` +
            `[docker]\n"registry.example.com" = "login"\n` +
            // Not served on Windows (libpq needs a Unix socket), said in the log; the agent starts.
            `[databases.pg]\ncredential = "login"\nprotocol = "postgresql"\nserver = "127.0.0.1:5432"\ntls = "disable"\n${extra}`,
        );
      write("");
      const opts = { env: { CREDAGENT_CONFIG: winPath(path), CREDAGENT_FILE_PASSPHRASE: "file-pass" } };
      expect((await wine([EXE, "secret", "set", "api", "--stdin"], { ...opts, stdin: provider.clients.basicSecret })).code).toBe(0);
      expect((await wine([EXE, "start", "-s"], opts)).code).toBe(0);

      const token = (await wine([EXE, "get", "api"], opts)).stdout.trim();
      const { createRemoteJWKSet, jwtVerify } = await import("jose");
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${provider.issuer}/jwks`)), { issuer: provider.issuer });
      expect(payload.client_id).toBe("svc-basic");

      // Device login: the address and code on stderr (a file here), approved as a person would.
      const n = seq++;
      const errFile = join(dir, `login-${n}.err`);
      const login = Bun.spawn([WINE, EXE, "login", "dev", "--no-qr"], {
        env: { ...env, ...opts.env },
        cwd: dir,
        stdin: "ignore",
        stdout: Bun.file(join(dir, `login-${n}.out`)),
        stderr: Bun.file(errFile),
      });
      let text = "";
      for (let i = 0; i < 200 && !/\(or open (\S+)\)/.test(text); i++) {
        await Bun.sleep(100);
        text = existsSync(errFile) ? readFileSync(errFile, "utf8") : "";
      }
      await approveDevice(/\(or open (\S+)\)/.exec(text)![1]!);
      const loggedIn = await Promise.race([login.exited, Bun.sleep(30_000).then(() => -1)]);
      if (loggedIn === -1) login.kill("SIGKILL");
      expect(loggedIn).toBe(0);
      expect(readFileSync(errFile, "utf8")).toContain("'dev' is signed in");
      expect((await wine([EXE, "get", "dev"], opts)).stdout).toMatch(/^\S+\n$/);

      // reload: an added credential.
      write(`[credentials.extra]\nsource = "command"\ncommand = ["cmd", "/c", "echo", "x"]\n`);
      const reload = await wine([EXE, "reload"], opts);
      expect(reload.code).toBe(0);
      expect(reload.stdout).toMatch(/added:\s+extra/);
      expect((await wine([EXE, "get", "extra"], opts)).stdout).toBe("x\n");

      // env: PowerShell by default here; the session token it prints opens the pipe.
      const shellEnv = await wine([EXE, "env"], opts);
      expect(shellEnv.stdout).toMatch(/^\$env:CRED_SOCK = '\\\\\.\\pipe\\[^']+';\n\$env:CRED_SESSION_TOKEN = '[0-9a-f]{64}';/);
      const log = await wine([EXE, "log"], opts);
      expect(log.stdout).toMatch(/ALLOW fetch api /);
      expect((await wine([EXE, "connection", "app"], opts)).stdout).toBe(`postgresql://svc:${token}@db.example.com/app\n`);
      const git = await wine([EXE, "git-credential", "--credential", "api", "get"], {
        ...opts,
        stdin: "protocol=https\nhost=example.com\n\n",
      });
      expect(git.stdout).toContain(`password=${token}\n`);
      const kube = JSON.parse((await wine([EXE, "kube-credential", "api"], opts)).stdout);
      expect(kube).toMatchObject({ kind: "ExecCredential", status: { token } });
      expect((await wine([EXE, "approve"], opts)).stdout).toContain("no requests are waiting");
      // Listed, and said not to be served (the agent's answer since GET /v1/databases).
      const db = await wine([EXE, "db"], opts);
      expect(db.code).toBe(0);
      expect(db.stdout).toContain("database endpoints are not served on Windows");
      expect(readFileSync(join(stateDir(), "agent.log"), "utf8")).toContain("database endpoints are not served on Windows");

      // A username and password: in parts to a cmd child, and to docker through the helper's name.
      expect(JSON.parse((await wine([EXE, "get", "login", "--json"], opts)).stdout)).toMatchObject({
        kind: "password",
        username: "app-user",
        password: "app-pass",
      });
      expect(
        (await wine([EXE, "exec", "--env", "U=login:username", "--env", "P=login:password", "--", "cmd", "/c", "echo", "%U%", "%P%"], opts))
          .stdout,
      ).toBe("app-user app-pass\n");
      // An AWS key as credential_process output, and a connection string into a child.
      expect(JSON.parse((await wine([EXE, "aws-credential", "aws"], opts)).stdout)).toMatchObject({
        Version: 1,
        AccessKeyId: "AKIAWINE",
        SecretAccessKey: "wine-secret",
        SessionToken: "wine-session",
      });
      expect((await wine([EXE, "exec", "--env", "DATABASE_URL=@app", "--", "cmd", "/c", "echo", "%DATABASE_URL%"], opts)).stdout).toBe(
        `postgresql://svc:${token}@db.example.com/app\n`,
      );
      expect((await wine([EXE, "help"], opts)).stdout).toContain("usage: credagent");
      expect((await wine([EXE, "get", "--help"], opts)).stdout).toContain("usage: credagent get NAME");
      const helper = join(dir, "docker-credential-credagent.exe");
      if (!existsSync(helper)) linkSync(EXE, helper);
      const docker = await wine([helper, "get"], { ...opts, stdin: "registry.example.com\n" });
      expect(docker.stderr).toBe("");
      expect(JSON.parse(docker.stdout)).toEqual({ ServerURL: "registry.example.com", Username: "app-user", Secret: "app-pass" });
      expect((await wine([EXE, "manpage", "1"], opts)).stdout).toStartWith(".TH CREDAGENT 1");
      expect((await wine([EXE, "completion", "bash"], opts)).stdout).toContain("complete -F");

      // exec --sdk: the Azure variables in a cmd child; the endpoint answers them from this side too.
      const sdk = await wine([EXE, "exec", "--sdk", "--", "cmd", "/c", "echo", "%IDENTITY_ENDPOINT%", "%IDENTITY_HEADER%"], opts);
      const [endpoint, header] = sdk.stdout.trim().split(" ");
      expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/msi\/token$/);
      const msi = await fetch(`${endpoint}?resource=https://api.credagent.test&api-version=2019-08-01`, {
        headers: { "x-identity-header": header! },
      });
      expect(msi.status).toBe(200);
      expect(((await msi.json()) as { access_token: string }).access_token).toBe(token);
      expect((await fetch(`${endpoint}?resource=https://api.credagent.test&api-version=2019-08-01`)).status).toBe(401);
    } finally {
      provider.close();
    }
  },
  240_000,
);

test.skipIf(missing !== null)(
  "service install under Wine: the HKCU Run value, the agent started now and by the value's command at logon; status; uninstall stops it and removes the value; both idempotent",
  async () => {
    const cfg = config("service", "file");
    const opts = { env: { CREDAGENT_CONFIG: cfg.CREDAGENT_CONFIG, CREDAGENT_FILE_PASSPHRASE: "file-pass" } };
    const runKey = "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run";
    // reg writes its error to stdout: only a REG_SZ line counts as the value.
    const query = async () =>
      (await wine(["reg", "query", runKey, "/v", "credagent"])).stdout
        .split("\n")
        .filter((l) => l.includes("REG_SZ"))
        .join("\n");
    expect(await query()).toBe("");

    const install = await wine([EXE, "service", "install"], opts);
    expect(install.stderr).toBe("");
    expect(install.code).toBe(0);
    expect(install.stdout).toContain(`wrote ${runKey}\\credagent`);
    expect(install.stdout).toMatch(/running now, pid \d+, at \\\\\.\\pipe\\credagent-/);
    const value = /REG_SZ\s{4}(.*)$/m.exec(await query())?.[1];
    expect(value).toBe(`"${winPath(EXE)}" start -s --service`);
    // The whole answer, so that a failure shows the CLI's own words.
    const first = await wine([EXE, "get", "db"], opts);
    expect({ code: first.code, stdout: first.stdout, stderr: first.stderr }).toEqual({ code: 0, stdout: "tok-1\n", stderr: "" });
    const again = await wine([EXE, "service", "install"], opts);
    expect(again.stdout).toContain(`unchanged ${runKey}\\credagent`);
    const status = await wine([EXE, "service", "status"], opts);
    expect(status.stdout).toContain(`installed: ${runKey}\\credagent = "${winPath(EXE)}" start -s --service`);
    expect(status.stdout).toMatch(/agent: running, pid \d+/);

    // A logon, as far as Wine has one: the value's command line, run as Windows runs it.
    expect((await wine([EXE, "stop"], opts)).code).toBe(0);
    writeFileSync(join(dir, "logon.bat"), `@${value}\r\n`);
    expect((await wine(["cmd", "/c", winPath(join(dir, "logon.bat"))], opts)).code).toBe(0);
    expect((await wine([EXE, "get", "db"], opts)).code).toBe(0);

    // An agent started by hand is the user's: uninstall (with no terminal to ask on) leaves it running.
    expect((await wine([EXE, "stop"], opts)).code).toBe(0);
    expect((await wine([EXE, "start", "-s"], opts)).code).toBe(0);
    const kept = await wine([EXE, "service", "uninstall"], opts);
    expect(kept.stdout).toMatch(/left the agent \(pid \d+\) running: an agent started otherwise than by the service/);
    expect((await wine([EXE, "status"], opts)).code).toBe(0);
    expect((await wine([EXE, "service", "install"], opts)).code).toBe(0);
    expect((await wine([EXE, "stop"], opts)).code).toBe(0);
    expect((await wine(["cmd", "/c", winPath(join(dir, "logon.bat"))], opts)).code).toBe(0);

    const uninstall = await wine([EXE, "service", "uninstall"], opts);
    expect(uninstall.stderr).toBe("");
    expect(uninstall.stdout).toMatch(/stopped the agent \(pid \d+\), which the service started\nremoved HKCU/);
    expect(await query()).toBe("");
    expect((await wine([EXE, "status"], opts)).code).toBe(3);
    const twice = await wine([EXE, "service", "uninstall"], opts);
    expect(twice).toMatchObject({ code: 0, stdout: "" });
    expect((await wine([EXE, "service", "status"], opts)).stdout).toContain("installed: nothing");
  },
  240_000,
);
