import { createHash } from "node:crypto";
import { checkBasic } from "./basic-auth.ts";

// A container registry on 127.0.0.1 for the docker credential helper's test: the registry v2 API
// with HTTP Basic auth, holding one image (repository "app", tag "v1"), enough for
// `docker manifest inspect`, which the docker CLI runs without a daemon. The server runs in the
// test's own process: drive docker with Bun.spawn, never spawnSync.

export interface Registry {
  /** 127.0.0.1:PORT, as docker names the registry. */
  readonly host: string;
  readonly attempts: Array<{ username: string | null; ok: boolean }>;
  stop(): void;
}

export function startRegistry(current: () => { username: string; password: string }): Registry {
  const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config: {} });
  const digest = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.docker.distribution.manifest.v2+json",
    config: { mediaType: "application/vnd.docker.container.image.v1+json", size: config.length, digest: digest(config) },
    layers: [],
  });
  const attempts: Registry["attempts"] = [];
  const api = { "docker-distribution-api-version": "registry/2.0" };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const { username, ok } = checkBasic(req.headers.get("authorization"), current());
      attempts.push({ username, ok });
      if (!ok)
        return Response.json(
          { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] },
          { status: 401, headers: { ...api, "www-authenticate": 'Basic realm="test"' } },
        );
      const path = new URL(req.url).pathname;
      if (path === "/v2/") return Response.json({}, { headers: api });
      if (path === "/v2/app/manifests/v1")
        return new Response(manifest, {
          headers: {
            ...api,
            "content-type": "application/vnd.docker.distribution.manifest.v2+json",
            "docker-content-digest": digest(manifest),
          },
        });
      if (path === `/v2/app/blobs/${digest(config)}`)
        return new Response(config, {
          headers: { ...api, "content-type": "application/octet-stream", "docker-content-digest": digest(config) },
        });
      return Response.json({ errors: [{ code: "MANIFEST_UNKNOWN", message: "not here" }] }, { status: 404, headers: api });
    },
  });
  return {
    host: `127.0.0.1:${server.port}`,
    attempts,
    stop: () => server.stop(true),
  };
}
