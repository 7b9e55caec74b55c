import { SecretBodyResponse } from "./secret-response.ts";

// A fetch Response as the bytes of an HTTP/1.1 answer, always with a Content-Length (every answer
// of the agent is a whole JSON body, and a client reading one answer has the simplest framing).

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  423: "Locked",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** The status line's reason phrase; clients ignore it, but a status line needs its space. */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "";
}

/** Headers this server writes itself, from the framing it chose. */
const FRAMING = new Set(["content-length", "transfer-encoding", "connection", "keep-alive"]);

const encoder = new TextEncoder();

/**
 * The whole answer in one buffer (one write, one read for the client). The body the Response held
 * is copied in and the copy it gave us zeroed: a token response's body is a secret (api/routes/
 * credentials.ts zeroes its own), and the caller zeroes the returned buffer once it is sent.
 */
export async function serializeResponse(
  response: Response,
  options: { keepAlive: boolean; version: "1.0" | "1.1"; omitBody: boolean },
): Promise<Uint8Array> {
  // A secret's bytes are written from the buffer that holds them (secret-response.ts), and zeroed.
  const body =
    response instanceof SecretBodyResponse
      ? response.secretBody
      : response.body === null
        ? new Uint8Array(0)
        : new Uint8Array(await response.arrayBuffer());
  let head = `HTTP/1.1 ${response.status} ${reasonPhrase(response.status)}\r\n`;
  response.headers.forEach((value, name) => {
    if (!FRAMING.has(name)) head += `${name}: ${value}\r\n`;
  });
  head += `Date: ${new Date().toUTCString()}\r\nContent-Length: ${body.length}\r\n`;
  if (!options.keepAlive) head += "Connection: close\r\n";
  else if (options.version === "1.0") head += "Connection: keep-alive\r\n";
  head += "\r\n";
  const headBytes = encoder.encode(head);
  const out = new Uint8Array(headBytes.length + (options.omitBody ? 0 : body.length));
  out.set(headBytes);
  if (!options.omitBody) out.set(body, headBytes.length);
  body.fill(0);
  return out;
}

/** An error answer written straight to a connection, closing it: the status and JSON body the API gives the code. */
export function errorAnswer(status: number, body: string): Uint8Array {
  const bytes = encoder.encode(body);
  return encoder.encode(
    `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n${body}`,
  );
}
