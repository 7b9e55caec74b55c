import { CredagentError } from "../errors.ts";

/**
 * Reads a line from the terminal without echoing it. Only on a TTY: a secret must never be taken
 * from argv, and a pipe has --stdin.
 */
export function promptHidden(question: string, err: (text: string) => void): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new CredagentError("usage", "standard input is not a terminal; use --stdin to read the value from it");
  // Echo goes off before the question is shown: a reply typed the moment it appears must not echo.
  stdin.setRawMode(true);
  err(question);
  return new Promise((resolve, reject) => {
    let value = "";
    const done = (error?: Error) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      err("\n");
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "\u0003") return done(new CredagentError("usage", "cancelled"));
        if (ch === "\u0004") return value === "" ? done(new CredagentError("usage", "no value entered")) : done();
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else if (ch >= " ") value += ch;
      }
    };
    stdin.resume();
    stdin.on("data", onData);
  });
}

/** All of standard input, less one trailing newline. */
export async function readStdinValue(): Promise<string> {
  const text = process.platform === "win32" ? await readStdinWindows() : await new Response(Bun.stdin.stream()).text();
  return text.replace(/\r?\n$/, "");
}

/**
 * On Windows Bun.stdin opens standard input as a file, which fails with EBADF when it is a pipe
 * (seen under Wine with `echo x | credagent secret set NAME --stdin`); reading handle 0 directly
 * works for pipes and files alike.
 */
async function readStdinWindows(): Promise<string> {
  const { readFileSync } = await import("node:fs");
  return readFileSync(0, "utf8");
}
