import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../../../src/config/load.ts";
import { FileKeeper } from "../../../src/files/keeper.ts";
import type { OnChangeOutcome } from "../../../src/files/on-change.ts";
import type { ValueSource } from "../../../src/files/render.ts";
import { keptFiles } from "../../../src/files/specs.ts";
import { OwnedFiles } from "../../../src/files/write.ts";
import { createLogger } from "../../../src/log/log.ts";
import { Secret } from "../../../src/secret.ts";
import type { Token } from "../../../src/sources/source.ts";

let root: string;
let home: string;
let runtime: string;
let logLines: string[];
let tokens: Map<string, Token>;
let onChangeRuns: string[][];

beforeEach(() => {
  root = mkdtempSync("/tmp/ca-files-");
  home = join(root, "home");
  runtime = join(root, "run", "credagent");
  mkdirSync(home, { recursive: true });
  logLines = [];
  tokens = new Map();
  onChangeRuns = [];
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const values: ValueSource = {
  token: (name) => tokens.get(name),
  connection: () => "unused",
  credentialOf: () => "unused",
};

function token(value: string, username?: string): Token {
  return { value: new Secret(value), tokenType: "Bearer", obtainedAt: 0, expiresAt: Date.now() + 60_000, username };
}

function keeper(toml: string, record: string | null = join(root, "state", "kept.json")): FileKeeper {
  const config = parseConfig(`[credentials.git]\nsource = "static"\nusername = "me"\n\n${toml}`, join(root, "config.toml"));
  const k = new FileKeeper({
    owned: new OwnedFiles(record),
    values,
    log: createLogger((line) => logLines.push(line), "debug"),
    now: Date.now,
    runOnChange: async (argv): Promise<OnChangeOutcome> => {
      onChangeRuns.push(argv);
      return { ranAt: Date.now(), ok: true, error: null };
    },
  });
  k.apply(keptFiles(config, { runtimeDir: runtime, home }));
  return k;
}

const NETRC = `[files.netrc]\npath = "${"HOME"}/.netrc"\nformat = "netrc"\ntemplate = "machine h login {{ git.username }} password {{ git }}\\n"\n`;
const netrc = () => NETRC.replace("HOME", home);

describe("kept files", () => {
  test("written 0600 once the value is there, rewritten at each new value, atomically (no temp file left)", () => {
    const k = keeper(netrc());
    const path = join(home, ".netrc");
    expect(existsSync(path)).toBe(false);
    expect(k.list()[0]).toMatchObject({ name: "netrc", state: "waiting", credentials: ["git"] });
    tokens.set("git", token("one", "me"));
    k.credentialChanged("git");
    expect(readFileSync(path, "utf8")).toBe("machine h login me password one\n");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    tokens.set("git", token("t w o", "me"));
    k.credentialChanged("git");
    expect(readFileSync(path, "utf8")).toBe('machine h login me password "t w o"\n');
    expect(readdirSync(home)).toEqual([".netrc"]);
    expect(k.list()[0]).toMatchObject({ state: "written", error: null, mode: "0600" });
    expect(logLines.join("")).not.toContain("t w o");
  });

  test("removed on lock and stop, written again after unlock", () => {
    tokens.set("git", token("one", "me"));
    const k = keeper(netrc());
    const path = join(home, ".netrc");
    expect(existsSync(path)).toBe(true);
    k.lock();
    expect(existsSync(path)).toBe(false);
    k.credentialChanged("git");
    expect(existsSync(path)).toBe(false);
    k.unlock();
    expect(existsSync(path)).toBe(true);
    k.stop();
    expect(existsSync(path)).toBe(false);
  });

  test("keep = true: a lock blanks the secrets (user names stay)", () => {
    tokens.set("git", token("one", "me"));
    const k = keeper(`${netrc()}keep = true\n`);
    k.lock();
    expect(readFileSync(join(home, ".netrc"), "utf8")).toBe('machine h login me password ""\n');
    expect(k.list()[0]!.state).toBe("blanked");
  });

  test("a file credagent did not write is never overwritten or removed; replace = true takes it", () => {
    const path = join(home, ".netrc");
    writeFileSync(path, "mine\n");
    tokens.set("git", token("one", "me"));
    const k = keeper(netrc());
    expect(readFileSync(path, "utf8")).toBe("mine\n");
    expect(k.list()[0]!.state).toBe("failed");
    expect(k.list()[0]!.error).toContain(`move it aside (mv ${path} ${path}.orig) or set replace = true in [files.netrc]`);
    k.stop();
    expect(readFileSync(path, "utf8")).toBe("mine\n");
    keeper(`${netrc()}replace = true\n`);
    expect(readFileSync(path, "utf8")).toBe("machine h login me password one\n");
  });

  test("a file credagent wrote is known as its own across restarts; one changed since is not", () => {
    tokens.set("git", token("one", "me"));
    keeper(`${netrc()}keep = true\n`);
    const path = join(home, ".netrc");
    // A new agent (a new keeper on the same record) rewrites it.
    tokens.set("git", token("two", "me"));
    keeper(netrc());
    expect(readFileSync(path, "utf8")).toContain("two");
    writeFileSync(path, "edited by hand\n");
    const k = keeper(netrc());
    expect(readFileSync(path, "utf8")).toBe("edited by hand\n");
    k.stop();
    expect(readFileSync(path, "utf8")).toBe("edited by hand\n");
  });

  test("a symlink, or a path outside home, is refused", () => {
    const target = join(root, "elsewhere");
    writeFileSync(target, "x");
    symlinkSync(target, join(home, ".netrc"));
    tokens.set("git", token("one", "me"));
    const k = keeper(`${netrc()}replace = true\n`);
    expect(k.list()[0]!.error).toContain("is a symbolic link");
    expect(readFileSync(target, "utf8")).toBe("x");
    const outside = keeper(netrc().replace(`${home}/.netrc`, join(root, "outside")));
    expect(outside.list()[0]!.error).toContain("is not in your home directory");
    expect(existsSync(join(root, "outside"))).toBe(false);
  });

  test("a directory symlinked out of home is refused", () => {
    symlinkSync(root, join(home, "out"));
    tokens.set("git", token("one", "me"));
    const k = keeper(netrc().replace(`${home}/.netrc`, join(home, "out", "leak")));
    expect(k.list()[0]!.error).toContain("is not in your home directory");
    expect(existsSync(join(root, "leak"))).toBe(false);
  });

  test("no path: the runtime directory; mode as asked", () => {
    tokens.set("git", token("one", "me"));
    keeper(`[files.tok]\nformat = "raw"\nmode = "0640"\ntemplate = "{{ git }}"\n`);
    const path = join(runtime, "files", "tok");
    expect(readFileSync(path, "utf8")).toBe("one");
    expect(statSync(path).mode & 0o777).toBe(0o640);
  });

  test("on_change runs after a rewrite that changed the file, not after one that did not", async () => {
    tokens.set("git", token("one", "me"));
    const k = keeper(`[files.tok]\nformat = "raw"\ntemplate = "{{ git }}"\non_change = ["reload-app"]\n`);
    await Bun.sleep(0);
    expect(onChangeRuns).toEqual([["reload-app"]]);
    k.credentialChanged("git");
    await Bun.sleep(0);
    expect(onChangeRuns.length).toBe(1);
    tokens.set("git", token("two", "me"));
    k.credentialChanged("git");
    await Bun.sleep(0);
    expect(onChangeRuns.length).toBe(2);
    expect(k.list()[0]!.on_change).toMatchObject({ ok: true, error: null });
  });

  test("a reload that moves a file removes the old one; one that drops it removes it", () => {
    tokens.set("git", token("one", "me"));
    const owned = new OwnedFiles(null);
    const k = new FileKeeper({
      owned,
      values,
      log: createLogger(() => {}, "debug"),
      now: Date.now,
      runOnChange: async () => ({ ranAt: 0, ok: true, error: null }),
    });
    const load = (toml: string) =>
      keptFiles(parseConfig(`[credentials.git]\nsource = "static"\nusername = "me"\n\n${toml}`, join(root, "c.toml")), {
        runtimeDir: runtime,
        home,
      });
    k.apply(load(netrc()));
    expect(existsSync(join(home, ".netrc"))).toBe(true);
    k.apply(load(netrc().replace(`${home}/.netrc`, `${home}/.netrc2`)));
    expect(existsSync(join(home, ".netrc"))).toBe(false);
    expect(readFileSync(join(home, ".netrc2"), "utf8")).toContain("password one");
    k.apply(load(""));
    expect(existsSync(join(home, ".netrc2"))).toBe(false);
    expect(k.list()).toEqual([]);
  });

  test("a value the format cannot carry: the file is not written, the error names the reference", () => {
    tokens.set("git", token("two\nlines", "me"));
    const k = keeper(netrc());
    expect(existsSync(join(home, ".netrc"))).toBe(false);
    expect(k.list()[0]!.error).toContain("the credential 'git'");
    expect(k.list()[0]!.error).not.toContain("lines");
  });

  test("the connections' pgpass entries are a kept file too", () => {
    tokens.set("git", token("p:w", "me"));
    const config = parseConfig(
      `[credentials.git]\nsource = "static"\nusername = "me"\n\n[connections.db]\ncredential = "git"\npgpass = { host = "h" }\n`,
      join(root, "c.toml"),
    );
    const k = new FileKeeper({
      owned: new OwnedFiles(null),
      values,
      log: createLogger(() => {}, "debug"),
      now: Date.now,
      runOnChange: async () => ({ ranAt: 0, ok: true, error: null }),
    });
    k.apply(keptFiles(config, { runtimeDir: runtime, home }));
    expect(readFileSync(join(runtime, "pgpass"), "utf8")).toBe("h:5432:*:me:p\\:w\n");
    expect(k.list()[0]).toMatchObject({ name: "pgpass", format: "pgpass", credentials: ["git"] });
  });
});

describe("the config", () => {
  const base = '[credentials.git]\nsource = "static"\n\n';
  const error = (toml: string) => {
    try {
      parseConfig(base + toml, "/c.toml");
    } catch (err) {
      return (err as Error).message;
    }
    return "";
  };

  test("template problems name the config file's line", () => {
    const msg = error('[files.n]\nformat = "netrc"\ntemplate = """\nmachine h\npassword {{ gti }}\n"""\n');
    expect(msg).toContain("files.n.template (line 8): {{ gti }}: no credential named 'gti'");
  });

  test("bad format, mode, a part the credential lacks, JSON that does not parse", () => {
    expect(error('[files.n]\nformat = "toml"\ntemplate = "x"\n')).toContain("files.n.format: expected one of");
    expect(error('[files.n]\nformat = "raw"\nmode = "0200"\ntemplate = "x"\n')).toContain("files.n.mode");
    expect(error('[files.n]\nformat = "raw"\ntemplate = "{{ git.username }}"\n')).toContain('set username = "…"');
    expect(error('[files.n]\nformat = "json"\ntemplate = "{\\"a\\": {{ git }}"\n')).toContain("not valid JSON");
    expect(error('[files.n]\nformat = "raw"\ntemplate = "x"\nkeeep = true\n')).toContain("files.n.keeep: unknown key");
    const guarded = '[credentials.db]\nsource = "static"\nallow = [ { uid = 0 } ]\n\n[files.n]\nformat = "raw"\ntemplate = "{{ db }}"\n';
    expect(error(guarded)).toContain("the credential 'db' has allow rules or confirm = true");
  });
});
