import * as v from "valibot";
import { compileTemplate, FILE_FORMATS, TemplateCompileError, type FileFormat, type Piece } from "../files/formats.ts";
import { parseTemplate, referencesOf, type KnownNames, type Segment } from "../files/template.ts";

// `[files.NAME]`: a file the agent keeps fresh from a template (a netrc, an .npmrc, a service's
// config), rewritten at each new value of a credential it uses. The template is parsed and compiled
// for its format here, at load, so that an unknown name or a reference where no escaping is safe is
// a config error naming the template's line (and the config file's, when it can be found).

export interface FileConfig {
  name: string;
  /** Absolute; absent: the agent's runtime directory (credagent/files/NAME beside the socket). */
  path?: string;
  format: FileFormat;
  template: { text: string; segments: Segment[]; pieces: Piece[] };
  mode: number;
  keep: boolean;
  replace: boolean;
  onChange?: { argv: string[]; timeoutMs: number };
  /** The credentials whose values it holds, those of the connections it uses included. */
  credentials: string[];
  connections: string[];
}

const FILE_NAME = /^[A-Za-z0-9._-]{1,128}$/;
const DEFAULT_ON_CHANGE_TIMEOUT_MS = 30_000;

/** The valibot entry for `files`, added to the config schema; `duration` is the schema's own. */
export function filesSchema(duration: v.GenericSchema<unknown, number>) {
  return v.record(
    v.pipe(v.string(), v.regex(FILE_NAME, "a file's name may only use letters, digits, '.', '_' and '-' (1 to 128 of them)")),
    v.strictObject(
      {
        path: v.optional(v.pipe(v.string("expected a path such as ~/.netrc"), v.minLength(1, "expected a path such as ~/.netrc"))),
        template: v.pipe(v.string("expected the file's text, with {{ NAME }} references"), v.minLength(1, "must not be empty")),
        format: v.picklist(FILE_FORMATS, `expected one of ${FILE_FORMATS.map((f) => `"${f}"`).join(", ")} (how values are escaped)`),
        mode: v.optional(
          v.pipe(
            v.union([v.pipe(v.string(), v.regex(/^0?[0-7]{3}$/)), v.number()], 'expected an octal mode such as "0600"'),
            v.transform((m) => (typeof m === "number" ? m : Number.parseInt(m, 8))),
            v.number(),
            v.integer(),
            v.minValue(0, 'expected an octal mode such as "0600"'),
            v.maxValue(0o777, 'expected an octal mode such as "0600" (no setuid, setgid or sticky bits)'),
            v.check((m) => (m & 0o600) === 0o600, "the owner must be able to read and write it (0600 or more)"),
          ),
        ),
        on_change: v.optional(
          v.pipe(
            v.array(v.pipe(v.string("each argument must be a string"), v.minLength(1, "arguments must not be empty"))),
            v.minLength(1, 'expected the program and its arguments, e.g. ["systemctl", "--user", "reload", "app.service"]'),
          ),
        ),
        on_change_timeout: v.optional(duration),
        keep: v.optional(v.boolean("expected true or false")),
        replace: v.optional(v.boolean("expected true or false")),
      },
      (issue) =>
        issue.expected === "never"
          ? "unknown key (path, template, format, mode, on_change, on_change_timeout, keep, replace)"
          : "missing; this key is required",
    ),
  );
}

/**
 * The checked files. Problems are returned as lines in the config's error style (`files.NAME.key:
 * …`); `resolvePath` makes a path absolute (~/ is the home directory); `configText` locates lines.
 */
