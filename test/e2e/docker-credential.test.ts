import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startRegistry, type Registry } from "../support/registry.ts";
import { BIN, countingSource, Sandbox } from "./harness.ts";

// The docker CLI (no daemon needed for `docker manifest inspect`) asks credagent for a registry's
// credentials through docker-credential-credagent, against a registry on 127.0.0.1 that accepts only
// the agent's current token; and the helper protocol as docker's client drives it, byte for byte.

let box: Sandbox;
let registry: Registry;
let counter: ReturnType<typeof countingSource>;
let helperDir: string;

beforeAll(async () => {
  box = new Sandbox();
  counter = countingSource(box, "reg", 3600);
  const other = countingSource(box, "nouser", 3600);
  registry = startRegistry(() => ({ username: "robot", password: `reg-${counter.count()}` }));
  box.writeConfig(
    `[credentials.reg]\nsource = "command"\ncommand = ["${counter.script}"]\nusername = "robot"\n\n` +
      `[credentials.nouser]\nsource = "command"\ncommand = ["${other.script}"]\n\n` +
      `[docker]\n"${registry.host}" = "reg"\n"nouser.example.com" = "nouser"\n`,
  );
  await box.start();
  // What install.sh does: the binary, linked under the name docker looks for.
  helperDir = join(box.root, "bin");
  mkdirSync(helperDir);
  symlinkSync(BIN, join(helperDir, "docker-credential-credagent"));
  mkdirSync(join(box.root, "docker"));
  writeFileSync(join(box.root, "docker", "config.json"), JSON.stringify({ credsStore: "credagent" }));
}, 30_000);
afterAll(async () => {
  registry?.stop();
  await box?.cleanup();
});

async function spawn(argv: string[], input?: string) {
  const proc = Bun.spawn(argv, {
    env: {
      ...box.env,
      CRED_SOCK: box.socket,
      PATH: `${helperDir}:${box.env.PATH}`,
      DOCKER_CONFIG: join(box.root, "docker"),
      DOCKER_HOST: "unix:///nonexistent",
    },
    stdin: input === undefined ? "ignore" : new Blob([input]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

test("docker manifest inspect authenticates with the agent's token, and with the new one after a refresh", async () => {
  const first = await spawn(["docker", "manifest", "inspect", "--insecure", `${registry.host}/app:v1`]);
  expect(first.stderr).toBe("");
  expect(first.code).toBe(0);
  expect(JSON.parse(first.stdout).schemaVersion).toBe(2);
  expect((await box.run(["refresh", "reg"])).code).toBe(0);
  const second = await spawn(["docker", "manifest", "inspect", "--insecure", `${registry.host}/app:v1`]);
  expect(second.code).toBe(0);
  expect(registry.attempts.filter((a) => a.ok).length).toBeGreaterThanOrEqual(2);
  expect(registry.attempts.filter((a) => a.ok).every((a) => a.username === "robot")).toBe(true);
});

test("the protocol as docker's client drives it: get, list, store, erase, version, and the errors", async () => {
  const helper = (op: string, input?: string) => spawn([join(helperDir, "docker-credential-credagent"), op], input);
  // get: the server URL on stdin (docker sends no newline), JSON on stdout.
  const get = await helper("get", `https://${registry.host}`);
  expect(get.code).toBe(0);
  expect(JSON.parse(get.stdout)).toEqual({ ServerURL: `https://${registry.host}`, Username: "robot", Secret: `reg-${counter.count()}` });
  // A registry credagent has nothing for: exactly the text docker treats as "no credentials".
  const unknown = await helper("get", "other.example.com");
  expect(unknown).toEqual({ code: 1, stdout: "credentials not found in native keychain\n", stderr: "" });
  // A mapped credential without a user name: an error on stdout saying what to set.
  const nouser = await helper("get", "nouser.example.com");
  expect(nouser.code).toBe(1);
  expect(nouser.stdout).toContain('set username = "…"');
  expect(JSON.parse((await helper("list")).stdout)).toEqual({ [registry.host]: "robot" });
  expect(await helper("store", JSON.stringify({ ServerURL: "x", Username: "u", Secret: "s" }))).toEqual({
    code: 0,
    stdout: "",
    stderr: "",
  });
  expect(await helper("erase", "x")).toEqual({ code: 0, stdout: "", stderr: "" });
  expect((await helper("version")).stdout).toStartWith("docker-credential-credagent");
  const bad = await helper("frobnicate");
  expect(bad.code).toBe(1);
  expect(bad.stdout).toContain("usage:");
});

test("no agent: docker hears the error on stdout, exit 1", async () => {
  const r = await spawn([join(helperDir, "docker-credential-credagent"), "get"], registry.host).then(async (ok) => {
    expect(ok.code).toBe(0);
    const proc = Bun.spawn([join(helperDir, "docker-credential-credagent"), "get"], {
      env: { ...box.env, CRED_SOCK: join(box.root, "absent.sock") },
      stdin: new Blob([registry.host]),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    return { stdout, code };
  });
  expect(r.code).toBe(1);
  expect(r.stdout).toContain("no agent is answering");
});
