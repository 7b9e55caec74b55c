// The Windows build under Wine 8 (Debian's wine64): `credagent get` over the named pipe beside
// `credagent version` (no pipe work: the runtime's start under Wine, the floor there) and Wine's
// own `cmd /c exit` (what any Windows program costs to start under Wine). Wine figures, not
// Windows figures: Wine's process start dominates all three. Prints a markdown table.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const WINE = "/usr/lib/wine/wine64";
const WINESERVER = "/usr/lib/wine/wineserver64";
const EXE = join(ROOT, "build/credagent-windows-x64.exe");
const RUNS = Number(process.argv[2] ?? 30);

export const WINDOWS_DOC = `bench/windows.ts: the Windows build under Wine 8 (Debian's wine64), each row a whole process started
by hyperfine (median of ${RUNS}) with the agent running in the same Wine prefix. These are Wine
figures, not Windows figures: starting any process under Wine (the \`cmd /c exit\` row) is most of each.`;

function run(argv: string[], env: Record<string, string>): string {
  const r = Bun.spawnSync(argv, { env, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout.toString();
}

export function windowsBench(): string {
  if (!existsSync(WINE)) throw new Error("wine64 is not installed (apt-get install wine64 gcc-mingw-w64-x86-64-win32)");
  run([join(ROOT, "scripts/build.sh"), "bun-windows-x64"], process.env as Record<string, string>);
  const dir = mkdtempSync("/tmp/ca-bench-wine-");
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    WINEPREFIX: join(dir, "prefix"),
    TMPDIR: join(dir, "tmp"), // Wine's server directory (wine-XXXXXX) goes with the rest
    WINEDEBUG: "-all",
    WINEDLLOVERRIDES: "mscoree,mshtml=",
    CREDAGENT_CONFIG: `Z:${join(dir, "config.toml").replaceAll("/", "\\")}`,
  };
  mkdirSync(env.TMPDIR!, { mode: 0o700 });
  try {
    run([join(ROOT, "test/support/windows/prefix.sh"), env.WINEPREFIX!], env);
    writeFileSync(
      join(dir, "config.toml"),
      `keyring = "file"\n[credentials.db]\nsource = "command"\ncommand = ["cmd", "/c", "echo", "tok-123"]\nlifetime = "1h"\n`,
    );
    env.CREDAGENT_FILE_PASSPHRASE = "bench";
    // Wine's helpers inherit stdio: the agent's start writes to a file, never to a pipe held open.
    const started = Bun.spawnSync(["sh", "-c", `"${WINE}" "${EXE}" start -s > "${dir}/start.out" 2>&1`], { env });
    if (started.exitCode !== 0) throw new Error(`start under Wine failed: ${readFileSync(join(dir, "start.out"), "utf8")}`);
    const json = join(dir, "hf.json");
    const commands = [`${WINE} cmd /c exit`, `${WINE} ${EXE} version`, `${WINE} ${EXE} get db`];
    Bun.spawnSync(["hyperfine", "-N", "--warmup", "3", "--runs", String(RUNS), "--export-json", json, ...commands], {
      env,
      stdout: "ignore",
      stderr: "inherit",
    });
    const [cmd, version, get] = (JSON.parse(readFileSync(json, "utf8")) as { results: Array<{ median: number }> }).results.map(
      (r) => r.median * 1000,
    );
    Bun.spawnSync(["sh", "-c", `"${WINE}" "${EXE}" stop > /dev/null 2>&1`], { env });
    const ms = (n: number) => `${n!.toFixed(0)} ms`;
    return [
      "| under Wine 8 (whole process, median) | time | reference (same run) | note |",
      "| --- | --- | --- | --- |",
      `| \`credagent get db\` over the named pipe | ${ms(get!)} | \`credagent version\`: ${ms(version!)} | ${(get! / version!).toFixed(2)}x version; the pipe request and the token read add ${ms(get! - version!)} |`,
      `| \`credagent version\` (no pipe work) | ${ms(version!)} | \`cmd /c exit\`: ${ms(cmd!)} | the Bun runtime's start under Wine, above Wine's own process start |`,
    ].join("\n");
  } finally {
    Bun.spawnSync([WINESERVER, "-k"], { env });
    Bun.spawnSync([WINESERVER, "-w"], { env, timeout: 30_000 });
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) console.log(`${WINDOWS_DOC}\n\n${windowsBench()}`);
