import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestProvider } from "../support/oidc.ts";
import { Sandbox, countingSource, waitFor } from "./harness.ts";

// `credagent reload` (and SIGHUP), `status`'s config lines, `start --config OTHER` against a
// running agent, and the issuer mismatch message, all through the compiled binary.

function sandbox(): Sandbox {
  const box = new Sandbox();
  box.env.CRED_SOCK = box.socket;
  return box;
}

const command = (name: string, script: string, extra = "") =>
  `[credentials.${name}]\nsource = "command"\ncommand = ["${script}"]\n${extra}\n`;

describe("credagent reload", () => {
  test("applies the new file and prints what was added, changed, removed and kept; status shows the config", async () => {
    const box = sandbox();
    try {
      const a = countingSource(box, "a", 3600);
      const b = countingSource(box, "b", 3600);
      const c = countingSource(box, "c", 3600);
      box.writeConfig(command("a", a.script) + command("b", b.script));
      await box.start();
      const before = await box.run(["status"]);
      expect(before.code).toBe(0);
      expect(before.stdout).toContain(`config ${box.configFile}, loaded `);
      expect(before.stdout).not.toContain("last reload failed");

      box.writeConfig(command("a", a.script) + command("b", b.script, 'timeout = "20s"') + command("c", c.script));
      const r = await box.run(["reload"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`reloaded ${box.configFile}`);
      expect(r.stdout).toMatch(/added: +c\n/);
      expect(r.stdout).toMatch(/changed: +b\n/);
      expect(r.stdout).toMatch(/removed: +-\n/);
      expect(r.stdout).toMatch(/kept: +a\n/);
      expect((await box.run(["get", "c"])).stdout.trim()).toBe("c-1");

      box.writeConfig(command("c", c.script));
      const json = JSON.parse((await box.run(["reload", "--json"])).stdout);
      expect(json).toMatchObject({ added: [], changed: [], removed: ["a", "b"], kept: ["c"], start_only_changed: [] });
      expect(json.config.path).toBe(box.configFile);
      expect((await box.run(["get", "a"])).code).toBe(1);
    } finally {
      await box.cleanup();
    }
  });

  test("names the connections, git and docker entries, databases and endpoints it added, changed or removed, and which wait for a restart", async () => {
    const box = sandbox();
    try {
      const a = countingSource(box, "a", 3600);
      const conn = (host: string) => `[connections.app]\ncredential = "a"\ntemplate = "postgresql://u:{password}@${host}/app"\n`;
      box.writeConfig(`${command("a", a.script)}\n${conn("db1")}\n[git]\n"https://git.example.com" = "a"\n`);
      await box.start();
      box.writeConfig(
        `${command("a", a.script)}\n${conn("db2")}\n[connections.other]\ncredential = "a"\ntemplate = "postgresql://u:{password}@x/y"\n` +
          `[docker]\n"registry.example.com" = "a"\n` +
          `[databases.newdb]\ncredential = "a"\nprotocol = "postgresql"\nserver = "127.0.0.1:5432"\ntls = "disable"\n` +
          `[endpoints]\nazure = true\n`,
      );
      const r = await box.run(["reload"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("  [connections] added other; changed app; removed - (in effect now)\n");
      expect(r.stdout).toContain("  [git] added -; changed -; removed https://git.example.com (in effect now)\n");
      expect(r.stdout).toContain("  [docker] added registry.example.com; changed -; removed - (in effect now)\n");
      expect(r.stdout).toContain("  [databases] added newdb; changed -; removed - (applies at the next start)\n");
      expect(r.stdout).toContain("  [endpoints] added azure, port; changed -; removed - (applies at the next start)\n");
      expect(r.stderr).toContain("databases, endpoints changed; they apply at the next start: credagent stop && credagent start");
      // The same file again changes nothing.
      const again = JSON.parse((await box.run(["reload", "--json"])).stdout);
      expect(again.sections).toEqual([]);
    } finally {
      await box.cleanup();
    }
  });

  test("a broken file keeps the previous config; reload and status say why; SIGHUP logs the same", async () => {
    const box = sandbox();
    try {
      const a = countingSource(box, "a", 3600);
      box.writeConfig(command("a", a.script));
      const pid = await box.start();
      box.writeConfig(`${command("a", a.script)}\n[credentials.b\n`);
      const r = await box.run(["reload"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${box.configFile}: not valid TOML at line 6, column`);
      expect(r.stderr).toContain("the previous config stays in force");
      // Still served from the config loaded at start.
      expect((await box.run(["get", "a"])).stdout.trim()).toBe("a-1");
      const status = await box.run(["status"]);
      expect(status.stdout).toContain("last reload failed at ");
      expect(status.stdout).toContain("not valid TOML at line 6");
      const health = JSON.parse((await box.run(["status", "--json"])).stdout).agent;
      expect(health.config.last_reload_error).toContain("not valid TOML at line 6");

      box.writeConfig(`[credentials.a]\nsource = "command"\ncomand = ["x"]\n`);
      process.kill(pid, "SIGHUP");
      await waitFor(() => box.agentLog.includes("credentials.a.command: missing"), 5_000, "the SIGHUP reload failure in the log");
      const line = box.agentLog.split("\n").find((l) => l.includes("credentials.a.command: missing"));
      expect(line).toContain("ERROR config reload failed; the previous config stays in force");
      expect((await box.run(["get", "a"])).stdout.trim()).toBe("a-1");

      // A good file clears the error.
      box.writeConfig(command("a", a.script) + command("b", a.script));
      process.kill(pid, "SIGHUP");
      await waitFor(() => box.agentLog.includes("config reloaded"), 5_000, "the SIGHUP reload in the log");
      expect((await box.run(["status"])).stdout).not.toContain("last reload failed");
    } finally {
      await box.cleanup();
    }
  });

  test("settings read only at start are named when they changed, with how to apply them", async () => {
    const box = sandbox();
    try {
      const a = countingSource(box, "a", 3600);
      box.writeConfig(command("a", a.script));
      const pid = await box.start();
      box.writeConfig(`[agent]\ndeny_root = true\n\n${command("a", a.script)}`);
      const r = await box.run(["reload"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/kept: +a\n/);
      expect(r.stderr).toContain("agent.deny_root changed; it applies at the next start: credagent stop && credagent start");

      box.writeConfig(`keyring = "file"\nfile_passphrase_file = "p"\n[agent]\ndeny_root = true\n\n${command("a", a.script)}`);
      const two = await box.run(["reload"]);
      expect(two.stderr).toContain("keyring, file_passphrase_file, agent.deny_root changed; they apply at the next start");
      process.kill(pid, "SIGHUP");
      await waitFor(
        () => box.agentLog.includes("keyring, file_passphrase_file, agent.deny_root changed; they apply"),
        5_000,
        "the SIGHUP notice",
      );
    } finally {
      await box.cleanup();
    }
  });
});

describe("start --config", () => {
  test("an agent running with another config is named, with what to do, and start fails", async () => {
    const box = sandbox();
    try {
      const a = countingSource(box, "a", 3600);
      box.writeConfig(command("a", a.script));
      const other = join(box.root, "other.toml");
      writeFileSync(other, "");
      const pid = await box.start(["--config", box.configFile]);
      const r = await box.run(["start", "-s", "--config", other]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(`an agent (pid ${pid}) already runs at ${box.socket} with the config ${box.configFile}, not ${other}`);
      expect(r.stderr).toContain(`credagent stop && credagent start --config ${other}`);
      // The same file, even spelt relative to the working directory, and no --config at all, are fine.
      expect((await box.run(["start", "-s", "--config", "config/credagent/config.toml"], { cwd: box.root })).code).toBe(0);
      expect((await box.run(["start", "-s"])).code).toBe(0);
    } finally {
      await box.cleanup();
    }
  });
});

describe("issuer mismatch", () => {
  let provider: TestProvider;
  beforeAll(async () => {
    provider = await TestProvider.create(60);
  });
  afterAll(() => provider?.close());

  test("names the issuer configured and the one the provider announced", async () => {
    const box = sandbox();
    try {
      box.env.CREDAGENT_FILE_PASSPHRASE = "issuer-test-passphrase";
      // The query keeps discovery on the provider's own document, whose issuer has none.
      const configured = `${provider.issuer}/?tenant=other`;
      box.writeConfig(
        `keyring = "file"\n\n[credentials.x]\nsource = "oauth2"\ngrant = "client_credentials"\nissuer = "${configured}"\nclient_id = "svc-basic"\n`,
      );
      const set = await box.run(["secret", "set", "x", "--stdin"], { input: provider.clients.basicSecret });
      expect(set.code).toBe(0);
      await box.start();
      const r = await box.run(["get", "x"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`the provider announces the issuer ${provider.issuer}, but the config expects ${configured}`);
    } finally {
      await box.cleanup();
    }
  });
});
