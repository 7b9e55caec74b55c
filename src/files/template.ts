// A kept-fresh file's template: text with references in double braces, `{{ NAME }}` (a credential's
// token or password), `{{ NAME.PART }}` (one part of it) and `{{ conn.NAME }}` (a connection
// string). Parsed once at load, with the line of each reference, so that a typo is a config error
// naming its line rather than a file that silently lacks a password. Pure: no I/O.

export const PARTS = ["username", "password", "token", "access_key_id", "secret_access_key", "session_token"] as const;
export type Part = (typeof PARTS)[number];

export type Reference = { kind: "credential"; credential: string; part?: Part } | { kind: "connection"; connection: string };

export type Segment = { text: string } | { ref: Reference; source: string; line: number };

export interface TemplateProblem {
  /** 1-based line within the template. */
  line: number;
  message: string;
}

/** What the config defines, for resolving the names a template uses. */
export interface KnownNames {
  /** Each credential, and the parts its answers can have (as far as the config tells). */
  credentials: Map<string, readonly string[]>;
  connections: Set<string>;
}

const REFERENCE = /\{\{([^{}\n]*)\}\}/g;
const NAME = /^[A-Za-z0-9._-]{1,128}$/;

/** The template cut into text and references; problems (unknown names or parts) with their lines. */
export function parseTemplate(template: string, known: KnownNames): { segments: Segment[]; problems: TemplateProblem[] } {
  const segments: Segment[] = [];
  const problems: TemplateProblem[] = [];
  let at = 0;
  const lineAt = (index: number) => 1 + countNewlines(template, index);
  const pushText = (start: number, end: number) => {
    if (end <= start) return;
    const text = template.slice(start, end);
    segments.push({ text });
    // A lone "{{" (a reference missing its closing braces) would otherwise be written as it stands.
    const open = text.indexOf("{{");
    if (open >= 0)
      problems.push({ line: lineAt(start + open), message: `"{{" with no closing "}}" on its line: a reference is {{ NAME }}` });
  };
  for (const match of template.matchAll(REFERENCE)) {
    const index = match.index!;
    pushText(at, index);
    at = index + match[0].length;
    const line = lineAt(index);
    const resolved = resolveReference(match[1]!.trim(), known);
    if ("problem" in resolved) {
      problems.push({ line, message: `${match[0]}: ${resolved.problem}` });
      continue;
    }
    segments.push({ ref: resolved.ref, source: match[0], line });
  }
  pushText(at, template.length);
  return { segments, problems };
}

function countNewlines(text: string, end: number): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < end; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/**
 * What a reference names. Credential names may hold dots, so `a.b` is the credential `a.b` when one
 * is configured, else part `b` of credential `a`; `conn.X` is a connection when one is named X.
 */
function resolveReference(inner: string, known: KnownNames): { ref: Reference } | { problem: string } {
  if (inner === "") return { problem: "an empty reference; write {{ NAME }}, {{ NAME.PART }} or {{ conn.NAME }}" };
  const readings: Reference[] = [];
  if (inner.startsWith("conn.") && known.connections.has(inner.slice(5))) readings.push({ kind: "connection", connection: inner.slice(5) });
  if (known.credentials.has(inner)) readings.push({ kind: "credential", credential: inner });
  const dot = inner.lastIndexOf(".");
  const base = dot > 0 ? inner.slice(0, dot) : "";
  const part = dot > 0 ? inner.slice(dot + 1) : "";
  if (known.credentials.has(base) && (PARTS as readonly string[]).includes(part)) {
    readings.push({ kind: "credential", credential: base, part: part as Part });
  }
  if (readings.length > 1) {
    return { problem: `'${inner}' could name ${readings.map(describeReference).join(" or ")}; rename one of them` };
  }
  const ref = readings[0];
  if (!ref) {
    if (inner.startsWith("conn.")) return { problem: `no connection named '${inner.slice(5)}' is configured ([connections.NAME])` };
    if (known.credentials.has(base)) return { problem: `'${part}' is not a part of a credential; the parts are ${PARTS.join(", ")}` };
    if (!NAME.test(inner)) return { problem: `'${inner}' is not a reference; write {{ NAME }}, {{ NAME.PART }} or {{ conn.NAME }}` };
    const names = [...known.credentials.keys()];
    return { problem: `no credential named '${inner}' is configured (the credentials: ${names.join(", ") || "none"})` };
  }
  if (ref.kind === "credential" && ref.part) {
    const parts = known.credentials.get(ref.credential)!;
    if (!parts.includes(ref.part)) {
      const fix = ref.part === "username" ? `; set username = "…" on [credentials.${ref.credential}]` : "";
      return { problem: `the credential '${ref.credential}' has no ${ref.part} (it has ${parts.join(", ")})${fix}` };
    }
  }
  return { ref };
}

export function describeReference(ref: Reference): string {
  if (ref.kind === "connection") return `the connection '${ref.connection}'`;
  return ref.part ? `the ${ref.part} of the credential '${ref.credential}'` : `the credential '${ref.credential}'`;
}

/** The credentials and connections a template uses, each once. */
export function referencesOf(segments: Segment[]): { credentials: string[]; connections: string[] } {
  const credentials = new Set<string>();
  const connections = new Set<string>();
  for (const segment of segments) {
    if (!("ref" in segment)) continue;
    if (segment.ref.kind === "credential") credentials.add(segment.ref.credential);
    else connections.add(segment.ref.connection);
  }
  return { credentials: [...credentials], connections: [...connections] };
}
