// The one binary: `credagent agent` runs the daemon, anything else is the CLI. The agent's code
// is reached through a dynamic import; with --bytecode the CLI does not pay for loading it
// (measured: get with the server bundled in starts as fast as without).
async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv[0] === "agent") {
    const { runAgent } = await import("./agent/run.ts");
    return runAgent(argv.slice(1));
  }
  const { runCli } = await import("./cli/run.ts");
  return runCli(argv);
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`credagent: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
