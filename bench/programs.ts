// Whole-process figures for what users run many times a minute: the CLI's start against the
// runtime's own floor (a compiled hello of the same Bun, same flags), with page faults; each helper
// protocol as the program that calls it runs it; the Node client in-process beside a raw request;
// and a psql connection through the pgpass file beside one with PGPASSWORD. One run, side by side.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const BIN = join(ROOT, "build/credagent");
const BUN = join(ROOT, "node_modules/.bin/bun");

export const PROGRAMS_DOC = `Start-up and the helper protocols, each a whole process as its caller runs it: the commands of a
table run in turn, round after round (\`bench/interleave.c\`: 400 rounds for the first table, 200 for
the second, after 5 uncounted), so that machine noise falls on all of them alike; the median wall time
from fork to exit, its quartiles, and the median of the minor page faults of the same runs. The floor
is a compiled \`console.log(1)\` built with the same Bun and the same flags as credagent. The helpers
read their request on stdin, so every row in the second table runs under \`sh -c\`, \`credagent get\` too.
Targets: \`version\` within 1.15x the floor, \`get\` and \`start\` (agent running) within 1.4x, \`get\`'s page faults within 1.3x; from one run
to the next on this machine, \`get\`'s ratio moves by about 0.05.`;

function sh(argv: string[], env: Record<string, string>, input?: string): string {
  const r = Bun.spawnSync(argv, { env, stdin: input === undefined ? "ignore" : Buffer.from(input), stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout.toString();
}

interface Timing {
  median_ms: number;
  p25_ms: number;
  p75_ms: number;
  minor_faults: number;
}

/**
 * The commands run in turn, round after round (bench/interleave.c, built here with the system's
 * cc), so that each sees the same machine noise; their median times, quartiles and page faults.
 */
function interleave(runner: string, commands: string[][], env: Record<string, string>, rounds = 400): Timing[] {
  const argv = [runner, String(rounds), "--", ...commands.flatMap((c, i) => (i === 0 ? c : [":::", ...c]))];
  const r = Bun.spawnSync(argv, { env, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`interleave failed: ${r.stderr}`);
  return r.stdout
    .toString()
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Timing);
}

const ms = (x: number) => `${x.toFixed(2)} ms`;

export async function programsBench(): Promise<string> {
  const root = mkdtempSync("/tmp/ca-bench-prog-");
  try {
    mkdirSync(join(root, "run"), { mode: 0o700 });
    mkdirSync(join(root, "config/credagent"), { recursive: true });
    mkdirSync(join(root, "bin"));
    symlinkSync(BIN, join(root, "bin/docker-credential-credagent"));
    const token = join(root, "token.sh");
    writeFileSync(token, `#!/bin/sh\necho '{"access_token":"${"t".repeat(40)}","expires_in":3600}'\n`, { mode: 0o755 });
    const aws = join(root, "aws.sh");
    writeFileSync(
      aws,
      `#!/bin/sh\necho '{"Version":1,"AccessKeyId":"AKIAEXAMPLE","SecretAccessKey":"${"s".repeat(40)}","SessionToken":"${"x".repeat(300)}","Expiration":"2099-01-01T00:00:00Z"}'\n`,
      { mode: 0o755 },
    );
    writeFileSync(
      join(root, "config/credagent/config.toml"),
      `[credentials.db]\nsource = "command"\ncommand = ["${token}"]\nusername = "robot"\n\n[credentials.aws]\nsource = "command"\ncommand = ["${aws}"]\n\n[docker]\n"registry.example.com" = "db"\n`,
    );
    const env: Record<string, string> = {
      PATH: `${join(root, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      HOME: root,
      XDG_RUNTIME_DIR: join(root, "run"),
      XDG_CONFIG_HOME: join(root, "config"),
      XDG_STATE_HOME: join(root, "state"),
      CRED_SOCK: join(root, "run/cred.sock"),
    };
    // The floor: the same Bun, the same flags as scripts/build.sh.
    writeFileSync(join(root, "hello.ts"), "console.log(1);\n");
    sh(
      [
        BUN,
        "build",
        join(root, "hello.ts"),
        "--compile",
        "--minify",
        "--bytecode",
        "--format=esm",
        "--sourcemap=none",
        "--no-compile-autoload-dotenv",
        "--no-compile-autoload-bunfig",
        "--outfile",
        join(root, "hello"),
      ],
      env,
    );
    sh([BIN, "start", "-s"], env);
    sh([BIN, "get", "db"], env);
    sh([BIN, "get", "aws", "--json"], env);
    // The floor for any Bun client of the agent: the same request by a compiled program that does
    // nothing else (Bun.connect, one HTTP/1.1 request, print the answer's length).
    writeFileSync(
      join(root, "bare.ts"),
      `let n = 0;
await new Promise<void>((resolve) => Bun.connect({ unix: process.env.CRED_SOCK!, socket: {
  open(s) { s.write("GET /v1/credentials/db HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n"); },
  data(_s, d) { n += d.length; }, close() { resolve(); }, error() { resolve(); } } }));
console.log(n);
`,
    );
    sh(
      [
        BUN,
        "build",
        join(root, "bare.ts"),
        "--compile",
        "--minify",
        "--bytecode",
        "--format=esm",
        "--sourcemap=none",
        "--no-compile-autoload-dotenv",
        "--no-compile-autoload-bunfig",
        "--outfile",
        join(root, "bare"),
      ],
      env,
    );
    const hello = join(root, "hello");
    const bare = join(root, "bare");
    const sock = env.CRED_SOCK!;
    const runner = join(root, "interleave");
    sh(["cc", "-O2", "-o", runner, join(ROOT, "bench/interleave.c")], env);
    const curlPath = Bun.which("curl", { PATH: env.PATH })!;
    const [floor, version, get, start, bareGet, curl] = interleave(
      runner,
      [
        [hello],
        [BIN, "version"],
        [BIN, "get", "db"],
        [BIN, "start", "-s"],
        [bare],
        [curlPath, "-s", "--unix-socket", sock, "http://localhost/v1/credentials/db"],
      ],
      env,
    );
    const row = (name: string, t: Timing, faults = true) =>
      `| ${name} | ${ms(t.median_ms)} (${t.p25_ms.toFixed(2)}-${t.p75_ms.toFixed(2)}) | ${(t.median_ms / floor!.median_ms).toFixed(2)} | ${faults ? `${t.minor_faults} | ${(t.minor_faults / floor!.minor_faults).toFixed(2)}` : " | "} |`;
    const first = [
      "| command | median (quartiles) | x floor | minor page faults | x floor |",
      "| --- | --- | --- | --- | --- |",
      row("compiled hello (the floor)", floor!),
      row("`credagent version`", version!),
      row("`credagent get db`", get!),
      row("`credagent start -s`, agent already running (every new shell)", start!),
      row("a compiled Bun program sending the same request with Bun.connect, and nothing else", bareGet!),
      row("`curl --unix-socket` (same endpoint)", curl!, false),
    ];
    const helpers = interleave(
      runner,
      [
        `${BIN} get db`,
        `printf "protocol=https\\nhost=git.example.com\\n\\n" | ${BIN} git-credential --credential db get`,
        `printf registry.example.com | docker-credential-credagent get`,
        `${BIN} kube-credential db`,
        `${BIN} aws-credential aws`,
      ].map((script) => ["/bin/sh", "-c", script]),
      env,
      200,
    ).map((t) => t.median_ms);
    const names = [
      "`credagent get db`",
      "git credential helper (`git-credential get`)",
      "docker credential helper (`docker-credential-credagent get`)",
      "kubectl exec plugin (`kube-credential`)",
      "AWS `credential_process` (`aws-credential`)",
    ];
    const second = [
      "| helper, as its caller runs it | median | x `get` |",
      "| --- | --- | --- |",
      ...helpers.map((t, i) => `| ${names[i]} | ${ms(t)} | ${(t / helpers[0]!).toFixed(2)} |`),
    ];
    sh([BIN, "stop"], env);
    return `${first.join("\n")}\n\n${second.join("\n")}`;
  } finally {
    Bun.spawnSync([BIN, "stop"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", CRED_SOCK: join(root, "run/cred.sock") } });
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.main) console.log(`${PROGRAMS_DOC}\n\n${await programsBench()}`);
