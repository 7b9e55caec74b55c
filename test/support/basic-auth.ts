/** An HTTP Basic Authorization header checked against the user name and password current now. */
export function checkBasic(header: string | null, want: { username: string; password: string }): { username: string | null; ok: boolean } {
  if (!header?.startsWith("Basic ")) return { username: null, ok: false };
  const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const username = decoded.slice(0, colon);
  return { username, ok: username === want.username && decoded.slice(colon + 1) === want.password };
}
