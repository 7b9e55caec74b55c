import { readFileSync } from "node:fs";
import { parse as parseDotenv } from "dotenv";
import type { AgentClient } from "../client/client.ts";
import { CredagentError } from "../errors.ts";
import { CREDENTIAL_NAME } from "../wire/types.ts";
import { PARTS, partOf, type Part } from "./credential-parts.ts";

// A dotenv file whose values may be references, resolved through the agent: `cred://NAME` (the
// token or password), `cred://NAME/PART`, `conn://NAME` (a connection string). Literal values pass
// through; `\cred://…` and `\conn://…` are literals with the backslash taken off (as `op run`'s
// op:// references, but with a way to write the literal). The file is read with the `dotenv`
// package's parser, so quotes, `export` and comments mean what they mean to most tools. Nothing is
// written anywhere: the values go to a child's environment, or to stdout when asked.

export type EnvReference = { kind: "credential"; name: string; part?: Part } | { kind: "connection"; name: string };

export interface EnvEntry {
  variable: string;
  value: string | EnvReference;
}

const REFERENCE = /^(cred|conn):\/\/(.*)$/;

/** Reads and parses the file; a malformed reference is an error naming the file and the variable. */
export function readEnvFile(path: string): EnvEntry[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new CredagentError("not_found", `cannot read the env file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err,
    });
  }
  return parseEnvFile(text, path);
}

export function parseEnvFile(text: string, path: string): EnvEntry[] {
  return Object.entries(parseDotenv(text)).map(([variable, raw]) => {
    if (/^\\+(cred|conn):\/\//.test(raw)) return { variable, value: raw.slice(1) };
    const match = REFERENCE.exec(raw);
    if (!match) return { variable, value: raw };
    const where = `${path}: ${variable}=${match[1]}://${match[2]}`;
    if (match[1] === "conn") {
      if (!CREDENTIAL_NAME.test(match[2]!)) throw new CredagentError("usage", `${where}: expected conn://NAME, a connection's name`);
      return { variable, value: { kind: "connection", name: match[2]! } };
    }
    const [name = "", part, ...more] = match[2]!.split("/");
    if (!CREDENTIAL_NAME.test(name) || more.length > 0)
      throw new CredagentError(
        "usage",
        `${where}: expected cred://NAME or cred://NAME/PART (write \\${match[1]}://… for the literal text)`,
      );
    if (part !== undefined && !(PARTS as readonly string[]).includes(part))
      throw new CredagentError("usage", `${where}: '${part}' is not a part of a credential; the parts are ${PARTS.join(", ")}`);
    return { variable, value: { kind: "credential", name, ...(part === undefined ? {} : { part: part as Part }) } };
  });
}

/**
 * The variables with every reference resolved: one request per credential however many of its
 * parts are used. Any failure (a credential that is not configured, refused, unavailable) throws,
 * naming the variable, before anything is used.
 */
export async function resolveEnvEntries(
  entries: EnvEntry[],
  client: Pick<AgentClient, "token" | "connection">,
  minValidSeconds: number | undefined,
  path: string,
): Promise<Array<[string, string]>> {
  const named = (variable: string) => (err: unknown) => {
    if (err instanceof CredagentError)
      throw new CredagentError(err.code, `${path}: ${variable}: ${err.message}`, { cause: err, retryAfterMs: err.retryAfterMs });
    throw err;
  };
  const credentials = new Map<string, ReturnType<AgentClient["token"]>>();
  for (const { variable, value } of entries) {
    if (typeof value === "string" || value.kind !== "credential" || credentials.has(value.name)) continue;
    credentials.set(value.name, client.token(value.name, minValidSeconds).catch(named(variable)));
  }
  const resolved = await Promise.all(
    entries.map(async ({ variable, value }): Promise<[string, string]> => {
      if (typeof value === "string") return [variable, value];
      if (value.kind === "connection") {
        const answer = await client.connection(value.name, minValidSeconds).catch(named(variable));
        return [variable, answer.connection_string];
      }
      const answer = await credentials.get(value.name)!;
      try {
        return [variable, partOf(answer, value.part)];
      } catch (err) {
        return named(variable)(err);
      }
    }),
  );
  return resolved;
}
