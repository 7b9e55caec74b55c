import {
  dotenvValue,
  iniValue,
  jsonInString,
  jsonString,
  netrcToken,
  pgpassField,
  raw,
  ValueRefused,
  xmlText,
  yamlInDoubleQuotes,
  yamlInSingleQuotes,
  yamlString,
} from "./escape.ts";
import { describeReference, type Reference, type Segment, type TemplateProblem } from "./template.ts";

// Where each reference of a template stands in its file's format decides how its value is escaped:
// inside a JSON string or as a JSON value of its own; a whole netrc token; the value of a dotenv or
// ini line. A template is compiled once at load into text and fields; a field is a run of text and
// references escaped together (a netrc token `user-{{ db.username }}` is quoted as one token).
// Places where no escaping is safe (a comment, a YAML block scalar, a quoted dotenv value) are
// config errors with their line. Pure: no I/O.

export const FILE_FORMATS = ["netrc", "ini", "json", "yaml", "env", "xml", "pgpass", "raw"] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];

export interface Field {
  /** Template text and references, in order; their concatenation is escaped as one value. */
  parts: Array<string | { ref: Reference; line: number }>;
  escape: (value: string) => string;
}

export type Piece = string | Field;

export class TemplateCompileError extends Error {
  override name = "TemplateCompileError";
  constructor(readonly problems: TemplateProblem[]) {
    super(problems.map((p) => `line ${p.line}: ${p.message}`).join("; "));
  }
}

// The template is scanned with each reference replaced by one private-use character, so that the
// format's own rules (quotes, comments, lines) are applied to text alone.
const MARK_BASE = 0xe000;
const MARK_LIMIT = 0x1900;
const MARKS = /[\ue000-\uf8ff]/;

interface Marked {
  text: string;
  refs: Array<{ ref: Reference; line: number }>;
}

function mark(segments: Segment[]): Marked {
  const refs: Marked["refs"] = [];
  let text = "";
  for (const segment of segments) {
    if ("text" in segment) {
      if (MARKS.test(segment.text))
        throw new TemplateCompileError([{ line: 1, message: "the template holds private-use characters (U+E000 to U+F8FF)" }]);
      text += segment.text;
    } else {
      if (refs.length >= MARK_LIMIT) throw new TemplateCompileError([{ line: segment.line, message: "too many references" }]);
      text += String.fromCharCode(MARK_BASE + refs.length);
      refs.push({ ref: segment.ref, line: segment.line });
    }
  }
  return { text, refs };
}

const isMark = (ch: string | undefined) => ch !== undefined && ch >= "\ue000" && ch <= "\uf8ff";

/** Turns a piece of marked text into a field's parts. */
function fieldOf(marked: Marked, text: string, escape: (value: string) => string): Field {
  const parts: Field["parts"] = [];
  let literal = "";
  for (const ch of text) {
    if (isMark(ch)) {
      if (literal) parts.push(literal);
      literal = "";
      parts.push(marked.refs[ch.charCodeAt(0) - MARK_BASE]!);
    } else literal += ch;
  }
  if (literal) parts.push(literal);
  return { parts, escape };
}

function lineOf(marked: Marked, index: number): number {
  for (let i = index; i < marked.text.length; i++)
    if (isMark(marked.text[i])) return marked.refs[marked.text.charCodeAt(i) - MARK_BASE]!.line;
  return 1 + (marked.text.slice(0, index).match(/\n/g)?.length ?? 0);
}

