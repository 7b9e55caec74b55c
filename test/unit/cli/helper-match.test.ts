import { expect, test } from "bun:test";
import { dockerCredentialFor, gitCredentialFor, registryHost } from "../../../src/cli/helper-match.ts";

test("git: protocol and host must match; the longest path prefix wins; no match is undefined", () => {
  const map = { "https://git.example.com": "all", "https://git.example.com/team/": "team", "http://127.0.0.1:8080": "local" };
  expect(gitCredentialFor(map, { protocol: "https", host: "git.example.com" })).toBe("all");
  expect(gitCredentialFor(map, { protocol: "https", host: "GIT.example.com", path: "team/repo.git" })).toBe("team");
  expect(gitCredentialFor(map, { protocol: "https", host: "git.example.com", path: "teamx/repo.git" })).toBe("all");
  expect(gitCredentialFor(map, { protocol: "http", host: "git.example.com" })).toBeUndefined();
  expect(gitCredentialFor(map, { protocol: "http", host: "127.0.0.1:8080" })).toBe("local");
  expect(gitCredentialFor(map, { protocol: "http", host: "127.0.0.1" })).toBeUndefined();
  expect(gitCredentialFor(map, {})).toBeUndefined();
});

test("docker: registries compared as host[:port], with or without a scheme or path", () => {
  expect(registryHost("https://index.docker.io/v1/")).toBe("index.docker.io");
  expect(registryHost("Registry.Example.com:5000")).toBe("registry.example.com:5000");
  const map = { "registry.example.com": "reg", "https://127.0.0.1:5000": "local" };
  expect(dockerCredentialFor(map, "https://registry.example.com")).toBe("reg");
  expect(dockerCredentialFor(map, "127.0.0.1:5000")).toBe("local");
  expect(dockerCredentialFor(map, "127.0.0.1:5001")).toBeUndefined();
});