export function toFiles(
  input: v.InferOutput<ReturnType<typeof filesSchema>> | undefined,
  known: KnownNames & {
    templated: Set<string>;
    /** Connection → its credential. */
    credentialOf: Map<string, string>;
    /** Credentials with allow rules or confirm = true: a file any program of the user can read would bypass them. */
    guarded: Set<string>;
  },
  resolvePath: (value: string) => string,
  configText: string,
): { files: FileConfig[]; problems: string[] } {
  const files: FileConfig[] = [];
  const problems: string[] = [];
  for (const [name, f] of Object.entries(input ?? {})) {
    const at = `files.${name}`;
    const firstLine = templateLine(configText, name);
    const where = (line: number) => (firstLine === null ? `${at}.template, line ${line}` : `${at}.template (line ${firstLine + line - 1})`);
    const { segments, problems: found } = parseTemplate(f.template, known);
    for (const p of found) problems.push(`  ${where(p.line)}: ${p.message}`);
    const refs = referencesOf(segments);
    for (const connection of refs.connections) {
      if (!known.templated.has(connection))
        problems.push(`  ${at}.template: the connection '${connection}' has no template (only a pgpass entry) to fill in`);
    }
    for (const credential of new Set([...refs.credentials, ...refs.connections.map((c) => known.credentialOf.get(c)!)])) {
      if (known.guarded.has(credential))
        problems.push(
          `  ${at}.template: the credential '${credential}' has allow rules or confirm = true, which a file any program of yours can read would bypass; take it out of the file (use credagent exec or the socket), or drop its rules`,
        );
    }
    if (found.length > 0) continue;
    let pieces: Piece[];
    try {
      pieces = compileTemplate(segments, f.format);
    } catch (err) {
      if (!(err instanceof TemplateCompileError)) throw err;
      for (const p of err.problems) problems.push(`  ${where(p.line)}: ${p.message}`);
      continue;
    }
    const invalid = checkFilled(f.format, pieces);
    if (invalid) problems.push(`  ${at}.template: ${invalid}`);
    files.push({
      name,
      ...(f.path === undefined ? {} : { path: resolvePath(f.path) }),
      format: f.format,
      template: { text: f.template, segments, pieces },
      mode: f.mode ?? 0o600,
      keep: f.keep ?? false,
      replace: f.replace ?? false,
      ...(f.on_change ? { onChange: { argv: f.on_change, timeoutMs: f.on_change_timeout ?? DEFAULT_ON_CHANGE_TIMEOUT_MS } } : {}),
      credentials: refs.credentials,
      connections: refs.connections,
    });
  }
  return { files, problems };
}

/** A JSON or YAML template, filled in, must parse: a misplaced brace is found now, not by the app. */
function checkFilled(format: FileFormat, pieces: Piece[]): string | null {
  if (format !== "json" && format !== "yaml") return null;
  const text = pieces
    .map((p) => (typeof p === "string" ? p : p.escape(p.parts.map((x) => (typeof x === "string" ? x : "x")).join(""))))
    .join("");
  try {
    if (format === "json") JSON.parse(text);
    else Bun.YAML.parse(text);
    return null;
  } catch (err) {
    return `once filled in, the file is not valid ${format === "json" ? "JSON" : "YAML"}: ${(err as Error).message}`;
  }
}

/**
 * The config file's line where the template's first line is: after `[files.NAME]`, the line of
 * `template =` (the next one when the value opens with """ or ''' and a line break, which TOML
 * drops). Null when it cannot be told (an inline table, a dotted key).
 */
function templateLine(text: string, name: string): number | null {
  const lines = text.split("\n");
  const header = new RegExp(`^\\s*\\[\\s*files\\s*\\.\\s*("${escapeRegExp(name)}"|'${escapeRegExp(name)}'|${escapeRegExp(name)})\\s*\\]`);
  const start = lines.findIndex((line) => header.test(line));
  if (start < 0) return null;
  for (let i = start + 1; i < lines.length && !/^\s*\[/.test(lines[i]!); i++) {
    const m = /^\s*template\s*=\s*("""|''')?(.*)$/.exec(lines[i]!);
    if (!m) continue;
    return m[1] && m[2]!.trim() === "" ? i + 2 : i + 1;
  }
  return null;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
