import { mkdtempSync, rmSync } from "node:fs";
import { checkBasic } from "./basic-auth.ts";
import { join } from "node:path";

// A git smart-HTTP server on 127.0.0.1 for the git credential helper's tests: Debian's own
// `git http-backend` (CGI) behind Bun.serve, demanding HTTP Basic auth with the user name and
// password the test says are current, as a git host does with an access token. The server runs in
// the test's own process: drive git with Bun.spawn, never spawnSync (that would block the server).

export interface GitServer {
  /** http://127.0.0.1:PORT/repo.git */
  readonly url: string;
  /** Each request's Authorization verdict, in order: the user name sent, or null when none or wrong. */
  readonly attempts: Array<{ username: string | null; ok: boolean }>;
  stop(): void;
}

/**
 * `current`: the one user name and password accepted now; or a check of each request's
 * Authorization header (a server accepting every token issued and not yet expired).
 */
export function startGitServer(
  current:
    | (() => { username: string; password: string })
    | { check: (authorization: string | null) => { username: string | null; ok: boolean } },
): GitServer {
  const root = mkdtempSync("/tmp/ca-git-");
  const repo = join(root, "repo.git");
  const git = (args: string[], cwd = root) => {
    const r = Bun.spawnSync(["git", ...args], {
      cwd,
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root, GIT_CONFIG_NOSYSTEM: "1" },
    });
    if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
  };
  git(["init", "-q", "--bare", repo]);
  git(["config", "http.receivepack", "true"], repo);
  const work = join(root, "work");
  git(["init", "-q", "-b", "main", work]);
  git(["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "first"], work);
  git(["push", "-q", repo, "main"], work);
  git(["symbolic-ref", "HEAD", "refs/heads/main"], repo);

  const attempts: GitServer["attempts"] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const authorization = req.headers.get("authorization");
      const { username, ok } = typeof current === "function" ? checkBasic(authorization, current()) : current.check(authorization);
      attempts.push({ username, ok });
      if (!ok) return new Response("authentication required\n", { status: 401, headers: { "www-authenticate": 'Basic realm="test"' } });
      const body = req.body ? new Uint8Array(await req.arrayBuffer()) : new Uint8Array();
      const cgi = Bun.spawn(["git", "http-backend"], {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          GIT_PROJECT_ROOT: root,
          GIT_HTTP_EXPORT_ALL: "1",
          REMOTE_USER: username ?? "",
          REQUEST_METHOD: req.method,
          PATH_INFO: url.pathname,
          QUERY_STRING: url.search.slice(1),
          CONTENT_TYPE: req.headers.get("content-type") ?? "",
          CONTENT_LENGTH: String(body.length),
          GIT_PROTOCOL: req.headers.get("git-protocol") ?? "",
        },
        stdin: body,
        stdout: "pipe",
        stderr: "pipe",
      });
      const output = new Uint8Array(await new Response(cgi.stdout).arrayBuffer());
      await cgi.exited;
      // CGI: headers, a blank line, the body.
      let split = -1;
      for (let i = 0; i + 3 < output.length; i++) {
        if (output[i] === 13 && output[i + 1] === 10 && output[i + 2] === 13 && output[i + 3] === 10) {
          split = i;
          break;
        }
      }
      if (split < 0) return new Response("bad CGI output", { status: 500 });
      const headers = new Headers();
      let status = 200;
      for (const line of new TextDecoder().decode(output.slice(0, split)).split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon < 0) continue;
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
        else headers.append(name, value);
      }
      return new Response(output.slice(split + 4), { status, headers });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/repo.git`,
    attempts,
    stop() {
      server.stop(true);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
