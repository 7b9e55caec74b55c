// The one binary: `credagent agent` runs the daemon, anything else is the CLI. The agent's code
// is reached through a dynamic import; with --bytecode the CLI does not pay for loading it
// (measured: get with the server bundled in starts as fast as without).
async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  // Run under the name docker looks for (a link install.sh makes): the docker credential helper.
  if (process.argv0.endsWith("docker-credential-credagent")) {
    const [{ runDockerHelper }, { processContext }, { currentPathEnv }] = await Promise.all([import("./cli/docker-credential.ts"), import("./cli/io.ts"), import("./paths.ts")]);
    return runDockerHelper(argv, processContext(currentPathEnv()));
  }
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
