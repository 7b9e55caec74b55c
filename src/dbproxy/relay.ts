import type { Duplex } from "node:stream";
import type { Stream } from "../transport/stream.ts";

// The bytes of an authenticated session, both ways, as they come, for every database protocol:
// after the login the proxy parses nothing. Each side's reader is paused while the other side's
// writer holds more than HIGH_WATER bytes the kernel has not taken, so a slow reader on either
// end costs memory up to that mark, not without end.

const HIGH_WATER = 256 * 1024;

/**
 * Joins the client's stream to the server's socket; `first` is what the server sent with its
 * AuthenticationOk (or the protocol's equivalent), `early` what the client sent while the proxy
 * logged in. Either side closing closes the other; `onClose` runs once, when both are gone.
 */
export function relay(client: Stream, server: Duplex, opening: { first: Uint8Array; early: Uint8Array }, onClose: () => void): void {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    server.destroy();
    client.destroy();
    onClose();
  };
  client.onData = (bytes) => {
    if (!server.write(bytes)) {
      client.pause();
      server.once("drain", () => client.resume());
    }
  };
  client.onEnd = () => server.end();
  client.onClose = close;
  server.on("data", (bytes: Buffer) => {
    client.write(bytes);
    if (client.pendingBytes > HIGH_WATER) {
      server.pause();
      client.onDrain = () => server.resume();
    }
  });
  server.on("end", () => client.end());
  server.on("error", close);
  server.on("close", close);
  if (opening.first.length) client.write(opening.first);
  if (opening.early.length) server.write(opening.early);
  client.resume();
  // The login's reader left it paused.
  server.resume();
}