/** Compiles a parsed template for its format; throws TemplateCompileError with lines. */
export function compileTemplate(segments: Segment[], format: FileFormat): Piece[] {
  const marked = mark(segments);
  switch (format) {
    case "raw":
      return perReference(marked, () => raw);
    case "pgpass":
      return perReference(marked, () => pgpassField);
    case "xml":
      return perReference(marked, (index) => {
        const before = marked.text.slice(0, index);
        if (before.lastIndexOf("<![CDATA[") > before.lastIndexOf("]]>")) return "a reference inside CDATA cannot be escaped";
        if (before.lastIndexOf("<!--") > before.lastIndexOf("-->")) return "a reference inside a comment";
        return xmlText;
      });
    case "json":
      return perReference(marked, jsonContexts(marked.text));
    case "yaml":
      return perReference(marked, yamlContexts(marked.text));
    case "netrc":
      return netrcFields(marked);
    case "env":
      return lineValueFields(marked, {
        line: /^(\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*=[ \t]*)(.*?)([ \t]*)$/,
        what: "a dotenv line KEY={{ … }}",
        comment: /^\s*#/,
        check: (value) => {
          if (/^['"`]/.test(value)) return "write the value without quotes (KEY={{ NAME }}): credagent quotes it as the value needs";
          if (value.includes("#")) return "a # after a reference would start a comment: put the comment on a line of its own";
          return null;
        },
        escape: dotenvValue,
      });
    case "ini":
      return lineValueFields(marked, {
        line: /^(\s*[^\s=:[#;][^=:]*?\s*[=:][ \t]*)(.*?)([ \t]*)$/,
        what: "an ini line key = {{ … }}",
        comment: /^\s*[#;[]/,
        check: () => null,
        escape: iniValue,
      });
  }
}

/** Each reference a field of its own, escaped by what `escapeAt` says of its place (or a problem). */
function perReference(marked: Marked, escapeAt: (index: number) => ((value: string) => string) | string): Piece[] {
  const pieces: Piece[] = [];
  const problems: TemplateProblem[] = [];
  let literal = "";
  for (let i = 0; i < marked.text.length; i++) {
    const ch = marked.text[i]!;
    if (!isMark(ch)) {
      literal += ch;
      continue;
    }
    const escape = escapeAt(i);
    const ref = marked.refs[ch.charCodeAt(0) - MARK_BASE]!;
    if (typeof escape === "string") {
      problems.push({ line: ref.line, message: `${describeReference(ref.ref)}: ${escape}` });
      continue;
    }
    if (literal) pieces.push(literal);
    literal = "";
    pieces.push({ parts: [ref], escape });
  }
  if (literal) pieces.push(literal);
  if (problems.length > 0) throw new TemplateCompileError(problems);
  return pieces;
}

/** Whether the text around a bare reference leaves it standing as a value of its own. */
function standsAlone(text: string, index: number, after: RegExp): boolean {
  let b = index - 1;
  while (b >= 0 && (text[b] === " " || text[b] === "\t")) b--;
  let a = index + 1;
  while (a < text.length && (text[a] === " " || text[a] === "\t")) a++;
  const prev = b < 0 ? "\n" : text[b]!;
  const next = a >= text.length ? "\n" : text[a]!;
  return /[\n:[,{-]/.test(prev) && after.test(next);
}

function jsonContexts(text: string): (index: number) => ((value: string) => string) | string {
  const inString = new Map<number, boolean>();
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (isMark(ch)) inString.set(i, quoted);
    else if (quoted && ch === "\\") i++;
    else if (ch === '"') quoted = !quoted;
  }
  return (index) => {
    if (inString.get(index)) return jsonInString;
    if (standsAlone(text, index, /[\n,\]}]/)) return jsonString;
    return 'in JSON a reference stands inside a string ("…{{ NAME }}…") or alone as a value';
  };
}

/**
 * Each reference's place in a YAML file: inside double or single quotes, a plain value of its own,
 * a comment, or a block scalar (| or >, whose lines no escape reaches).
 */
function yamlContexts(text: string): (index: number) => ((value: string) => string) | string {
  const contexts = new Map<number, "double" | "single" | "plain" | "comment" | "block">();
  let state: "plain" | "double" | "single" | "comment" = "plain";
  // The indentation of the line that opened a block scalar; lines indented deeper belong to it.
  let blockIndent: number | null = null;
  let lineStart = true;
  let lineIndent = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (lineStart) {
      lineStart = false;
      let j = i;
      while (text[j] === " ") j++;
      lineIndent = j - i;
      const blank = j >= text.length || text[j] === "\n";
      if (blockIndent !== null && !blank && lineIndent <= blockIndent) blockIndent = null;
    }
    if (ch === "\n") {
      if (state === "comment") state = "plain";
      if (state === "plain" && blockIndent === null) {
        const line = text.slice(text.lastIndexOf("\n", i - 1) + 1, i);
        if (/(^|[:\s-])[|>][-+0-9]*\s*(#.*)?$/.test(line)) blockIndent = line.length - line.trimStart().length;
      }
      lineStart = true;
      continue;
    }
    if (isMark(ch)) {
      contexts.set(i, blockIndent !== null && state === "plain" ? "block" : state);
      continue;
    }
    if (blockIndent !== null && state === "plain") continue;
    if (state === "double") {
      if (ch === "\\") i++;
      else if (ch === '"') state = "plain";
    } else if (state === "single") {
      if (ch === "'" && text[i + 1] === "'") i++;
      else if (ch === "'") state = "plain";
    } else if (state === "plain") {
      const prev = i === 0 ? "\n" : text[i - 1]!;
      const startsScalar = /[\s:[{,-]/.test(prev);
      if (ch === "#" && /\s/.test(prev)) state = "comment";
      else if (ch === '"' && startsScalar) state = "double";
      else if (ch === "'" && startsScalar) state = "single";
    }
  }
  return (index) => {
    switch (contexts.get(index)) {
      case "double":
        return yamlInDoubleQuotes;
      case "single":
        return yamlInSingleQuotes;
      case "comment":
        return "a reference inside a comment";
      case "block":
        return "a reference inside a block scalar (| or >) cannot be escaped: make it a quoted value";
      default:
        if (standsAlone(text, index, /[\n,\]}#]/)) return yamlString;
        return 'in YAML a reference stands inside quotes ("…{{ NAME }}…") or alone as a value';
    }
  };
}

/** netrc: the whitespace-separated token a reference is in is quoted as one. */
function netrcFields(marked: Marked): Piece[] {
  const pieces: Piece[] = [];
  const problems: TemplateProblem[] = [];
  let offset = 0;
  for (const line of marked.text.split(/(?<=\n)/)) {
    if (!MARKS.test(line)) {
      pieces.push(line);
      offset += line.length;
      continue;
    }
    if (/^\s*#/.test(line)) problems.push({ line: lineOf(marked, offset), message: "a reference inside a comment" });
    for (const token of line.split(/([ \t\r\n]+)/)) {
      if (!MARKS.test(token)) {
        pieces.push(token);
        continue;
      }
      if (/["\\]/.test(token)) {
        problems.push({
          line: lineOf(marked, offset),
          message: "write the token without quotes or backslashes: credagent quotes it as the value needs",
        });
      }
      pieces.push(fieldOf(marked, token, netrcToken));
    }
    offset += line.length;
  }
  if (problems.length > 0) throw new TemplateCompileError(problems);
  return pieces;
}

/** dotenv and ini: a reference stands in a line's value, which is escaped as a whole. */
function lineValueFields(
  marked: Marked,
  rules: { line: RegExp; what: string; comment: RegExp; check: (value: string) => string | null; escape: (value: string) => string },
): Piece[] {
  const pieces: Piece[] = [];
  const problems: TemplateProblem[] = [];
  let offset = 0;
  for (const chunk of marked.text.split(/(?<=\n)/)) {
    const eol = chunk.endsWith("\n") ? "\n" : "";
    const line = chunk.slice(0, chunk.length - eol.length);
    const at = lineOf(marked, offset);
    offset += chunk.length;
    if (!MARKS.test(line)) {
      pieces.push(chunk);
      continue;
    }
    const match = rules.comment.test(line) ? null : rules.line.exec(line);
    if (!match || MARKS.test(match[1]!)) {
      problems.push({ line: at, message: `a reference stands only in the value of ${rules.what}` });
      continue;
    }
    const problem = rules.check(match[2]!);
    if (problem) {
      problems.push({ line: at, message: problem });
      continue;
    }
    pieces.push(match[1]!, fieldOf(marked, match[2]!, rules.escape), match[3]! + eol);
  }
  if (problems.length > 0) throw new TemplateCompileError(problems);
  return pieces;
}

/**
 * The file's text with each reference's value; throws ValueRefused (naming the reference, never
 * the value) for one the format cannot carry where it stands.
 */
export function renderPieces(pieces: Piece[], valueOf: (ref: Reference) => string): string {
  let out = "";
  for (const piece of pieces) {
    if (typeof piece === "string") {
      out += piece;
      continue;
    }
    const value = piece.parts.map((part) => (typeof part === "string" ? part : valueOf(part.ref))).join("");
    try {
      out += piece.escape(value);
    } catch (err) {
      if (!(err instanceof ValueRefused)) throw err;
      const refs = piece.parts.filter((p) => typeof p !== "string").map((p) => describeReference(p.ref));
      throw new ValueRefused(`${refs.join(" with ")} (line ${piece.parts.find((p) => typeof p !== "string")?.line}): ${err.message}`);
    }
  }
  return out;
}
