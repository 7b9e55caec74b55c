import { closeSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { AUDIT_FILE, type AuditEntry } from "../../wire/audit.ts";
import { CredagentError } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { stateDir } from "../../paths.ts";
import { defineCommand, noPositionals } from "../command.ts";
import { type CliContext } from "../io.ts";
import { printable, terminalSafeJson } from "../../printable.ts";

const usage = `usage: credagent log [-f] [--json]

Shows the audit log: every access decision of the agent (time, pid, uid, executable, credential,
allow or deny, and why). For a request through credagent's own CLI, the program is the one that
ran it, shown "via" that credagent process. Never a token. -f follows it as it grows; --json prints the raw lines.`;

export const log = defineCommand(
  "log",
  usage,
  { follow: { type: "boolean", short: "f" }, json: { type: "boolean" } },
  async ({ values, positionals }, ctx) => {
    noPositionals(positionals);
    const path = join(stateDir(ctx.pathEnv), AUDIT_FILE);
    let offset = printFrom(ctx, path, 0, Boolean(values.json));
    if (offset === null && !values.follow) {
      throw new CredagentError("unavailable", `no audit log yet at ${path}`);
    }
    while (values.follow) {
      await Bun.sleep(250);
      let size = 0;
      try {
        size = statSync(path).size;
      } catch {
        // not created yet
      }
      if (offset !== null && size < offset) offset = 0; // rotated
      offset = printFrom(ctx, path, offset ?? 0, Boolean(values.json)) ?? offset;
    }
    return EXIT.ok;
  },
);

/** Prints whole lines from offset on; returns the offset after the last whole line, or null if there is no file. */
function printFrom(ctx: CliContext, path: string, offset: number, json: boolean): number | null {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return null;
  }
  try {
    const size = statSync(path).size;
    if (size <= offset) return offset;
    const buffer = Buffer.alloc(size - offset);
    readSync(fd, buffer, 0, buffer.length, offset);
    const text = buffer.toString("utf8");
    const end = text.lastIndexOf("\n") + 1;
    for (const line of text.slice(0, end).split("\n")) {
      if (line === "") continue;
      ctx.out(json ? `${terminalSafeJson(line)}\n` : `${humanLine(line)}\n`);
    }
    return offset + Buffer.byteLength(text.slice(0, end));
  } finally {
    closeSync(fd);
  }
}

function humanLine(line: string): string {
  try {
    const e = JSON.parse(line) as AuditEntry;
    // The executable, the reason (which names programs) and the rest came from peers: shown printable.
    if (e.event === "audit") return printable(`${e.time} ${e.reason}`);
    const times = e.count === undefined ? "" : ` (${e.count} more like it)`;
    const via = e.via ? ` via ${e.via.exe ?? "credagent"} (pid ${e.via.pid})` : "";
    const who = `pid ${e.pid ?? "?"} uid ${e.uid ?? "?"} ${e.exe ?? (e.via ? "(unverified program)" : "")}`.trim() + via;
    return printable(
      `${e.time} ${e.decision.toUpperCase()} ${e.event}${e.credential ? ` ${e.credential}` : ""} by ${who}: ${e.reason}${times}`,
    );
  } catch {
    return printable(line);
  }
}
