import { expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

// The layering of src/ as .dependency-cruiser.cjs states it (STYLE.md's arrows), and the rule that
// only transport/, identity/, platform/ and native/ branch on the OS. Each check is shown to fail
// on a tree that breaks it.

const REPO = resolve(import.meta.dir, "../..");
const DEPCRUISE = join(REPO, "node_modules/.bin/depcruise");

function cruise(cwd: string): { code: number; out: string } {
  const r = Bun.spawnSync([DEPCRUISE, "src", "--config", join(REPO, ".dependency-cruiser.cjs"), "--output-type", "err"], {
    cwd,
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}

test("src/ keeps its layering: no circles, no arrow up from the core or the OS rooms, front doors take the admission step", () => {
  const r = cruise(REPO);
  expect(r.out).toContain("no dependency violations found");
  expect(r.code).toBe(0);
}, 60_000);

test("the rule file fails a tree that breaks each rule", () => {
  const root = mkdtempSync("/tmp/ca-layering-");
  try {
    cpSync(join(REPO, "tsconfig.json"), join(root, "tsconfig.json"));
    const file = (path: string, text: string) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    file("src/errors.ts", "export const E = 1;\n");
    file("src/cli/run.ts", 'import "../refresh/a.ts";\nexport const run = 1;\n');
    file("src/refresh/a.ts", 'import { run } from "../cli/run.ts";\nexport const a = run;\n');
    file("src/store/s.ts", 'import "../api/app.ts";\n');
    file("src/api/app.ts", 'import "node:fs";\nimport "../identity/peer.ts";\n');
    file("src/identity/peer.ts", "export const p = 1;\n");
    file("src/http/server.ts", 'import "../config/load.ts";\n');
    file("src/config/load.ts", "export const c = 1;\n");
    file("src/endpoints/x.ts", 'import "../agent/run.ts";\n');
    file("src/agent/run.ts", "export const r = 1;\n");
    const r = cruise(root);
    expect(r.code).not.toBe(0);
    for (const rule of [
      "no-circular",
      "core-imports-no-feature",
      "low-rooms-look-down",
      "front-doors-take-admission",
      "api-is-runtime-free",
      "http-is-generic",
      "only-main-takes-the-agent",
      "only-main-takes-the-cli",
    ])
      expect({ rule, found: r.out.includes(rule) }).toEqual({ rule, found: true });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}, 60_000);

/** Rooms that may ask which OS this is; paths.ts takes it as data in its PathEnv. */
const OS_ROOMS = /^src\/(transport|identity|platform|native)\/|^src\/paths\.ts$/;

function osReaders(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.ts$/.test(name) && /process\.(platform|getuid)\b/.test(readFileSync(path, "utf8"))) found.push(relative(root, path));
    }
  };
  walk(join(root, "src"));
  return found.filter((f) => !OS_ROOMS.test(f)).sort();
}

test("only transport/, identity/, platform/ and native/ read the OS (process.platform, process.getuid)", () => {
  expect(osReaders(REPO)).toEqual([]);
  // The check finds one: a tree with such a read outside those rooms.
  const root = mkdtempSync("/tmp/ca-layering-");
  try {
    mkdirSync(join(root, "src/refresh"), { recursive: true });
    mkdirSync(join(root, "src/platform"), { recursive: true });
    writeFileSync(join(root, "src/refresh/x.ts"), 'export const w = process.platform === "win32";\n');
    writeFileSync(join(root, "src/platform/os.ts"), "export const os = process.platform;\n");
    expect(osReaders(root)).toEqual(["src/refresh/x.ts"]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
