import { createHash } from "node:crypto";
import { accessSync, constants, existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { loadConfig, type AgentConfig } from "../../config/load.ts";
import { CredagentError, describe } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { configPath } from "../../paths.ts";
import { printable, printableLines, terminalSafeJson } from "../../printable.ts";
import type { HealthResponse } from "../../wire/types.ts";
import { agentOf } from "../agent.ts";
import { defineCommand, noPositionals } from "../command.ts";
import type { CliContext } from "../io.ts";

const usage = `usage: credagent check [--config FILE] [--json]

Checks a config file without starting, stopping or changing an agent (as 'sshd -t' does):
  - the file is read as the agent reads it: every error with its line;
  - each program a command credential or a kept file's on_change runs is looked up (on this
    shell's PATH: an agent started by the session's service manager may have another);
  - each allow rule's exe is a program's real path (the kernel names a process by it: a rule that
    names a link, such as /usr/bin/python3, never matches), and where the rule also gives a
    sha256, the program's hash is still that one (an upgrade changes it);
  - a running agent is asked which file it runs and when it loaded it: a file changed since is
    said, with 'credagent reload' to apply it.
Nothing is fetched and no secret is read. Exit status 0 when nothing is wrong, 1 otherwise.

  --config FILE   the file to check (default: $CREDAGENT_CONFIG, else the default path)
  --json          {"config", "exists", "ok", "problems", "notes", "counts", "agent"}`;

interface CheckResult {
  config: string;
  exists: boolean;
  ok: boolean;
  /** What would fail: a config the agent refuses, a program that is not there, a rule that cannot match. */
  problems: string[];
  /** What the user may want to know: no agent, an agent on an older version of the file. */
  notes: string[];
  counts: { credentials: number; connections: number; databases: number; files: number } | null;
  agent: { pid: number; config: string | null; loaded_at: string | null } | null;
}

export const check = defineCommand(
  "check",
  usage,
  { config: { type: "string" }, json: { type: "boolean" } },
  async ({ values, positionals }, ctx) => {
    noPositionals(positionals);
    const location = configPath(ctx.pathEnv, values.config === undefined ? undefined : resolve(values.config));
    const result: CheckResult = {
      config: location.path,
      exists: existsSync(location.path),
      ok: false,
      problems: [],
      notes: [],
      counts: null,
      agent: null,
    };
    let config: AgentConfig | null = null;
    try {
      config = loadConfig(location.path, location.explicit);
    } catch (err) {
      result.problems.push(describe(err));
    }
    if (config) {
      result.counts = {
        credentials: config.credentials.length,
        connections: config.connections.length,
        databases: config.databases.length,
        files: config.files.length,
      };
      result.problems.push(...programProblems(config, ctx.env.PATH ?? ""), ...allowRuleProblems(config));
    }
    const health = await runningAgent(ctx, result);
    if (health) result.notes.push(...agentNotes(health, location.path, config !== null));
    result.ok = result.problems.length === 0;

    if (values.json) {
      ctx.out(`${terminalSafeJson(JSON.stringify(result, null, 2))}\n`);
      return result.ok ? EXIT.ok : EXIT.failed;
    }
    if (config && result.counts) {
      const c = result.counts;
      ctx.out(
        result.exists
          ? `config ${printable(location.path)}: ${c.credentials} credential(s), ${c.connections} connection(s), ${c.databases} database(s), ${c.files} kept file(s)\n`
          : `config ${printable(location.path)}: absent (an agent runs with no credentials)\n`,
      );
    }
    // A config error's excerpt spans lines: they are indented under their problem.
    for (const problem of result.problems) ctx.out(`problem: ${printableLines(problem).replace(/\n(?=.)/g, "\n  ")}\n`);
    for (const note of result.notes) ctx.out(`note: ${printableLines(note)}\n`);
    ctx.out(result.ok ? "ok\n" : `${result.problems.length} problem(s)\n`);
    return result.ok ? EXIT.ok : EXIT.failed;
  },
);

/** Programs the agent runs: a command credential's, a kept file's on_change. */
function programProblems(config: AgentConfig, path: string): string[] {
  const problems: string[] = [];
  for (const c of config.credentials) {
    if (c.source !== "command") continue;
    const why = missingProgram(c.command[0] ?? "", path);
    if (why) problems.push(`credentials.${c.name}: its command ${why}`);
  }
  for (const f of config.files) {
    if (!f.onChange) continue;
    const why = missingProgram(f.onChange.argv[0] ?? "", path);
    if (why) problems.push(`files.${f.name}: its on_change ${why}`);
  }
  return problems;
}

/** Why `program` cannot be run, or null when it can: a path, else a name looked up on PATH. */
function missingProgram(program: string, path: string): string | null {
  if (program === "") return "is empty";
  if (program.includes("/") || program.includes("\\")) {
    // Resolved by the agent from the directory it was started in, which need not be this one.
    if (!isAbsolute(program)) return `'${program}' is a relative path, run from wherever the agent was started; give its full path`;
    try {
      if (!statSync(program).isFile()) return `'${program}' is not a file`;
      accessSync(program, constants.X_OK);
      return null;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === "EACCES" ? `'${program}' is not executable (chmod +x)` : `'${program}' is not there (${code ?? describe(err)})`;
    }
  }
  return Bun.which(program, { PATH: path }) === null ? `'${program}' is not on PATH (${path || "empty"}); give its full path` : null;
}

/** Allow rules that cannot match: an exe that is not a program's real path, a sha256 the program no longer has. */
function allowRuleProblems(config: AgentConfig): string[] {
  const problems: string[] = [];
  for (const c of config.credentials) {
    for (const [i, rule] of (c.allow ?? []).entries()) {
      if (rule.exe === undefined) continue;
      const where = `credentials.${c.name}: allow rule ${i + 1} (exe = "${rule.exe}")`;
      let real: string;
      try {
        real = realpathSync(rule.exe);
      } catch (err) {
        problems.push(`${where}: no such program (${(err as NodeJS.ErrnoException).code ?? describe(err)}); the rule matches nothing`);
        continue;
      }
      if (real !== rule.exe) {
        problems.push(`${where}: that is a link to ${real}, and the kernel names a process by its real path: write exe = "${real}"`);
        continue;
      }
      if (rule.sha256 === undefined) continue;
      let hash: string;
      try {
        hash = createHash("sha256").update(readFileSync(real)).digest("hex");
      } catch (err) {
        problems.push(`${where}: cannot read it to hash it (${(err as NodeJS.ErrnoException).code ?? describe(err)})`);
        continue;
      }
      if (hash !== rule.sha256.toLowerCase())
        problems.push(
          `${where}: its sha256 is now ${hash}, not the rule's ${rule.sha256} (upgraded?); the rule matches nothing until it says so`,
        );
    }
  }
  return problems;
}

/** The running agent's health, or null with a note why there is none. */
async function runningAgent(ctx: CliContext, result: CheckResult): Promise<HealthResponse | null> {
  try {
    const health = await agentOf(ctx, 3_000).health();
    result.agent = { pid: health.pid, config: health.config?.path ?? null, loaded_at: health.config?.loaded_at ?? null };
    return health;
  } catch (err) {
    if (err instanceof CredagentError && err.code === "agent_not_running")
      result.notes.push("no agent is running ('credagent start' starts one)");
    else result.notes.push(`the agent at ${ctx.socketPath()} did not answer: ${describe(err)}`);
    return null;
  }
}

function agentNotes(health: HealthResponse, path: string, valid: boolean): string[] {
  const running = health.config;
  if (!running) return [];
  if (resolve(running.path) !== resolve(path)) return [`the running agent (pid ${health.pid}) reads ${running.path}, not this file`];
  const notes: string[] = [];
  let modified: number | null = null;
  try {
    modified = statSync(path).mtimeMs;
  } catch {}
  const loaded = Date.parse(running.loaded_at);
  if (modified !== null && modified > loaded)
    notes.push(
      `the running agent (pid ${health.pid}) loaded this file at ${running.loaded_at}; it changed since` +
        (valid ? ": 'credagent reload' applies it" : ": fix it, then 'credagent reload' applies it"),
    );
  else notes.push(`the running agent (pid ${health.pid}) runs this file as it is (loaded at ${running.loaded_at})`);
  if (running.last_reload_error !== null)
    notes.push(`its last reload failed at ${running.last_reload_at}; the config loaded before stays in force`);
  return notes;
}
