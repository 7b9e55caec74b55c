import { Hono } from "hono";
import { CredagentError } from "../../errors.ts";
import type { ManagedCredential } from "../../refresh/credential.ts";
import type { JsonFields } from "../../secret-json.ts";
import { secretJsonResponse } from "../../http/secret-response.ts";
import type { Token } from "../../sources/source.ts";
import {
  CREDENTIAL_NAME,
  type CredentialListResponse,
  type CredentialSummary,
  type LoginStartResponse,
  type LoginStatusResponse,
} from "../../wire/types.ts";
import type { Actor } from "../../identity/actor.ts";
import type { ApiDeps } from "../deps.ts";

const MAX_MIN_VALID_SECONDS = 86_400 * 366;

export function credentialRoutes(deps: ApiDeps): Hono<{ Bindings: Actor }> {
  const app = new Hono<{ Bindings: Actor }>();

  app.get("/", async (c) => {
    const all = deps.registry.list();
    const visible = await Promise.all(all.map((credential) => deps.mayList(credential.name, c.env)));
    const body: CredentialListResponse = { credentials: all.filter((_, i) => visible[i]).map(summary) };
    return c.json(body);
  });

  app.get("/:name", async (c) => {
    const credential = await permitted(deps, c.req.param("name"), "fetch", c.env);
    const minValidMs = parseMinValid(c.req.query("min_valid"));
    const token = await credential.get(minValidMs);
    return tokenResponse(credential.name, token, deps.now());
  });

  app.get("/:name/negotiate", async (c) => {
    const credential = await permitted(deps, c.req.param("name"), "fetch", c.env);
    const url = c.req.query("url");
    if (!url) throw new CredagentError("bad_request", "negotiate needs ?url= the http(s) address of the service");
    if (!deps.negotiate) throw new CredagentError("not_implemented", "this agent makes no Negotiate headers");
    const header = await deps.negotiate(credential.name, url);
    const response = secretJsonResponse({
      name: credential.name,
      authorization: header.authorization,
      service: header.service,
      expires_at: new Date(header.expiresAt).toISOString(),
    });
    header.authorization.wipe();
    return response;
  });

  app.post("/:name/refresh", async (c) => {
    const credential = await permitted(deps, c.req.param("name"), "refresh", c.env);
    const token = await credential.refresh();
    return tokenResponse(credential.name, token, deps.now());
  });

  app.post("/:name/login", async (c) => {
    const credential = await permitted(deps, c.req.param("name"), "login", c.env);
    const challenge = await credential.login();
    const body: LoginStartResponse = {
      name: credential.name,
      user_code: challenge.userCode,
      verification_uri: challenge.verificationUri,
      verification_uri_complete: challenge.verificationUriComplete ?? null,
      expires_in: challenge.expiresIn,
      interval: challenge.interval,
    };
    return c.json(body);
  });

  app.get("/:name/login", async (c) => {
    const credential = await permitted(deps, c.req.param("name"), "login", c.env);
    const status = credential.loginStatus();
    const body: LoginStatusResponse = {
      name: credential.name,
      status: status.status,
      message: status.message,
      expires_at: status.expiresAt === null ? null : new Date(status.expiresAt).toISOString(),
    };
    return c.json(body);
  });

  return app;
}

/** The credential, if this connection's peer may have it; otherwise 403 naming the rule. */
export async function permitted(
  deps: ApiDeps,
  name: string,
  event: "fetch" | "refresh" | "login",
  connection: Actor | undefined,
): Promise<ManagedCredential> {
  const credential = lookup(deps, name);
  const decision = await deps.authorize(credential.name, event, connection);
  if (!decision.allowed) {
    throw new CredagentError("forbidden", `credential '${credential.name}' is not for this process: ${decision.reason}`);
  }
  return credential;
}

function lookup(deps: ApiDeps, name: string): ManagedCredential {
  if (!CREDENTIAL_NAME.test(name)) {
    throw new CredagentError("bad_request", "a credential name is 1 to 128 letters, digits, '.', '_' or '-'");
  }
  return deps.registry.get(name);
}

export function parseMinValid(raw: string | undefined): number {
  if (raw === undefined) return 0;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) > MAX_MIN_VALID_SECONDS) {
    throw new CredagentError("bad_request", "min_valid must be a whole number of seconds (at most a year)");
  }
  return Number(raw) * 1000;
}

/**
 * The TokenResponse of the wire types, written from the secrets' bytes: no string of a secret is
 * made (secretJsonResponse; http/response.ts zeroes the copy it takes).
 */
function tokenResponse(name: string, token: Token, now: number): Response {
  const kind = token.kind ?? "bearer";
  const fields: JsonFields = {
    name,
    kind,
    token: kind === "aws" ? undefined : token.value,
    token_type: token.tokenType,
    expires_at: new Date(token.expiresAt).toISOString(),
    expires_in: Math.max(0, Math.floor((token.expiresAt - now) / 1000)),
    username: token.username,
    password: kind === "password" ? token.value : undefined,
    aws:
      kind === "aws" && token.aws
        ? { access_key_id: token.aws.accessKeyId, secret_access_key: token.value, session_token: token.aws.sessionToken }
        : undefined,
  };
  return secretJsonResponse(fields);
}

function summary(credential: ManagedCredential): CredentialSummary {
  const snap = credential.snapshot();
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    name: credential.name,
    source: credential.source.kind,
    state: snap.state,
    expires_at: iso(snap.expiresAt),
    refresh_at: iso(snap.refreshAt),
    ...(snap.renewUntil === null ? {} : { renew_until: iso(snap.renewUntil) }),
    ...(credential.source.ticketCache === undefined ? {} : { ticket_cache: credential.source.ticketCache }),
    last_error: snap.lastError,
    note: snap.note,
  };
}
