import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startVerdaccio, type Verdaccio } from "../support/verdaccio.ts";
import { Sandbox, waitFor } from "./harness.ts";

// npm install from a private registry (verdaccio, which answers only logged-in users) through a
// ~/.npmrc the agent keeps fresh: the credential logs in to the registry for a token that expires
// two minutes later, renewed by the agent ahead of that (or at once with `credagent refresh`), and
// the file follows. npm itself reads the file.

// npm reads the file once and uses its token for its whole run: the agent renews the token well
// ahead of expiry (refresh_before), so a token read from the file is good for a while yet.
const TOKEN_LIFETIME_S = 120;
const PASSWORD = "registry-pass-1";
let registry: Verdaccio;
let box: Sandbox;

async function run(argv: string[], env: Record<string, string>, cwd?: string) {
  const proc = Bun.spawn(argv, { env, cwd, stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

const login = (extra: string[] = []) => [
  "curl",
  "-sf",
  ...extra,
  "-X",
  "PUT",
  "-H",
  "content-type: application/json",
  "-d",
  JSON.stringify({ name: "app", password: PASSWORD }),
];

beforeAll(async () => {
  registry = await startVerdaccio(`${TOKEN_LIFETIME_S}s`);
  box = new Sandbox();
  const npmEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: join(box.root, "publisher") };
  mkdirSync(npmEnv.HOME);
  // The user, and a package published with its first token (by npm, straight to the registry).
  const created = await run([...login(), registry.loginUrl("app")], npmEnv);
  const token = (JSON.parse(created.stdout) as { token: string }).token;
  const pkg = join(box.root, "pkg");
  mkdirSync(pkg);
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "hello-credagent", version: "1.0.0", main: "index.js" }));
  writeFileSync(join(pkg, "index.js"), 'module.exports = "hello from the private registry";\n');
  writeFileSync(join(npmEnv.HOME, ".npmrc"), `//${registry.host}/:_authToken=${token}\n`);
  const published = await run(["npm", "publish", "--registry", registry.url, "--ignore-scripts"], npmEnv, pkg);
  if (published.code !== 0) throw new Error(`npm publish: ${published.stderr}`);

  // The agent's credential logs in again at each fetch: verdaccio answers {"token": JWT}, and the
  // JWT's exp is the token's expiry.
  const fetchToken = box.script(
    "npm-login.sh",
    `exec ${login(["-u", `app:${PASSWORD}`])
      .map((a) => `'${a}'`)
      .join(" ")} '${registry.loginUrl("app")}'`,
  );
  box.writeConfig(
    `[credentials.npm]\nsource = "command"\ncommand = ["${fetchToken}"]\nrefresh_before = "60s"\n\n` +
      `[files.npmrc]\npath = "~/.npmrc"\nformat = "ini"\n` +
      `template = """\nregistry=${registry.url}\n//${registry.host}/:_authToken={{ npm }}\n"""\n`,
  );
  await box.start();
}, 90_000);
afterAll(async () => {
  await box?.cleanup();
  registry?.stop();
});

test("npm install reads the kept .npmrc; after a new token, with the new one; without it, nothing", async () => {
  const npmrc = join(box.root, ".npmrc");
  await waitFor(() => existsSync(npmrc), 10_000, "the .npmrc");
  expect(statSync(npmrc).mode & 0o777).toBe(0o600);
  const first = /_authToken=(.*)$/m.exec(readFileSync(npmrc, "utf8"))![1]!;
  const project = join(box.root, "project");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app", version: "0.0.0", private: true }));
  // npm with the sandbox's home: its user config is the kept ~/.npmrc, and nothing else names the token.
  const npmEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: box.root };
  const install = async () => {
    rmSync(join(project, "node_modules"), { recursive: true, force: true });
    rmSync(join(project, "package-lock.json"), { force: true });
    const cache = join(box.root, `npm-cache-${Date.now()}`);
    return run(["npm", "install", "hello-credagent", "--no-audit", "--no-fund", "--cache", cache, "--prefer-online"], npmEnv, project);
  };
  const once = await install();
  expect(once.stderr).not.toContain("ERR");
  expect(once.code).toBe(0);
  expect(readFileSync(join(project, "node_modules/hello-credagent/index.js"), "utf8")).toContain("private registry");

  // A new token (what the agent does ahead of expiry, now): the file holds it when refresh returns.
  // verdaccio's token is a JWT with iat and exp in whole seconds, so a login within the second of
  // the first one gets the very same token back: the refresh waits for the next second.
  const { iat } = JSON.parse(Buffer.from(first.split(".")[1]!, "base64url").toString()) as { iat: number };
  await Bun.sleep(Math.max(0, (iat + 1) * 1000 - Date.now() + 50));
  expect((await box.run(["refresh", "npm"])).code).toBe(0);
  const current = /_authToken=(.*)$/m.exec(readFileSync(npmrc, "utf8"))![1]!;
  expect(current).not.toBe(first);
  const fresh = await fetch(`${registry.url}hello-credagent`, { headers: { authorization: `Bearer ${current}` } });
  expect(fresh.status).toBe(200);
  const again = await install();
  expect(again.stderr).not.toContain("ERR");
  expect(again.code).toBe(0);
  expect(existsSync(join(project, "node_modules/hello-credagent/index.js"))).toBe(true);
  // Without a valid token the registry answers nothing: the file is what makes npm work.
  const without = await run(["npm", "view", "hello-credagent", "version", "--registry", registry.url, "--userconfig", "/dev/null"], npmEnv);
  expect(without.code).not.toBe(0);

  expect((await box.run(["stop"])).code).toBe(0);
  expect(existsSync(npmrc)).toBe(false);
}, 80_000);
