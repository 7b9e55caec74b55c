import { chmodSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CredagentError, describe } from "../errors.ts";
import type { Kdc } from "../kerberos/kdc.ts";
import { profilePath, realmProfile, ticketCacheName } from "../kerberos/profile.ts";
import { KRB5, Krb5Error, type TicketTimes } from "../native/krb5.ts";
import { Secret } from "../secret.ts";
import { secretAccount, type SecretStore } from "../store/store.ts";
import { CannotHealError, type FetchContext, type KerberosTicket, type Token, type TokenSource } from "./source.ts";
import { currentUid } from "../platform/os.ts";

// `source = "kerberos"`: a TGT for a principal, kept in a credential cache of the agent's own (a
// file under the runtime directory that KRB5CCNAME names). Each fetch renews the ticket at the KDC
// while renewing still gives at least half a lifetime more, and otherwise gets a new one from the
// password (the secret stored under the credential's name) or the keytab. The new ticket is written
// to a file beside the cache and renamed over it, so a program reading the cache never finds it
// half-written or empty.

export interface KerberosSourceOptions {
  name: string;
  principal: string;
  keytab?: string;
  realm?: string;
  kdc?: string[];
  ticketLifetimeMs?: number;
  renewLifetimeMs?: number;
  /** The private directory of the agent's caches (made 0700 at the first fetch). */
  cacheDir: string;
  env: Record<string, string | undefined>;
  store: SecretStore;
  kdcClient: Kdc;
}

export function kerberosSource(options: KerberosSourceOptions): TokenSource {
  const { name, cacheDir, kdcClient } = options;
  const file = join(cacheDir, name);
  const cache = ticketCacheName(cacheDir, name);
  const ownProfile = join(cacheDir, `${name}.krb5.conf`);
  const principal = withRealm(options.principal, options.realm);
  const realm = principal.slice(principal.lastIndexOf("@") + 1);
  // The cache file this source last put in place (device and inode): discard() removes that one
  // only, not one a newer source of the same name (a reloaded config) has written since.
  let written: { dev: number; ino: number } | undefined;

  const fail = (err: unknown, doing: string): CredagentError => explain(err, doing, name, principal, options.keytab);

  async function initial(profile: string, into: string): Promise<TicketTimes> {
    const life = {
      ticketSeconds: options.ticketLifetimeMs === undefined ? undefined : Math.ceil(options.ticketLifetimeMs / 1000),
      renewSeconds: options.renewLifetimeMs === undefined ? undefined : Math.ceil(options.renewLifetimeMs / 1000),
    };
    if (options.keytab !== undefined) {
      return kdcClient.acquire({ profile, principal, keytab: options.keytab, into, ...life });
    }
    const secret = await options.store.get(secretAccount(name));
    if (!secret) {
      throw new CannotHealError(
        "source_failed",
        `no password is stored for '${name}' (${principal}) in ${options.store.description}` +
          `${options.store.absentHint ? ` (${options.store.absentHint})` : ""}; set it with: credagent secret set ${name}`,
      );
    }
    const bytes = secret.bytes();
    if (bytes.includes(0)) throw new CannotHealError("source_failed", `the password stored for '${name}' holds a NUL byte`);
    // Its own buffer, handed (transferred) to the worker, which zeroes it.
    const password = new Uint8Array(bytes.byteLength + 1);
    password.set(bytes);
    secret.wipe();
    return kdcClient.acquire({ profile, principal, password, into, ...life });
  }

  return {
    kind: "kerberos",
    // The ticket lives in its cache file; the store keeps only the password.
    persist: false,
    ticketCache: cache,
    async fetchToken(ctx: FetchContext): Promise<Token> {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      preparePrivateDir(cacheDir);
      const own = realmProfile({ realm: options.realm, kdc: options.kdc }, realm);
      if (own === null) rmSync(ownProfile, { force: true });
      else writeFileSync(ownProfile, own, { mode: 0o600 });
      const profile = profilePath(own === null ? null : ownProfile, options.env);
      removeLeftovers(cacheDir, name);
      const temp = join(cacheDir, `.${name}.new-${Math.random().toString(36).slice(2, 10)}`);
      try {
        const held = await kdcClient.tgt({ profile, cache }).catch(() => null);
        const usable = held && held.client.toLowerCase() === principal.toLowerCase() && held.endTime > ctx.now ? held : null;
        let times: TicketTimes | undefined;
        if (usable && worthRenewing(usable, ctx.now)) {
          try {
            times = await kdcClient.renew({ profile, from: cache, into: `FILE:${temp}` });
          } catch (err) {
            // No KDC now: a new ticket would not come either. Anything else (the KDC refused this
            // ticket): a new one from the password or keytab.
            if (err instanceof Krb5Error && unreachable(err.krb5Code)) throw fail(err, "renewing the ticket");
          }
        }
        if (!times) {
          try {
            times = await initial(profile, `FILE:${temp}`);
          } catch (err) {
            // No password to get a new ticket with, but one still renewable: renewing beats failing.
            if (!(err instanceof CannotHealError && usable?.renewTill)) throw fail(err, "getting a ticket");
            times = await kdcClient.renew({ profile, from: cache, into: `FILE:${temp}` }).catch((e) => {
              throw fail(e, "renewing the ticket");
            });
          }
        }
        if (ctx.signal.aborted) throw ctx.signal.reason;
        chmodSync(temp, 0o600);
        renameSync(temp, file);
        const st = lstatSync(file);
        written = { dev: st.dev, ino: st.ino };
        const ticket: KerberosTicket = { principal: times.client, ccache: cache, profile, renewUntil: times.renewTill };
        return {
          kind: "kerberos",
          value: new Secret(cache),
          tokenType: "kerberos",
          obtainedAt: ctx.now,
          expiresAt: times.endTime,
          username: times.client,
          kerberos: ticket,
        };
      } finally {
        rmSync(temp, { force: true });
      }
    },
    discard(): void {
      rmSync(ownProfile, { force: true });
      const mine = written;
      written = undefined;
      if (!mine) return;
      try {
        const st = lstatSync(file);
        if (st.dev === mine.dev && st.ino === mine.ino) rmSync(file, { force: true });
      } catch {
        // already gone
      }
    },
  };
}

