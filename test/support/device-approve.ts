// Approves a device authorization the way a person would in a browser: opens the verification
// URL, confirms the user code, signs in on oidc-provider's login page, follows every redirect.
// A tiny cookie jar and form reader; only for the test provider's plain HTML pages.

export async function approveDevice(verificationUriComplete: string, user = "alice"): Promise<void> {
  const cookies = new Map<string, string>();
  let method = "GET";
  let url = verificationUriComplete;
  let body: URLSearchParams | undefined;
  for (let step = 0; step < 20; step++) {
    const res = await fetch(url, {
      method,
      body,
      redirect: "manual",
      headers: {
        cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; "),
        ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      signal: AbortSignal.timeout(5_000),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get("location")!, url).toString();
      method = "GET";
      body = undefined;
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`device approval: HTTP ${res.status} at ${url}: ${html.slice(0, 300)}`);
    const tag = /<form\b([^>]*\bmethod="post"[^>]*)>([\s\S]*?)<\/form>/i.exec(html);
    const form = tag ? [tag[0], /action="([^"]+)"/.exec(tag[1]!)?.[1] ?? url, tag[2]] : null;
    if (!form) {
      if (/success|signed in|you can close/i.test(html)) return;
      throw new Error(`device approval: no form and no success at ${url}: ${html.replace(/\s+/g, " ").slice(0, 400)}`);
    }
    const fields = new URLSearchParams();
    for (const input of form[2]!.matchAll(/<(?:input|button)\b([^>]*)>/gi)) {
      const name = /name="([^"]+)"/.exec(input[1]!)?.[1];
      if (!name) continue;
      const value = /value="([^"]*)"/.exec(input[1]!)?.[1] ?? "";
      if (name === "login") fields.set(name, user);
      else if (name === "password") fields.set(name, "any-password");
      else if (name === "abort") continue;
      else fields.set(name, value);
    }
    url = new URL(form[1]!.replaceAll("&amp;", "&"), url).toString();
    method = "POST";
    body = fields;
  }
  throw new Error("device approval: too many steps");
}
