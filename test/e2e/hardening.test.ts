import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { countingSource, Sandbox } from "./harness.ts";

// A compiled Bun binary would read .env and bunfig.toml (whose preload runs code) from the
// current directory, and honours BUN_OPTIONS. Running credagent inside an untrusted checkout
// must not run that checkout's code, and the agent must not inherit a preload.
let box: Sandbox;
let checkout: string;
let marker: string;

beforeAll(async () => {
  box = new Sandbox();
  const db = countingSource(box, "db", 3600);
  box.writeConfig(`[credentials.db]\nsource = "command"\ncommand = ["${db.script}"]\n`);
  checkout = join(box.root, "untrusted-checkout");
  mkdirSync(checkout);
  marker = join(box.root, "preload-ran");
  const evil = join(checkout, "evil.js");
  writeFileSync(evil, `require("fs").appendFileSync(${JSON.stringify(marker)}, process.argv.slice(2).join(" ") + "\\n");\n`);
  writeFileSync(join(checkout, "bunfig.toml"), `preload = ["./evil.js"]\n[run]\npreload = ["./evil.js"]\n`);
  writeFileSync(join(checkout, ".env"), `CRED_SOCK=${join(box.root, "evil.sock")}\n`);
  box.env.CRED_SOCK = box.socket;
});
afterAll(() => box.cleanup());

describe("untrusted working directory", () => {
  test("bunfig.toml preloads and .env files in the current directory are ignored", async () => {
    const start = await box.run(["start"], { cwd: checkout });
    expect(start.code).toBe(0);
    const get = await box.run(["get", "db"], { cwd: checkout, env: { CRED_SOCK: undefined } });
    expect(get.code).toBe(0);
    expect(get.stdout).toBe("db-1\n");
    expect(existsSync(marker)).toBe(false);
  });

  test("BUN_OPTIONS and NODE_OPTIONS are not passed on to the agent", async () => {
    await box.run(["stop"]);
    const preload = join(checkout, "evil.js");
    const r = await box.run(["start"], { env: { BUN_OPTIONS: `--preload ${preload}`, NODE_OPTIONS: `--require ${preload}` } });
    expect(r.code).toBe(0);
    const ran = existsSync(marker) ? readFileSync(marker, "utf8") : "";
    // The CLI process itself may honour the user's own BUN_OPTIONS; the agent it spawns must not.
    expect(ran).not.toContain("agent");
    expect((await box.run(["get", "db"])).code).toBe(0);
  });
});
