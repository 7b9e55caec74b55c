// The audit log's line format, shared by the agent (writer) and `credagent log` (reader).

export const AUDIT_FILE = "audit.log";

export interface AuditEntry {
  time: string;
  event: "fetch" | "refresh" | "login" | "connection";
  decision: "allow" | "deny";
  reason: string;
  credential: string | null;
  pid: number | null;
  uid: number | null;
  exe: string | null;
}

