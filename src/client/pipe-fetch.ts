import { request } from "node:http";

// HTTP over a Windows named pipe. Bun's fetch({ unix }) opens an AF_UNIX socket and never the pipe
// (a Wine trace shows WSASocketW family 1), while node:http's socketPath reaches it. Only pipes
// come here: on Unix sockets fetch stays (faster, and it spares the CLI loading node:http).
export function pipeFetch(
  pipe: string,
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
): Promise<Response> {
  const { pathname, search } = new URL(url);
  // Bun does not count a node:http request on a pipe as pending work: without a timer of our own
  // the process would exit, with status 0, while waiting for the answer (seen under Wine).
  const alive = setInterval(() => {}, 60_000);
  return new Promise<Response>((resolve, reject) => {
    const req = request(
      {
        socketPath: pipe,
        path: `${pathname}${search}`,
        method: init.method,
        headers: { host: "localhost", ...init.headers },
        signal: init.signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) if (typeof value === "string") headers.set(name, value);
          resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500, headers }));
        });
      },
    );
    req.on("error", reject);
    if (init.body !== undefined) req.write(init.body);
    req.end();
  }).finally(() => clearInterval(alive));
}
