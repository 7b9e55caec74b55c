import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startGitServer, type GitServer } from "../support/git-server.ts";
import { startTokenIssuer, type TokenIssuer } from "../support/token-issuer.ts";
import { Sandbox, waitFor } from "./harness.ts";

// Files kept fresh from templates ([files.NAME]), proven with the programs that read them: curl and
// git reading a netrc whose token rotates (each token expires, as a real token service's does), and
// each format's own parser reading back a password full of quotes, backslashes, # ; and a line break.

const PYTHON = "/usr/bin/python3"; // Debian's, which has Debian's python3-yaml
const NODE = "node";
const haveYaml = Bun.spawnSync([PYTHON, "-c", "import yaml"]).exitCode === 0;
if (!haveYaml && process.env.CI === "true") throw new Error("CI=true and python3-yaml is missing: test/run.sh installs it");
if (!haveYaml) console.warn("skipping the YAML read-back: Debian's python3-yaml is not installed (apt-get install python3-yaml)");

let box: Sandbox | undefined;
let issuer: TokenIssuer | undefined;
let git: GitServer | undefined;
afterEach(async () => {
  await box?.cleanup();
  box = undefined;
  issuer?.stop();
  issuer = undefined;
  git?.stop();
  git = undefined;
});

async function spawn(argv: string[], env: Record<string, string>, timeoutMs = 20_000) {
  const proc = Bun.spawn(argv, { env, stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

const LIFETIME_S = 5; // refreshed at 70-80%: a new token every ~4 s, the old one still good for ~1 s
const RUN_S = 15; // at least three rotations

describe("a netrc kept fresh", () => {
  test(
    "curl --netrc-file and git read it across three rotations with no failed request; 0600; gone on lock and stop",
    async () => {
      box = new Sandbox();
      issuer = startTokenIssuer("me", LIFETIME_S);
      git = startGitServer({ check: (authorization) => issuer!.check(authorization) });
      const fetchToken = box.script("issue.sh", `exec curl -sf ${issuer.url}`);
      box.writeConfig(
        `[credentials.repo]\nsource = "command"\ncommand = ["${fetchToken}"]\nusername = "me"\n\n` +
          `[files.netrc]\npath = "~/.netrc"\nformat = "netrc"\n` +
          `template = """\n# kept by credagent\nmachine 127.0.0.1\n  login {{ repo.username }}\n  password {{ repo }}\n"""\n`,
      );
      await box.start();
      const netrc = join(box.root, ".netrc");
      await waitFor(() => existsSync(netrc), 10_000, "the netrc to be written");
      expect(statSync(netrc).mode & 0o777).toBe(0o600);
      // The token as written (quoted, with \" and \\) is the one issued.
      const quoted = `"${issuer.issued.at(-1)!.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
      expect(readFileSync(netrc, "utf8")).toBe(`# kept by credagent\nmachine 127.0.0.1\n  login me\n  password ${quoted}\n`);

      // git with no credential helper at all: it reads ~/.netrc through libcurl.
      const gitEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: box.root, GIT_CONFIG_NOSYSTEM: "1", GIT_TERMINAL_PROMPT: "0" };
      const curlArgs = [
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--netrc-file",
        netrc,
        `${git.url}/info/refs?service=git-upload-pack`,
      ];
      const result = { curl: 0, git: 0, failed: [] as string[] };
      const deadline = Date.now() + RUN_S * 1000;
      const curlLoop = (async () => {
        while (Date.now() < deadline) {
          const r = await spawn(curlArgs, gitEnv);
          if (r.code === 0 && r.stdout === "200") result.curl++;
          else result.failed.push(`curl: ${r.code} ${r.stdout} ${r.stderr}`);
          await Bun.sleep(200);
        }
      })();
      const gitLoop = (async () => {
        while (Date.now() < deadline) {
          const r = await spawn(["git", "ls-remote", git!.url], gitEnv);
          if (r.code === 0 && r.stdout.includes("refs/heads/main")) result.git++;
          else result.failed.push(`git: ${r.code} ${r.stderr}`);
          await Bun.sleep(700);
        }
      })();
      await Promise.all([curlLoop, gitLoop]);
      console.log(`  curl ${result.curl} ok, git ${result.git} ok, ${issuer.issued.length} tokens issued, failed: ${result.failed.length}`);
      expect(result.failed).toEqual([]);
      expect(issuer.issued.length).toBeGreaterThanOrEqual(4);
      expect(result.curl).toBeGreaterThan(10);
      expect(result.git).toBeGreaterThan(5);
      expect(issuer.refused.filter((r) => r.username !== "")).toEqual([]);
      // The server does refuse a token past its expiry: the first one, now.
      const stale = Buffer.from(`me:${issuer.issued[0]}`).toString("base64");
      expect(issuer.check(`Basic ${stale}`)).toEqual({ username: "me", ok: false });

      // credagent files: where, what, when; never the value.
      const files = await box.run(["files"]);
      expect(files.code).toBe(0);
      expect(files.stdout).toContain(`netrc  ${netrc}  written`);
      expect(files.stdout).toContain("repo");
      const status = await box.run(["status"]);
      expect(status.stdout).toContain("kept files:");
      const log = box.agentLog;
      for (const token of issuer.issued) {
        expect(files.stdout + status.stdout + log).not.toContain(token);
        expect(files.stdout + status.stdout + log).not.toContain(token.slice(-8));
      }

      // Lock removes it, unlock writes it again, stop removes it.
      expect((await box.run(["lock", "--stdin"], { input: "pass phrase\n" })).code).toBe(0);
      expect(existsSync(netrc)).toBe(false);
      expect((await box.run(["files"])).stdout).toContain("removed");
      expect((await box.run(["unlock", "--stdin"], { input: "pass phrase\n" })).code).toBe(0);
      await waitFor(() => existsSync(netrc), 10_000, "the netrc to be written again after unlock");
      const after = await spawn(curlArgs, gitEnv);
      expect(after.stdout).toBe("200");
      expect((await box.run(["stop"])).code).toBe(0);
      expect(existsSync(netrc)).toBe(false);
    },
    RUN_S * 1000 + 40_000,
  );
});

const NASTY = `a"b'c\\d#e;f g\nh`;
const ONE_LINE = `a"b'c\\d#e;f g`;

describe("each format, read back by its own parser", () => {
  test("netrc, ini, json, yaml, env and xml carry the password unchanged; a value a format cannot carry is refused with why", async () => {
    box = new Sandbox();
    const out = (name: string) => join(box!.root, "out", name);
    const cred = (name: string, password: string) => {
      writeFileSync(join(box!.root, `${name}.json`), JSON.stringify({ username: "u ser", password, expires_in: 3600 }));
      return `[credentials.${name}]\nsource = "command"\ncommand = ["cat", "${join(box!.root, `${name}.json`)}"]\n\n`;
    };
    const file = (name: string, format: string, template: string) =>
      `[files.${name}]\npath = "${out(name)}"\nformat = "${format}"\ntemplate = '''\n${template}'''\n\n`;
    box.writeConfig(
      cred("full", NASTY) +
        cred("line", ONE_LINE) +
        file("netrc", "netrc", "machine h login {{ line.username }} password {{ line }}\n") +
        file("ini", "ini", "[s]\nuser = {{ line.username }}\npassword = {{ line.password }}\n") +
        file("json", "json", '{"user": "{{ full.username }}", "password": {{ full }}}\n') +
        file("yaml", "yaml", 'user: "{{ full.username }}"\npassword: {{ full }}\nlist: ["{{ full }}"]\n') +
        file("env", "env", "export USER_NAME={{ full.username }}\nPASSWORD={{ full }}\n") +
        file("xml", "xml", '<server user="{{ full.username }}">{{ full }}</server>\n') +
        file("netrc-full", "netrc", "machine h login u password {{ full }}\n") +
        file("ini-full", "ini", "[s]\npassword = {{ full }}\n"),
    );
    await box.start();
    await waitFor(() => ["netrc", "ini", "json", "yaml", "env", "xml"].every((n) => existsSync(out(n))), 10_000, "the files");
    for (const n of ["netrc", "ini", "json", "yaml", "env", "xml"]) expect(statSync(out(n)).mode & 0o777).toBe(0o600);

    const python = `
import sys, json, netrc, configparser, xml.etree.ElementTree as ET
d = sys.argv[1]
out = {}
out["netrc"] = list(netrc.netrc(d + "/netrc").authenticators("h"))
c = configparser.RawConfigParser(); c.read(d + "/ini"); out["ini"] = [c["s"]["user"], c["s"]["password"]]
out["json"] = json.load(open(d + "/json"))
try:
    import yaml
    out["yaml"] = yaml.safe_load(open(d + "/yaml"))
except ImportError:
    out["yaml"] = None
root = ET.parse(d + "/xml").getroot(); out["xml"] = [root.get("user"), root.text]
print(json.dumps(out))
`;
    const py = await spawn([PYTHON, "-c", python, join(box.root, "out")], { PATH: process.env.PATH ?? "/usr/bin:/bin" });
    expect(py.stderr).toBe("");
    const read = JSON.parse(py.stdout);
    expect(read.netrc).toEqual(["u ser", "", ONE_LINE]);
    expect(read.ini).toEqual(["u ser", ONE_LINE]);
    expect(read.json).toEqual({ user: "u ser", password: NASTY });
    if (haveYaml) expect(read.yaml).toEqual({ user: "u ser", password: NASTY, list: [NASTY] });
    expect(read.xml).toEqual(["u ser", NASTY]);
    // dotenv, the npm package (the parser `credagent exec --env-file` uses too).
    const dotenv = require.resolve("dotenv");
    const js = `console.log(JSON.stringify(require(${JSON.stringify(dotenv)}).parse(require("fs").readFileSync(process.argv[1]))))`;
    const env = await spawn([NODE, "-e", js, out("env")], { PATH: process.env.PATH ?? "/usr/bin:/bin" });
    expect(JSON.parse(env.stdout)).toEqual({ USER_NAME: "u ser", PASSWORD: NASTY });

    // A line break cannot be carried by a netrc or an ini value: refused, the reason shown, nothing written.
    const files = await box.run(["files"]);
    expect(existsSync(out("netrc-full"))).toBe(false);
    expect(existsSync(out("ini-full"))).toBe(false);
    expect(files.stdout).toMatch(/netrc-full .* failed .*the credential 'full' \(line 1\): a netrc file cannot hold a line break/);
    expect(files.stdout).toMatch(/ini-full .* failed .*the credential 'full' \(line 2\): an ini value cannot hold a line break/);
    expect(files.stdout).not.toContain('a"b');
    // render: the same text on stdout, without writing anything.
    const rendered = await box.run(["render", "json"]);
    expect(rendered.stdout).toBe(readFileSync(out("json"), "utf8"));
    const refused = await box.run(["render", "ini-full"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("an ini value cannot hold a line break");
    expect(refused.stderr).not.toContain('a"b');
  }, 40_000);
});

describe("what is refused, and on_change", () => {
  test("an existing file credagent did not write is left alone, with how to fix it; a bad template stops the start with its line", async () => {
    box = new Sandbox();
    writeFileSync(join(box.root, ".npmrc"), "registry=http://mine\n");
    writeFileSync(join(box.root, "t.json"), JSON.stringify({ access_token: "t0k", expires_in: 3600 }));
    const cred = `[credentials.npm]\nsource = "command"\ncommand = ["cat", "${join(box.root, "t.json")}"]\n\n`;
    box.writeConfig(`${cred}[files.npmrc]\npath = "~/.npmrc"\nformat = "ini"\ntemplate = "//127.0.0.1:1/:_authToken={{ npm }}\\n"\n`);
    await box.start();
    await waitFor(async () => (await box!.run(["files"])).stdout.includes("failed"), 10_000, "the refusal");
    const files = await box.run(["files"]);
    const path = join(box.root, ".npmrc");
    expect(files.stdout).toContain(
      `${path} exists and credagent did not write it; it is left as it is: move it aside (mv ${path} ${path}.orig) or set replace = true in [files.npmrc]`,
    );
    expect(readFileSync(path, "utf8")).toBe("registry=http://mine\n");
    await box.run(["stop"]);
    expect(readFileSync(path, "utf8")).toBe("registry=http://mine\n");

    box.writeConfig(`${cred}[files.npmrc]\nformat = "ini"\ntemplate = """\nregistry=x\n//h/:_authToken={{ nmp }}\n"""\n`);
    const agent = await box.run(["agent", "-d"]);
    expect(agent.code).toBe(1);
    expect(agent.stderr).toContain("files.npmrc.template (line 9): {{ nmp }}: no credential named 'nmp'");
  }, 40_000);

  test("on_change runs after each rewrite in a process group of its own; a failure is logged and shown in status", async () => {
    box = new Sandbox();
    const counter = join(box.root, "count");
    const source = box.script(
      "src.sh",
      `n=$(($(cat ${counter} 2>/dev/null || echo 0) + 1)); echo $n > ${counter}; printf '{"access_token":"v%s","expires_in":3}' $n`,
    );
    const ran = join(box.root, "ran");
    const hook = box.script(
      "hook.sh",
      `cat "$1" >> ${ran}; echo >> ${ran}; [ "$(cat ${counter})" -lt 3 ] || { echo "reload refused" >&2; exit 4; }`,
    );
    const kept = join(box.runtimeDir, "credagent", "files", "tok");
    box.writeConfig(
      `[credentials.t]\nsource = "command"\ncommand = ["${source}"]\n\n[files.tok]\nformat = "raw"\ntemplate = "{{ t }}"\non_change = ["${hook}", "${kept}"]\n`,
    );
    await box.start();
    await waitFor(
      () => existsSync(ran) && readFileSync(ran, "utf8").split("\n").filter(Boolean).length >= 3,
      15_000,
      "three on_change runs",
    );
    expect(readFileSync(ran, "utf8").split("\n").filter(Boolean).slice(0, 3)).toEqual(["v1", "v2", "v3"]);
    await waitFor(async () => (await box!.run(["status"])).stdout.includes("reload refused"), 5_000, "the failure in status");
    const status = await box.run(["status"]);
    expect(status.stdout).toMatch(/tok .* on_change at .*: '.*hook\.sh' exited with status 4: reload refused/);
    expect(box.agentLog).toContain("on_change failed");
  }, 30_000);
});

describe("a changed secret", () => {
  test("secret set with a running agent rewrites the kept files and the pgpass file at once, not at the next refresh", async () => {
    box = new Sandbox();
    box.env.CREDAGENT_FILE_PASSPHRASE = "store pass phrase";
    box.writeConfig(
      `keyring = "file"\n\n[credentials.pg]\nsource = "static"\nusername = "app"\n\n` +
        `[connections.db]\ncredential = "pg"\npgpass = { host = "127.0.0.1", database = "app" }\n\n` +
        `[files.tok]\nformat = "raw"\ntemplate = "{{ pg }}"\n`,
    );
    expect((await box.run(["secret", "set", "pg", "--stdin"], { input: "first-value" })).code).toBe(0);
    await box.start();
    const tok = join(box.runtimeDir, "credagent", "files", "tok");
    const pgpass = join(box.runtimeDir, "credagent", "pgpass");
    await waitFor(() => existsSync(tok) && existsSync(pgpass), 10_000, "the files");
    expect(readFileSync(tok, "utf8")).toBe("first-value");
    const set = await box.run(["secret", "set", "pg", "--stdin"], { input: "second-value" });
    expect(set.code).toBe(0);
    expect(set.stderr).toContain("fetched 'pg' again");
    // When `secret set` returns, both files hold the new value (a static value is otherwise re-read every 5 minutes).
    expect(readFileSync(tok, "utf8")).toBe("second-value");
    expect(readFileSync(pgpass, "utf8")).toBe("127.0.0.1:5432:app:app:second-value\n");
  }, 30_000);
});
