import { describe, expect, test } from "bun:test";
import { configError } from "../../support/config-errors.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, parseConfig } from "../../../src/config/load.ts";

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected an error");
}

describe("config", () => {
  test("a command credential with defaults", () => {
    const c = parseConfig('[credentials.db]\nsource = "command"\ncommand = ["az", "x"]\nrefresh_before = "5m"\n', "/c.toml");
    expect(c.credentials).toEqual([
      {
        name: "db",
        source: "command",
        command: ["az", "x"],
        refreshBeforeMs: 300_000,
        awsRefreshWindowMs: 900_000,
        lifetimeMs: 300_000,
        timeoutMs: 30_000,
        prefetch: false,
        allow: undefined,
        confirm: false,
      },
    ]);
  });

  test("aws_refresh_window: 15 minutes by default, a duration, or 0s for none", () => {
    const parse = (extra: string) =>
      parseConfig(`[credentials.k]\nsource = "command"\ncommand = ["x"]\n${extra}`, "/c.toml").credentials[0]!.awsRefreshWindowMs;
    expect(parse("")).toBe(900_000);
    expect(parse('aws_refresh_window = "5m"\n')).toBe(300_000);
    expect(parse('aws_refresh_window = "0s"\n')).toBe(0);
    expect(errorOf(() => parse('aws_refresh_window = "soon"\n'))).toContain("credentials.k.aws_refresh_window");
  });

  test("a kerberos credential: principal, realm, one kdc or a list, lifetimes; a keytab relative to the config; always kept fresh", () => {
    const c = parseConfig(
      '[credentials.corp]\nsource = "kerberos"\nprincipal = "alice"\nrealm = "CORP.EXAMPLE"\nkdc = "dc1.corp.example:88"\nticket_lifetime = "10h"\nrenew_lifetime = "7d"\n' +
        '[credentials.batch]\nsource = "kerberos"\nprincipal = "svc/batch@CORP.EXAMPLE"\nkeytab = "batch.keytab"\nkdc = ["dc1", "[::1]:88"]\n',
      "/etc/credagent/c.toml",
    );
    expect(c.credentials[0]).toMatchObject({
      name: "corp",
      source: "kerberos",
      principal: "alice",
      realm: "CORP.EXAMPLE",
      kdc: ["dc1.corp.example:88"],
      ticketLifetimeMs: 36_000_000,
      renewLifetimeMs: 604_800_000,
      prefetch: true,
    });
    expect(c.credentials[1]).toMatchObject({ keytab: "/etc/credagent/batch.keytab", kdc: ["dc1", "[::1]:88"] });
  });

  test("a kerberos credential's mistakes: a kdc with no realm, a bad kdc, a key of another source", () => {
    const noRealm = errorOf(() => parseConfig('[credentials.k]\nsource = "kerberos"\nprincipal = "alice"\nkdc = "dc1"\n', "/c.toml"));
    expect(noRealm).toContain("kdc needs a realm");
    const badKdc = errorOf(() => parseConfig('[credentials.k]\nsource = "kerberos"\nprincipal = "a@R"\nkdc = "dc1:88:1"\n', "/c.toml"));
    expect(badKdc).toContain("credentials.k.kdc:");
    const other = errorOf(() => parseConfig('[credentials.k]\nsource = "kerberos"\nprincipal = "a@R"\ncommand = ["x"]\n', "/c.toml"));
    expect(other).toContain("credentials.k.command: unknown key");
  });

  test("errors name the file, the key and what is wrong", () => {
    const msg = errorOf(() => parseConfig('[credentials.db]\nsource = "command"\ncommand = []\nrefersh_before = "5m"\n', "/etc/c.toml"));
    expect(msg).toContain("/etc/c.toml");
    expect(msg).toContain("credentials.db.command:");
    expect(msg).toContain("credentials.db.refersh_before: unknown key");
  });

  test("unknown sources, bad durations, bad names and bad TOML are rejected", () => {
    expect(errorOf(() => parseConfig('[credentials.db]\nsource = "magic"\n', "f"))).toContain("unknown source");
    expect(errorOf(() => parseConfig('[credentials.db]\nsource = "command"\ncommand=["a"]\ntimeout = "soon"\n', "f"))).toContain(
      "credentials.db.timeout: expected a duration",
    );
    expect(errorOf(() => parseConfig('[credentials."a/b"]\nsource = "command"\ncommand=["a"]\n', "f"))).toContain("credential name");
    expect(errorOf(() => parseConfig("[credentials.db\n", "f"))).toContain("not valid TOML");
  });

  test("keyring choice and a passphrase file relative to the config or the home directory", () => {
    const c = parseConfig('keyring = "file"\nfile_passphrase_file = "pass.txt"\n', "/etc/credagent/config.toml");
    expect([c.keyring, c.filePassphraseFile]).toEqual(["file", "/etc/credagent/pass.txt"]);
    expect(parseConfig('file_passphrase_file = "~/p"\n', "/x.toml").filePassphraseFile).toBe(`${require("node:os").homedir()}/p`);
    expect(parseConfig("", "/x.toml").keyring).toBe("auto");
    expect(errorOf(() => parseConfig('keyring = "vault"\n', "f"))).toContain('keyring: expected "auto", "os" or "file"');
  });

  test("a missing file is an empty config at the default path, an error when named", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    try {
      expect(loadConfig(join(dir, "none.toml"), false).credentials).toEqual([]);
      expect(errorOf(() => loadConfig(join(dir, "none.toml"), true))).toContain("ENOENT");
      writeFileSync(join(dir, "ok.toml"), "");
      expect(loadConfig(join(dir, "ok.toml"), true).credentials).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("allow rules, confirm and the agent's access settings", () => {
  const c = parseConfig(
    '[agent]\ndeny_root = true\nrequire_session_token = true\n\n[credentials.db]\nsource = "static"\nconfirm = true\nallow = [ { exe = "/usr/bin/psql" }, { exe = "/opt/app", sha256 = "' +
      "a".repeat(64) +
      '" }, { uid = 1000 } ]\n',
    "/c.toml",
  );
  expect([c.denyRoot, c.requireSessionToken]).toEqual([true, true]);
  expect(c.credentials[0]).toMatchObject({
    confirm: true,
    allow: [{ exe: "/usr/bin/psql" }, { exe: "/opt/app", sha256: "a".repeat(64) }, { uid: 1000 }],
  });
  expect(configError('[credentials.db]\nsource = "static"\nallow = [ { exe = "psql" } ]\n')).toContain(
    "credentials.db.allow.0.exe: expected an absolute path",
  );
  expect(configError('[credentials.db]\nsource = "static"\nallow = [ { } ]\n')).toContain("a rule needs exe, sha256 or uid");
  expect(configError('[credentials.db]\nsource = "static"\nallow = [ { sha256 = "xyz" } ]\n')).toContain("expected 64 hex digits");
});

describe("connections, git and docker tables", () => {
  const base = `[credentials.cmd]\nsource = "command"\ncommand = ["x"]\n\n[credentials.tok]\nsource = "static"\n\n[credentials.named]\nsource = "static"\nusername = "app"\n\n`;
  const problem = (toml: string) => {
    try {
      parseConfig(base + toml, "/c.toml");
    } catch (err) {
      return (err as Error).message;
    }
    return "";
  };

  test("a connection's template format is told by its shape, and pgpass defaults to port 5432 and any database", () => {
    const config = parseConfig(
      base + `[connections.a]\ncredential = "named"\ntemplate = "host=db user={username} password={password}"\npgpass = { host = "db" }\n`,
      "/c.toml",
    );
    expect(config.connections).toEqual([
      {
        name: "a",
        credential: "named",
        template: { text: "host=db user={username} password={password}", format: "libpq" },
        pgpass: { host: "db", port: "5432", database: "*" },
      },
    ]);
  });

  test("a template using a part the credential cannot have is refused at load, saying what to set", () => {
    expect(problem(`[connections.a]\ncredential = "tok"\ntemplate = "postgresql://{username}:{password}@db/app"\n`)).toContain(
      "uses {username}, which the credential 'tok' does not have (it has {password}, {token}; set username = \"…\" on it)",
    );
    expect(problem(`[connections.a]\ncredential = "named"\ntemplate = "x={session_token};"\n`)).toContain("uses {session_token}");
    // A command may print any kind: what it lacks shows when it answers.
    expect(problem(`[connections.a]\ncredential = "cmd"\ntemplate = "postgresql://{username}:{password}@db/app"\n`)).toBe("");
    expect(problem(`[connections.a]\ncredential = "tok"\npgpass = { host = "db" }\n`)).toContain("a pgpass line needs a user name");
    expect(problem(`[connections.a]\ncredential = "nope"\ntemplate = "postgresql://db"\n`)).toContain(
      "names the credential 'nope', which is not configured",
    );
    expect(problem(`[connections.a]\ncredential = "named"\n`)).toContain("expected a template, a pgpass entry, or both");
    expect(problem(`[connections.a]\ncredential = "named"\ntemplate = "just words"\n`)).toContain('set format = "url"');
  });

  test("git and docker tables name configured credentials; git keys are http(s) URLs", () => {
    expect(
      parseConfig(base + `[git]\n"https://git.example.com" = "tok"\n[docker]\n"registry.example.com" = "named"\n`, "/c.toml"),
    ).toMatchObject({ git: { "https://git.example.com": "tok" }, docker: { "registry.example.com": "named" } });
    expect(problem(`[git]\n"https://git.example.com" = "nope"\n`)).toContain(`git."https://git.example.com": names the credential 'nope'`);
    expect(problem(`[git]\n"git.example.com" = "tok"\n`)).toContain("is not a URL");
  });
});

test("a jdbc or redis template with a placeholder where the driver reads none is refused at load, with the key", () => {
  const base = '[credentials.db]\nsource = "command"\ncommand = ["x"]\nusername = "u"\n[connections.c]\ncredential = "db"\n';
  expect(() => parseConfig(`${base}template = "jdbc:postgresql://{username}@db/app"\n`, "/c.toml")).toThrow(
    /connections\.c\.template: a JDBC template has placeholders only in its properties' values/,
  );
  expect(() => parseConfig(`${base}template = "redis://cache:6379/{password}"\n`, "/c.toml")).toThrow(
    /connections\.c\.template: a Redis URL/,
  );
  expect(
    parseConfig(`${base}template = "jdbc:mariadb://db/app?user={username}&password={password}"\n`, "/c.toml").connections[0]?.template
      ?.format,
  ).toBe("jdbc");
});
