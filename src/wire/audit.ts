// The audit log's line format, shared by the agent (writer) and `credagent log` (reader).

export const AUDIT_FILE = "audit.log";

export interface AuditEntry {
  time: string;
  /** "audit": a line about the audit log itself (refusals past their share of the file). */
  event: "fetch" | "refresh" | "login" | "connection" | "audit";
  decision: "allow" | "deny";
  reason: string;
  credential: string | null;
  pid: number | null;
  uid: number | null;
  /** The program the request is attributed to: for a request through credagent's CLI, the program that ran it (pid and uid are its too). */
  exe: string | null;
  /** For a request through credagent's CLI: that CLI process. Absent for other clients. */
  via?: { exe: string | null; pid: number } | null;
  /** For a connection to a database endpoint of the agent ([databases.NAME]): its name. */
  database?: string;
  /** For a refused connection: the front door it came to ("api", "sdk-endpoints", "database:NAME"). */
  door?: string;
  /** For decisions told in one line: how many more of them the line stands for (the first was written on its own). */
  count?: number;
}
