import { EXIT } from "../exit-codes.ts";
import { currentPathEnv } from "../paths.ts";
import { VERSION } from "../version.ts";
import type { CommandEntry } from "./command.ts";
import { processContext, type CliContext } from "./io.ts";

export type { CommandEntry };

// Each command's module is loaded only when that command runs: the CLI starts on every shell
// start and every $(credagent get …), so it must not evaluate the other dozen on the way.
export const COMMANDS: CommandEntry[] = [
  {
    name: "start",
    summary: "start the agent in the background and print shell code for eval",
    load: async () => (await import("./commands/start.ts")).start,
  },
  {
    name: "stop",
    summary: "stop the agent and print shell code that unsets its variables",
    load: async () => (await import("./commands/stop.ts")).stop,
  },
  {
    name: "restart",
    summary: "restart the agent with the options it runs with (--if-outdated: only after an upgrade)",
    load: async () => (await import("./commands/restart.ts")).restart,
  },
  {
    name: "status",
    summary: "show the agent and the state of each credential",
    load: async () => (await import("./commands/status.ts")).status,
  },
  {
    name: "reload",
    summary: "make the agent read its config file again (like SIGHUP)",
    load: async () => (await import("./commands/reload.ts")).reload,
  },
  {
    name: "get",
    summary: "print a credential's current token",
    credentialArg: true,
    load: async () => (await import("./commands/get.ts")).get,
  },
  { name: "list", summary: "list the configured credentials", load: async () => (await import("./commands/list.ts")).list },
  {
    name: "refresh",
    summary: "fetch a new token for a credential now",
    credentialArg: true,
    load: async () => (await import("./commands/refresh.ts")).refresh,
  },
  { name: "exec", summary: "run a command with tokens in its environment", load: async () => (await import("./commands/exec.ts")).exec },
  {
    name: "login",
    summary: "sign in a device_code credential at its identity provider",
    credentialArg: true,
    load: async () => (await import("./commands/login.ts")).login,
  },
  {
    name: "secret",
    summary: "set, remove or list long-lived secrets in the keyring",
    load: async () => (await import("./commands/secret.ts")).secret,
  },
  {
    name: "lock",
    summary: "lock the agent: drop tokens from memory until unlock",
    load: async () => (await import("./commands/lock.ts")).lock,
  },
  { name: "unlock", summary: "unlock the agent with the lock passphrase", load: async () => (await import("./commands/lock.ts")).unlock },
  {
    name: "approve",
    summary: "answer a confirm = true prompt from a terminal",
    load: async () => (await import("./commands/approve.ts")).approve,
  },
  {
    name: "env",
    summary: "print CRED_SOCK and the session token for apps that talk to the socket",
    load: async () => (await import("./commands/env.ts")).env,
  },
  {
    name: "service",
    summary: "start the agent with the session: systemd socket activation, XDG autostart, a LaunchAgent, a Windows Run value",
    load: async () => (await import("./commands/service.ts")).service,
  },
  {
    name: "connection",
    summary: "print a configured connection string, filled in from its credential",
    load: async () => (await import("./commands/connection.ts")).connection,
  },
  {
    name: "files",
    summary: "list the files the agent keeps fresh from templates (never their values)",
    load: async () => (await import("./commands/files.ts")).files,
  },
  {
    name: "render",
    summary: "print one rendering of a [files.NAME] template to stdout",
    load: async () => (await import("./commands/render.ts")).render,
  },
  {
    name: "aws-credential",
    summary: "print AWS credential_process output (credential_process = credagent aws-credential NAME)",
    credentialArg: true,
    load: async () => (await import("./commands/aws-credential.ts")).awsCredential,
  },
  {
    name: "kube-credential",
    summary: "print a kubectl ExecCredential (a kubeconfig exec plugin)",
    credentialArg: true,
    load: async () => (await import("./commands/kube-credential.ts")).kubeCredential,
  },
  {
    name: "git-credential",
    summary: "answer git as its credential helper (git config credential.helper)",
    load: async () => (await import("./commands/git-credential.ts")).gitCredential,
  },
  {
    name: "check",
    summary: "check a config file without starting or changing an agent: errors, programs, allow rules",
    load: async () => (await import("./commands/check.ts")).check,
  },
  {
    name: "db",
    summary: "list the database endpoints and their socket directories (PGHOST)",
    load: async () => (await import("./commands/db.ts")).db,
  },
  {
    name: "completion",
    summary: "print a bash, zsh or fish completion script",
    // The commands that describe the others are handed this table, not importing it.
    load: async () => (await import("./commands/completion.ts")).completionFor(COMMANDS),
  },
  {
    name: "manpage",
    summary: "print the man pages credagent(1) and credagent.toml(5) in roff",
    load: async () => (await import("./commands/manpage.ts")).manpageFor(COMMANDS),
  },
  { name: "log", summary: "show the audit log of access decisions", load: async () => (await import("./commands/log.ts")).log },
];
const ALIASES: Record<string, string> = { "-k": "stop" };

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const row = (name: string, summary: string) => `  ${name.padEnd(width)} ${summary}`;
  const rows = [
    ...COMMANDS.map((c) => row(c.name, c.summary)),
    row("agent", "run the agent in the foreground (systemd, debugging)"),
    row("version", "print the version"),
    row("help", "this text; 'credagent COMMAND --help' for a command"),
  ].join("\n");
  return `credagent ${VERSION}: a local credential broker

usage: credagent COMMAND [ARGS]

${rows}

The CLI finds the agent through $CRED_SOCK, else $XDG_RUNTIME_DIR/cred.sock.
Exit status: 0 ok, 1 the request failed, 2 usage error, 3 no agent running.
`;
}

export async function runCli(argv: string[], ctx: CliContext = processContext(currentPathEnv())): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "help" || first === "--help" || first === "-h") {
    const topic = first === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    ctx.out(topic ? `${(await topic.load()).usage}\n` : help());
    return EXIT.ok;
  }
  if (first === "version" || first === "--version" || first === "-V") {
    ctx.out(`credagent ${VERSION}\n`);
    return EXIT.ok;
  }
  const name = ALIASES[first] ?? first;
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    ctx.err(`credagent: unknown command '${first}'; 'credagent help' lists the commands\n`);
    return EXIT.usage;
  }
  return (await entry.load()).run(rest, ctx);
}
