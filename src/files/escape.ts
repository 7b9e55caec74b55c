// How one value is written into each file format so that its own reader gets it back unchanged: a
// quote, a line break or a `#` in a password must neither break the file nor start a line of its
// own. A value a format cannot carry is refused with the reason, never written damaged. Each
// function is named after the place the value stands in. Pure: no I/O.

/** A value that cannot be written where it stands; the message says why (never the value). */
export class ValueRefused extends Error {
  override name = "ValueRefused";
}

const LINE_BREAK = /[\r\n]/;

/**
 * A netrc token (login, password, account). Read by curl (and so git) and Python's netrc: plain
 * when it is safe, else in double quotes with \ before " and \. A line break cannot be carried:
 * curl reads the file line by line, and its `\n` escape means n to Python.
 */
export function netrcToken(value: string): string {
  if (LINE_BREAK.test(value)) throw new ValueRefused("a netrc file cannot hold a line break in a value (curl reads it line by line)");
  if (value.includes("\0")) throw new ValueRefused("a netrc file cannot hold a NUL character");
  if (/^[A-Za-z0-9._@:/+=,~%!$&*()^?<>|{}[\]-]+$/.test(value)) return value;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * An ini value (`key = value` to the end of the line), as Python's configparser (RawConfigParser,
 * or interpolation=None), pip, and libpq's pg_service.conf read it: as written, with the spaces
 * around it trimmed. So a line break, or a space at either end, cannot be carried.
 */
export function iniValue(value: string): string {
  if (LINE_BREAK.test(value)) throw new ValueRefused("an ini value cannot hold a line break (the rest would be read as a line of its own)");
  if (value.includes("\0")) throw new ValueRefused("an ini value cannot hold a NUL character");
  if (value !== value.trim()) throw new ValueRefused("an ini value cannot begin or end with a space (readers trim it)");
  return value;
}

/** Inside a JSON string literal (between its quotes). */
export function jsonInString(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

/** A JSON value of its own: a string literal, quotes included. */
export function jsonString(value: string): string {
  return JSON.stringify(value);
}

// YAML (1.1 and 1.2) takes only printable characters in a file, even inside quotes; DEL, C1 controls
// and the Unicode line separators are written as escapes.
const YAML_NON_PRINTABLE = /[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/g;

/** Inside a double-quoted YAML scalar: JSON's escapes are YAML's too. */
export function yamlInDoubleQuotes(value: string): string {
  return JSON.stringify(value)
    .slice(1, -1)
    .replace(YAML_NON_PRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** A YAML value of its own: a double-quoted scalar, quotes included. */
export function yamlString(value: string): string {
  return `"${yamlInDoubleQuotes(value)}"`;
}

/** Inside a single-quoted YAML scalar: ' is doubled; a line break would fold into a space. */
export function yamlInSingleQuotes(value: string): string {
  if (/[\r\n\x85\u2028\u2029]/.test(value))
    throw new ValueRefused("a single-quoted YAML scalar cannot hold a line break: put the reference in double quotes or none");
  if (/[\0-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufeff\ufffe\uffff]/.test(value))
    throw new ValueRefused("a single-quoted YAML scalar cannot hold control characters: put the reference in double quotes or none");
  return value.replace(/'/g, "''");
}

/**
 * A dotenv value (the whole value after `KEY=`), as the `dotenv` package reads it (the parser
 * `credagent exec --env-file` uses): plain when safe; else in the first quotes it does not hold,
 * ' and ` keeping everything as it is (line breaks too), " only when no \n or \r sequence is there
 * (dotenv turns them into line breaks). A value holding all three quotes, or ending in \ (read as
 * an escaped closing quote), cannot be carried; nor a carriage return (dotenv makes it \n).
 */
export function dotenvValue(value: string): string {
  if (/^[A-Za-z0-9_./:@+,%=-]+$/.test(value)) return value;
  if (value.includes("\r")) throw new ValueRefused("a dotenv value cannot hold a carriage return (dotenv reads it as a line break)");
  if (value.includes("\0")) throw new ValueRefused("a dotenv value cannot hold a NUL character");
  if (value.endsWith("\\"))
    throw new ValueRefused("a dotenv value cannot end with a backslash (dotenv reads it as escaping the closing quote)");
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes("`")) return `\`${value}\``;
  if (!value.includes('"') && !/\\[nr]/.test(value)) return `"${value}"`;
  throw new ValueRefused("a dotenv value cannot hold ', \" and ` all together (there is no quote left to put around it)");
}

// XML 1.0 allows tab, LF, CR and the printable ranges; nothing escapes the others.
const NOT_XML_CHAR = /[\0-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** XML text or an attribute value: markup characters and line breaks as character references. */
export function xmlText(value: string): string {
  if (NOT_XML_CHAR.test(value)) throw new ValueRefused("the value holds a control character that XML 1.0 cannot carry");
  return value.replace(/[&<>"'\t\n\r]/g, (c) => XML_ENTITIES[c]!);
}

const XML_ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
  "\t": "&#9;",
  "\n": "&#10;",
  "\r": "&#13;",
};

/** A pgpass field (libpq's password file): \ and : escaped; a line break cannot be carried. */
export function pgpassField(value: string): string {
  if (LINE_BREAK.test(value)) throw new ValueRefused("a pgpass file cannot hold a line break in a field");
  return value.replace(/[\\:]/g, (c) => `\\${c}`);
}

/** As it is: `format = "raw"` means the reader takes the bytes as they come. */
export function raw(value: string): string {
  return value;
}
