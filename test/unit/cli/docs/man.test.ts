import { expect, test } from "bun:test";
import { COMMANDS } from "../../../../src/cli/run.ts";
import { configSchema } from "../../../../src/config/schema.ts";
import { KEY_DOCS, schemaKeys } from "../../../../src/cli/docs/config-keys.ts";
import { manPage1, manPage5 } from "../../../../src/cli/docs/man.ts";

test("every config key the schema takes has its line in credagent.toml(5), and every line a key", () => {
  const keys = schemaKeys(configSchema);
  expect(keys.length).toBeGreaterThan(40);
  expect(keys.filter((k) => !(k in KEY_DOCS))).toEqual([]);
  expect(Object.keys(KEY_DOCS).filter((k) => !keys.includes(k))).toEqual([]);
  const page = manPage5();
  for (const key of keys) expect(page).toContain(`.B ${key}\n`);
});

test("credagent(1) has every command with its usage text, and every option", async () => {
  const commands = await Promise.all(COMMANDS.map(async (entry) => ({ entry, command: await entry.load() })));
  const page = manPage1(commands);
  for (const { entry, command } of commands) {
    expect(page).toContain(`.SS ${entry.name}\n`);
    // Each option, by its long name or its short one (-s is how the usage names --sh).
    const usage = command.usage;
    for (const [long, option] of Object.entries(command.options)) {
      const named =
        usage.includes(`--${long}`) || (option.short !== undefined && new RegExp(`(^|[\\s|\\[])-${option.short}\\b`).test(usage));
      expect({ command: entry.name, option: long, named }).toEqual({ command: entry.name, option: long, named: true });
    }
  }
});

test("both pages render with groff without a warning", async () => {
  const groff = Bun.which("groff");
  if (!groff) {
    if (process.env.CI === "true") throw new Error("CI=true and groff is missing: test/run.sh installs it");
    return console.warn("skipping the man page rendering check: groff is not installed");
  }
  const commands = await Promise.all(COMMANDS.map(async (entry) => ({ entry, command: await entry.load() })));
  for (const page of [manPage1(commands), manPage5()]) {
    const r = Bun.spawnSync([groff, "-man", "-Tutf8", "-ww", "-z"], { stdin: new Blob([page]), stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  }
});
