// Connection templates: a connection string with placeholders ({username}, {password}, {token}, ...)
// filled from a credential's parts when an app asks, so the string in the config holds no secret.
// Each placeholder is escaped by the rules of the format it sits in; a value that is not escaped
// could end one field and start another (a password holding `;Database=other`). Pure: no I/O.

/** The formats a template can be in; see formatOf for how one is chosen when the config names none. */
export const TEMPLATE_FORMATS = ["url", "libpq", "adonet", "odbc", "jdbc", "redis"] as const;
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
  if (/^jdbc:/i.test(template.trim())) return "jdbc";
  if (/^(redis|rediss|unix):\/\//i.test(template.trim())) return "redis";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(template.trim())) return "url";
  if (template.includes(";")) return /(^|;)\s*(driver|dsn)\s*=/i.test(template) ? "odbc" : "adonet";
  if (/^\s*[a-z_][a-z0-9_]*\s*=/i.test(template)) return "libpq";
  throw new TemplateError(
    'the template is neither a URL (scheme://…, jdbc:…), libpq key=value pairs, nor ;-separated key=value pairs: set format = "url", "libpq", "adonet", "odbc", "jdbc" or "redis"',
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
    case "jdbc":
      return renderJdbc(template, values);
    case "redis":
      return template.replace(PLACEHOLDER, (_, name: string) => encodeURIComponent(values[name]!));
  }
}

/**
 * What a template's format requires of where its placeholders sit, checked at load (the values
 * are not known yet). JDBC: `jdbc:postgresql:`, `jdbc:mariadb:` or `jdbc:mysql:`, placeholders
 * only in the values of `?key=value&…` properties (user, password: the drivers read no userinfo).
 * Redis: `redis://`, `rediss://` or `unix://`, placeholders only in the userinfo (`user:pass@`)
 * or in query values, and a path that is a database number (or, for unix://, the socket's path).
 */
export function checkTemplate(template: string, format: TemplateFormat): void {
  if (format === "jdbc") {
    const driver = jdbcDriver(template);
    const query = template.indexOf("?");
    if (placeholdersOf(query < 0 ? template : template.slice(0, query)).length > 0)
      throw new TemplateError(
        "a JDBC template has placeholders only in its properties' values: jdbc:…/db?user={username}&password={password}",
      );
    if (query >= 0)
      for (const pair of template.slice(query + 1).split("&")) {
        const eq = pair.indexOf("=");
        if (eq < 0 ? placeholdersOf(pair).length > 0 : placeholdersOf(pair.slice(0, eq)).length > 0)
          throw new TemplateError(`a JDBC template's property names hold no placeholder (${driver}): ${pair}`);
      }
    return;
  }
  if (format === "redis") {
    const m = /^(redis|rediss|unix):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/i.exec(template.trim());
    if (!m)
      throw new TemplateError(
        "a Redis URL is redis://[user:password@]host[:port][/db], rediss://… or unix://[user:password@]/path/to/socket",
      );
    const [, scheme, , hostPort, path] = m;
    if (placeholdersOf(hostPort ?? "").length > 0 || placeholdersOf(path ?? "").length > 0)
      throw new TemplateError("a Redis URL has placeholders only in its user:password@ part or its query's values");
    if (scheme!.toLowerCase() === "unix") {
      if (hostPort)
        throw new TemplateError("a unix:// Redis URL names no host: unix:///path/to/socket or unix://user:password@/path/to/socket");
      if (!path || path === "/")
        throw new TemplateError("a unix:// Redis URL names the socket's path: unix:///run/user/1000/credagent/db/NAME/redis.sock");
    } else {
      if (!hostPort) throw new TemplateError("a Redis URL names its host: redis://[user:password@]host[:port][/db]");
      const port = /:(\d+)$/.exec(hostPort)?.[1];
      if (port !== undefined && (Number(port) < 1 || Number(port) > 65535))
        throw new TemplateError(`a Redis URL's port ${port} is out of range`);
      if (path && path !== "/" && !/^\/\d+$/.test(path))
        throw new TemplateError(`a Redis URL's path is a database number (/0, /1, …), not ${path}`);
    }
  }
}

type JdbcDriver = "postgresql" | "mariadb" | "mysql";

function jdbcDriver(template: string): JdbcDriver {
  const m = /^jdbc:(postgresql|mariadb|mysql):\/\//i.exec(template.trim());
  if (!m) throw new TemplateError("a JDBC template starts jdbc:postgresql://, jdbc:mariadb:// or jdbc:mysql://");
  return m[1]!.toLowerCase() as JdbcDriver;
}

/**
 * A JDBC URL's property values as each driver reads them. pgjdbc and MySQL Connector/J decode
 * them (URLDecoder: so '+' is encoded too, which encodeURIComponent does); MariaDB Connector/J
 * takes them as written, cut at '&' (checked against Debian's 2.7 jar), so a value there is put
 * as it is, and one holding '&' cannot be carried at all: refused, saying what to do instead.
 */
function renderJdbc(template: string, values: Record<string, string>): string {
  const driver = jdbcDriver(template);
  return template.replace(PLACEHOLDER, (_, name: string) => {
    const value = values[name]!;
    if (driver !== "mariadb") return encodeURIComponent(value);
    if (value.includes("&"))
      throw new TemplateError(
        `the credential's {${name}} holds '&', which a MariaDB JDBC URL cannot carry (the driver ends the value there); pass it as a connection property instead`,
      );
    return value;
  });
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
