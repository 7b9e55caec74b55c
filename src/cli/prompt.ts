import { CredagentError } from "../errors.ts";
import { capabilities } from "../platform/os.ts";

/** The one wording of the file store's passphrase prompt, wherever it is asked. */
export const FILE_STORE_PASSPHRASE = "Passphrase of the encrypted file store: ";
export const CONFIRM_PROMPT = "Again, to confirm: ";

/**
 * Reads a line from the terminal without echoing it, as `read -s` and getpass do: the terminal
 * stays in canonical mode with only echo turned off, so the kernel's line editing applies
 * (erase, Ctrl-U kill, Ctrl-W word erase, with the keys `stty` sets) and the line arrives edited.
 * Only on a TTY: a secret must never be taken from argv, and a pipe has --stdin.
 */
export async function promptHidden(question: string, err: (text: string) => void): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new CredagentError("usage", "standard input is not a terminal; use --stdin to read the value from it");
  // Windows consoles have no stty: there the keys are handled here, in raw mode.
  if (capabilities.console === "windows") return promptRaw(question, err);
  const saved = stty(["-g"]);
  // Echo goes off before the question is shown: a reply typed the moment it appears must not echo.
  stty(["-echo", "icanon"]);
  const restore = () => {
    try {
      stty([saved.trim()]);
    } catch {
      // The terminal went away (a hangup): nothing left to restore.
    }
  };
  // Ctrl-C, a hangup or a kill while asking must not leave the terminal without echo.
  const onSignal = (signal: NodeJS.Signals) => {
    restore();
    err("\n");
    process.exit(signal === "SIGINT" ? 130 : signal === "SIGHUP" ? 129 : 143);
  };
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.on(s, onSignal);
  err(question);
  try {
    const line = await readLine();
    if (line === null) throw new CredagentError("usage", "no value entered");
    return line;
  } finally {
    restore();
    for (const s of signals) process.off(s, onSignal);
    err("\n");
  }
}

/** A yes/no question on the terminal, echoed as typed; only "y" or "yes" is a yes. */
export async function askYesNo(question: string, err: (text: string) => void): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  err(question);
  const answer = await readLine();
  return answer !== null && /^\s*y(es)?\s*$/i.test(answer);
}

/** `stty ARGS` on the terminal at standard input; its output (for -g: the settings to restore). */
function stty(args: string[]): string {
  const r = Bun.spawnSync(["stty", ...args], { stdin: "inherit", stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    throw new CredagentError("usage", `cannot turn the terminal's echo off (stty ${args.join(" ")}: ${r.stderr.toString().trim()})`);
  }
  return r.stdout.toString();
}

/** One line from standard input as the terminal hands it over (edited), without its newline; null at end of input. */
function readLine(): Promise<string | null> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let text = "";
    const finish = (value: string | null, error?: Error) => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdin.off("error", onError);
      stdin.pause();
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      const end = text.indexOf("\n");
      if (end >= 0) finish(text.slice(0, end).replace(/\r$/, ""));
    };
    const onEnd = () => finish(text === "" ? null : text);
    const onError = (e: Error) => finish(null, e);
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    stdin.on("error", onError);
    stdin.resume();
  });
}

/**
 * Raw mode, for consoles without stty (Windows): the line-editing keys are handled as a Unix
 * terminal's defaults would (Backspace, Ctrl-U kills the line, Ctrl-W erases a word).
 */
function promptRaw(question: string, err: (text: string) => void): Promise<string> {
  const stdin = process.stdin;
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
        value = editLine(value, ch);
      }
    };
    stdin.resume();
    stdin.on("data", onData);
  });
}

/** The line after one typed character, with a terminal's default editing keys (termios VERASE, VKILL, VWERASE). */
export function editLine(value: string, ch: string): string {
  const chars = [...value];
  if (ch === "\u007f" || ch === "\b") return chars.slice(0, -1).join("");
  if (ch === "\u0015") return "";
  if (ch === "\u0017") return value.replace(/\S*\s*$/, "");
  return ch >= " " ? value + ch : value;
}

/** All of standard input, less one trailing newline. */
export async function readStdinValue(): Promise<string> {
  const text = capabilities.console === "windows" ? await readStdinWindows() : await new Response(Bun.stdin.stream()).text();
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
