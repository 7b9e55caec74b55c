// The one binary: `credagent agent` runs the daemon, anything else is the CLI. Each is reached
// through a dynamic import, and the build splits them into chunks (scripts/build.sh), so that a
// command loads only its own code: the CLI's start is what every $(credagent get …) costs.
//
// `get NAME` is the exception: its short path is imported statically, so it sits in this entry
// chunk: loading it as a chunk of its own cost every `get` (and even `version`) page faults, and so
// does a chunk it would share with other commands, which is why cli/fast-get.ts imports nothing
// (the figures: BENCHMARKS.md's start-up table).
// `start` with an agent already answering (every new shell's `eval "$(credagent start)"`) has the
// same kind of short path beside it (cli/fast-start.ts).
import { fastGet } from "./cli/fast-get.ts";
import { fastStart } from "./cli/fast-start.ts";

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  // Run under the name docker looks for (a link install.sh makes; a copy or hard link named
  // docker-credential-credagent.exe on Windows, where argv0 may keep or drop the .exe): the docker
  // credential helper.
  if (/docker-credential-credagent(\.exe)?$/i.test(process.argv0)) {
    const [{ runDockerHelper }, { processContext }, { currentPathEnv }] = await Promise.all([
      import("./cli/commands/docker-credential.ts"),
      import("./cli/io.ts"),
      import("./paths.ts"),
    ]);
    const code = await runDockerHelper(argv, processContext(currentPathEnv()));
    await (await import("./cli/io.ts")).flushOutput();
    return code;
  }
  // Answered here, before any other module loads: `credagent version` is the start-up floor.
  if (argv.length === 1 && (argv[0] === "version" || argv[0] === "--version" || argv[0] === "-V")) {
    const { VERSION } = await import("./version.ts");
    console.log(`credagent ${VERSION}`);
    return 0;
  }
  // `get NAME` alone: the shortest path (cli/fast-get.ts), falling back to the full command.
  if (argv.length === 2 && argv[0] === "get" && !argv[1]!.startsWith("-")) {
    const code = await fastGet(argv[1]!);
    if (code !== null) return code;
  }
  if (argv[0] === "start") {
    // An agent already answering: the short path (cli/fast-start.ts); otherwise the full command.
    const code = await fastStart(argv.slice(1));
    if (code !== null) return code;
  }
  if (argv[0] === "agent") {
    const { runAgent } = await import("./agent/run.ts");
    return runAgent(argv.slice(1));
  }
  const [{ runCli }, { flushOutput }] = await Promise.all([import("./cli/run.ts"), import("./cli/io.ts")]);
  const code = await runCli(argv);
  await flushOutput();
  return code;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`credagent: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
