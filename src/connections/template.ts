// Connection templates: a connection string with placeholders ({username}, {password}, {token}, ...)
// filled from a credential's parts when an app asks, so the string in the config holds no secret.
// Each placeholder is escaped by the rules of the format it sits in; a value that is not escaped
// could end one field and start another (a password holding `;Database=other`). Pure: no I/O.

/** The formats a template can be in; see formatOf for how one is chosen when the config names none. */
export const TEMPLATE_FORMATS = ["url", "libpq", "adonet", "odbc"] as const;
export type TemplateFormat = (typeof TEMPLATE_FORMATS)[number];

export class TemplateError extends Error {
  override name = "TemplateError";
}

const PLACEHOLDER = /\{([a-z_][a-z0-9_]*)\}/g;

/** The names of the placeholders a template uses, in order of first use. */
export function placeholdersOf(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

/**
 * The format of a template: `scheme://…` is a URL; `key=value` pairs separated by `;` are ODBC
 * when a `Driver` or `DSN` key is there, else ADO.NET; `key=value` pairs separated by spaces are
 * libpq's. The config's `format` overrides this.
 */
export function formatOf(template: string): TemplateFormat {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(template.trim())) return "url";
  if (template.includes(";")) return /(^|;)\s*(driver|dsn)\s*=/i.test(template) ? "odbc" : "adonet";
  if (/^\s*[a-z_][a-z0-9_]*\s*=/i.test(template)) return "libpq";
  throw new TemplateError(
    'the template is neither a URL (scheme://…), libpq key=value pairs, nor ;-separated key=value pairs: set format = "url", "libpq", "adonet" or "odbc"',
  );
}

/** Fills the template; `values` holds every placeholder it uses (the caller checks that at load). */
export function renderTemplate(template: string, format: TemplateFormat, values: Record<string, string>): string {
  const missing = placeholdersOf(template).filter((name) => values[name] === undefined);
  if (missing.length > 0)
    throw new TemplateError(`the template uses ${missing.map((m) => `{${m}}`).join(", ")}, which the credential does not have`);
  switch (format) {
    case "url":
      return template.replace(PLACEHOLDER, (_, name: string) => encodeURIComponent(values[name]!));
    case "libpq":
      return renderPairs(parseLibpq(template), values, quoteLibpq, " ");
    case "adonet":
      return renderPairs(parseSemicolonPairs(template), values, quoteAdoNet, ";");
    case "odbc":
      return renderPairs(parseSemicolonPairs(template), values, quoteOdbc, ";");
  }
}

interface Pair {
  key: string;
  /** The value, unquoted, placeholders still in it. */
  value: string;
  /** The value as written, quotes and all: kept as it is when it holds no placeholder. */
  raw: string;
}

function renderPairs(pairs: Pair[], values: Record<string, string>, quote: (value: string) => string, separator: string): string {
  return pairs
    .map(({ key, value, raw }) => {
      if (placeholdersOf(value).length === 0) return `${key}=${raw}`;
      return `${key}=${quote(value.replace(PLACEHOLDER, (_, name: string) => values[name]!))}`;
    })
    .join(separator);
}

/** libpq's keyword/value form: values single-quoted when needed, with \\ and \' escapes inside. */
function parseLibpq(template: string): Pair[] {
  const pairs: Pair[] = [];
  let i = 0;
  const s = template;
  const skipSpace = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  for (;;) {
    skipSpace();
    if (i >= s.length) return pairs;
    const keyStart = i;
    while (i < s.length && /[a-z0-9_]/i.test(s[i]!)) i++;
    const key = s.slice(keyStart, i);
    skipSpace();
    if (!key || s[i] !== "=") throw new TemplateError(`libpq template: expected key=value at character ${keyStart + 1}`);
    i++;
    skipSpace();
    let value = "";
    const valueStart = i;
    if (s[i] === "'") {
      i++;
      for (;;) {
        if (i >= s.length) throw new TemplateError(`libpq template: the quoted value of ${key} is not closed`);
        const ch = s[i++]!;
        if (ch === "'") break;
        if (ch === "\\" && i < s.length) value += s[i++]!;
        else value += ch;
      }
    } else {
      while (i < s.length && !/\s/.test(s[i]!)) {
        const ch = s[i++]!;
        if (ch === "\\" && i < s.length) value += s[i++]!;
        else value += ch;
      }
    }
    pairs.push({ key, value, raw: s.slice(valueStart, i) });
  }
}

function quoteLibpq(value: string): string {
  if (value !== "" && !/[\s'\\]/.test(value)) return value;
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/**
 * `Key=Value;` pairs (ADO.NET and ODBC alike in the template: plain values, or values quoted the
 * way the format allows, which are unquoted here and quoted again after filling in).
 */
function parseSemicolonPairs(template: string): Pair[] {
  const pairs: Pair[] = [];
  let i = 0;
  const s = template;
  while (i < s.length) {
    while (i < s.length && (s[i] === ";" || /\s/.test(s[i]!))) i++;
    if (i >= s.length) break;
    const eq = s.indexOf("=", i);
    if (eq < 0) throw new TemplateError(`;-separated template: expected Key=Value at character ${i + 1}`);
    const key = s.slice(i, eq).trim();
    i = eq + 1;
    let value = "";
    const valueStart = i;
    const open = s[i];
    // A value that starts with a placeholder ({password}) is a plain value, not a brace-quoted one.
    const startsWithPlaceholder = open === "{" && /^\{[a-z_][a-z0-9_]*\}/.test(s.slice(i));
    if (!startsWithPlaceholder && (open === "{" || open === '"' || open === "'")) {
      const close = open === "{" ? "}" : open;
      i++;
      for (;;) {
        if (i >= s.length) throw new TemplateError(`;-separated template: the quoted value of ${key} is not closed`);
        const ch = s[i++]!;
        if (ch === close) {
          if (s[i] === close) {
            value += close;
            i++;
            continue;
          }
          break;
        }
        value += ch;
      }
      while (i < s.length && /\s/.test(s[i]!)) i++;
      if (i < s.length && s[i] !== ";") throw new TemplateError(`;-separated template: text after the quoted value of ${key}`);
    } else {
      const end = s.indexOf(";", i);
      value = (end < 0 ? s.slice(i) : s.slice(i, end)).trim();
      i = end < 0 ? s.length : end;
    }
    pairs.push({ key, value, raw: s.slice(valueStart, i).trim() });
  }
  return pairs;
}

/** ADO.NET (SqlClient, Npgsql): double quotes, doubled inside, when the value holds ; ' " or edge spaces. */
function quoteAdoNet(value: string): string {
  if (value !== "" && !/[;'"=]/.test(value) && value.trim() === value) return value;
  return `"${value.replace(/"/g, '""')}"`;
}

/** ODBC: braces, with } doubled inside, when the value holds ; { } = or edge spaces. */
function quoteOdbc(value: string): string {
  if (value !== "" && !/[;{}=]/.test(value) && value.trim() === value) return value;
  return `{${value.replace(/\}/g, "}}")}}`;
}
