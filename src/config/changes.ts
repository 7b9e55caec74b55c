import type { ReloadSectionChange } from "../wire/types.ts";
import type { AgentConfig } from "./load.ts";

/**
 * The config's named tables besides credentials, as a reload compares them: each entry by its key
 * (a connection's or database's name, a git URL prefix, a registry, an endpoint setting), and
 * whether the running agent applies a change at once or only at its next start.
 */
const SECTIONS: ReadonlyArray<{ section: string; atStart: boolean; entries: (c: AgentConfig) => Map<string, string> }> = [
  { section: "connections", atStart: false, entries: (c) => byKey(c.connections.map((x) => [x.name, x])) },
  // Read from the file by each helper call: in effect as soon as the file is saved.
  { section: "git", atStart: false, entries: (c) => byKey(Object.entries(c.git)) },
  { section: "docker", atStart: false, entries: (c) => byKey(Object.entries(c.docker)) },
  // Listeners are made at start (src/dbproxy, src/endpoints).
  { section: "databases", atStart: true, entries: (c) => byKey(c.databases.map((x) => [x.name, x])) },
  { section: "endpoints", atStart: true, entries: (c) => byKey(Object.entries(c.endpoints ?? {})) },
];

function byKey(pairs: Array<readonly [string, unknown]>): Map<string, string> {
  return new Map(pairs.filter(([, v]) => v !== undefined).map(([k, v]) => [k, JSON.stringify(v)]));
}

/** What a reload changes in each table besides credentials; tables without a change are left out. */
export function sectionChanges(running: AgentConfig, next: AgentConfig): ReloadSectionChange[] {
  const out: ReloadSectionChange[] = [];
  for (const { section, atStart, entries } of SECTIONS) {
    const before = entries(running);
    const after = entries(next);
    const added = [...after.keys()].filter((k) => !before.has(k));
    const removed = [...before.keys()].filter((k) => !after.has(k));
    const changed = [...after.keys()].filter((k) => before.has(k) && before.get(k) !== after.get(k));
    if (added.length + removed.length + changed.length > 0) out.push({ section, added, changed, removed, at_start: atStart });
  }
  return out;
}

/** "added a, b; changed c; removed -" for one table. */
export function describeSectionChange(change: ReloadSectionChange): string {
  const list = (names: string[]) => (names.length === 0 ? "-" : names.join(", "));
  return `added ${list(change.added)}; changed ${list(change.changed)}; removed ${list(change.removed)}`;
}
