import { EXIT } from "../../exit-codes.ts";
import { defineCommand, type CommandEntry, type Options } from "../command.ts";
import { UsageError } from "../io.ts";
import { agentOf } from "../agent.ts";

const usage = `usage: credagent completion bash|zsh|fish

Prints a completion script: commands, their options, and the agent's credential names where a
command takes one (asked of the running agent as you type, with a 1 s limit; none when no agent
answers). For the current shell:

  bash:  source <(credagent completion bash)     (or save it as ~/.local/share/bash-completion/completions/credagent)
  zsh:   source <(credagent completion zsh)
  fish:  credagent completion fish | source      (or save it as ~/.config/fish/completions/credagent.fish)`;

interface Described {
  name: string;
  credentialArg: boolean;
  flags: string[];
}

/** Every command with its flags, read from the same tables their parsers use: they cannot drift. */
async function described(commands: CommandEntry[]): Promise<Described[]> {
  return Promise.all(
    commands.map(async (entry) => {
      const command = await entry.load();
      return { name: entry.name, credentialArg: entry.credentialArg ?? false, flags: flagsOf(command.options) };
    }),
  );
}

function flagsOf(options: Options): string[] {
  const flags = Object.entries(options).flatMap(([long, o]) => [`--${long}`, ...(o.short ? [`-${o.short}`] : [])]);
  return [...flags, "--help"];
}

function bash(commands: Described[]): string {
  const names = commands.map((c) => c.name).join(" ");
  const flagCases = commands.map((c) => `      ${c.name}) COMPREPLY=($(compgen -W "${c.flags.join(" ")}" -- "$cur")) ;;`).join("\n");
  const credentialCommands = commands
    .filter((c) => c.credentialArg)
    .map((c) => c.name)
    .join("|");
  return `# credagent completion for bash (credagent completion bash)
_credagent() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${names} agent version help" -- "$cur"))
    return
  fi
  if [[ "$cur" == -* ]]; then
    case "$cmd" in
${flagCases}
    esac
    return
  fi
  case "$cmd" in
    ${credentialCommands}) COMPREPLY=($(compgen -W "$(credagent completion names 2>/dev/null)" -- "$cur")) ;;
    help) COMPREPLY=($(compgen -W "${names}" -- "$cur")) ;;
  esac
}
complete -F _credagent credagent
`;
}

function zsh(commands: Described[]): string {
  return `# credagent completion for zsh (credagent completion zsh): zsh's bash-completion layer runs the bash one.
autoload -U +X bashcompinit && bashcompinit
${bash(commands).split("\n").slice(1).join("\n")}`;
}

function fish(commands: Described[]): string {
  const lines = [
    "# credagent completion for fish (credagent completion fish)",
    "complete -c credagent -f",
    ...commands.map((c) => `complete -c credagent -n __fish_use_subcommand -a ${c.name}`),
    "complete -c credagent -n __fish_use_subcommand -a 'agent version help'",
  ];
  for (const c of commands) {
    for (const flag of c.flags) {
      const spec = flag.startsWith("--") ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`;
      lines.push(`complete -c credagent -n '__fish_seen_subcommand_from ${c.name}' ${spec}`);
    }
    if (c.credentialArg)
      lines.push(`complete -c credagent -n '__fish_seen_subcommand_from ${c.name}' -a '(credagent completion names 2>/dev/null)'`);
  }
  return `${lines.join("\n")}\n`;
}

/** The completion command for the CLI's command table (handed in: it does not import cli/run.ts). */
export const completionFor = (commands: CommandEntry[]) =>
  defineCommand("completion", usage, {}, async ({ positionals }, ctx) => {
    const shell = positionals[0];
    if (positionals.length !== 1) throw new UsageError("expected one shell: bash, zsh or fish");
    // Called by the scripts while the user types: the agent's credential names, or nothing, fast.
    if (shell === "names") {
      try {
        const { credentials } = await agentOf(ctx, 1_000).list();
        ctx.out(credentials.map((c) => `${c.name}\n`).join(""));
      } catch {
        // no agent, or a slow one: no names
      }
      return EXIT.ok;
    }
    const generators: Record<string, (c: Described[]) => string> = { bash, zsh, fish };
    const generate = generators[shell!];
    if (!generate) throw new UsageError(`no completion for '${shell}': bash, zsh or fish`);
    ctx.out(generate(await described(commands)));
    return EXIT.ok;
  });