/** The principal with the realm appended when it names none (and a realm is configured). */
export function withRealm(principal: string, realm: string | undefined): string {
  return realm !== undefined && !/(^|[^\\])(\\\\)*@/.test(principal) ? `${principal}@${realm}` : principal;
}

/**
 * Renewing is worth it while it gives at least half of the current ticket's lifetime more; nearer
 * the renewal limit a new ticket is obtained instead, so the cache never holds a ticket of a few
 * seconds.
 */
export function worthRenewing(ticket: TicketTimes, now: number): boolean {
  if (ticket.renewTill === null) return false;
  return ticket.renewTill - now >= (ticket.endTime - ticket.startTime) / 2;
}

function unreachable(code: number): boolean {
  return code === KRB5.KDC_UNREACH || code === KRB5.REALM_CANT_RESOLVE;
}

/** A library failure as the agent reports it: what happened, and whether waiting can fix it. */
function explain(err: unknown, doing: string, name: string, principal: string, keytab: string | undefined): CredagentError {
  if (err instanceof CredagentError) return err;
  if (!(err instanceof Krb5Error))
    return new CredagentError("source_failed", `${doing} for ${principal}: ${describe(err)}`, { cause: err });
  const what = `${doing} for ${principal}: ${err.message}`;
  const lasting = (hint: string) => new CannotHealError("source_failed", `${what}; ${hint}`, { cause: err });
  switch (err.krb5Code) {
    case KRB5.PREAUTH_FAILED:
    case KRB5.BAD_INTEGRITY:
      return keytab !== undefined
        ? lasting(`the keytab ${keytab} holds an old key for ${principal}: make a new one`)
        : lasting(
            `the KDC refused the password: set the right one with 'credagent secret set ${name}' (a refused password is not tried again by itself: repeated failures can lock the account)`,
          );
    case KRB5.KEY_EXP:
      return lasting(`the password has expired: change it (kpasswd, or at a Windows sign-in), then 'credagent secret set ${name}'`);
    case KRB5.CLIENT_REVOKED:
      return lasting("the account is disabled or locked out: ask the directory's administrators");
    case KRB5.C_PRINCIPAL_UNKNOWN:
      return lasting(`check principal = "${principal}" in the config`);
    case KRB5.KT_NOTFOUND:
    case 2 /* ENOENT: no such keytab */:
      return lasting(`check keytab = "${keytab ?? ""}" in the config`);
    case KRB5.REALM_UNKNOWN:
      return lasting('name the realm\'s KDC in the credential (kdc = ["dc1.example.com"]) or in krb5.conf');
    case KRB5.KDC_UNREACH:
    case KRB5.REALM_CANT_RESOLVE:
      return new CredagentError(
        "source_failed",
        `${what}; credagent keeps trying (check the network or VPN, and the realm's kdc in the config or krb5.conf)`,
        { cause: err },
      );
    default:
      return new CredagentError("source_failed", what, { cause: err });
  }
}

/** credagent/ and credagent/krb5/ under the runtime directory: made 0700, and refused unless ours and private. */
function preparePrivateDir(dir: string): void {
  const uid = currentUid();
  for (const d of [dirname(dir), dir]) {
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new CredagentError("unsafe_path", `cannot create ${d} for the ticket cache: ${describe(err)}`, { cause: err });
      }
    }
    const st = lstatSync(d);
    if (!st.isDirectory() || (uid >= 0 && st.uid !== uid) || (st.mode & 0o077) !== 0) {
      throw new CredagentError(
        "unsafe_path",
        `${d} must be a directory of your own with mode 700 to hold ticket caches (it is ${st.isSymbolicLink() ? "a link" : `mode ${(st.mode & 0o777).toString(8)}, uid ${st.uid}`}); fix or remove it`,
      );
    }
  }
}

/** Files a fetch cut short (the agent stopped mid-write) left beside the cache. */
function removeLeftovers(dir: string, name: string): void {
  for (const entry of readdirSync(dir)) if (entry.startsWith(`.${name}.new-`)) rmSync(join(dir, entry), { force: true });
}
