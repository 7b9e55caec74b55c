// Per-credential allow rules, as pure functions of facts about the asking process (for requests
// through credagent's CLI, the program that ran it).

export interface AllowRule {
  exe?: string;
  sha256?: string;
  uid?: number;
}

/** What the decision may ask about the peer; the hash is computed only if a rule needs it. */
export interface PeerFacts {
  pid: number | null;
  uid: number | null;
  exe: string | null;
  /** Set when the request came through credagent's CLI and the program that ran it could not be verified: exe and sha256 rules cannot match. */
  unverified?: string | null;
  sha256(): Promise<string | null>;
  /** False when the pid now belongs to another process than the one that connected, or it runs another program. */
  stillSameProcess(): boolean;
}

export interface Decision {
  allowed: boolean;
  /** For the audit log and the 403 message: which rule matched or why none did. */
  reason: string;
}

export function describeRule(rule: AllowRule, index: number): string {
  const parts = Object.entries(rule).map(([k, v]) => `${k} = ${JSON.stringify(v)}`);
  return `rule ${index + 1} { ${parts.join(", ")} }`;
}

export async function authorize(rules: AllowRule[] | undefined, peer: PeerFacts | null): Promise<Decision> {
  if (!rules || rules.length === 0) return { allowed: true, reason: "no allow rules: any process of the user" };
  if (!peer || peer.pid === null) return { allowed: false, reason: "the peer process cannot be identified on this transport" };
  if (!peer.stillSameProcess())
    return { allowed: false, reason: `process ${peer.pid} went away or ran another program before the decision (pid reused, or exec)` };
  const misses: string[] = [];
  for (const [i, rule] of rules.entries()) {
    const miss = await mismatch(rule, peer);
    if (miss === null) return { allowed: true, reason: `${describeRule(rule, i)} matched` };
    misses.push(`${describeRule(rule, i)}: ${miss}`);
  }
  return { allowed: false, reason: `no allow rule matched: ${misses.join("; ")}` };
}

async function mismatch(rule: AllowRule, peer: PeerFacts): Promise<string | null> {
  if (rule.uid !== undefined && peer.uid !== rule.uid) return `uid is ${peer.uid}`;
  if ((rule.exe !== undefined || rule.sha256 !== undefined) && peer.unverified)
    return `the program that ran credagent is unknown: ${peer.unverified}`;
  if (rule.exe !== undefined && peer.exe !== rule.exe) return `exe is ${peer.exe ?? "unknown"}`;
  if (rule.sha256 !== undefined) {
    const hash = await peer.sha256();
    if (hash === null || hash !== rule.sha256.toLowerCase()) return `the executable's sha256 is ${hash ?? "unknown"}`;
  }
  return null;
}
