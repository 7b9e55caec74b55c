import type { AllowRule } from "../policy/rules.ts";
import { CredagentError } from "../errors.ts";
import type { TokenSource } from "../sources/source.ts";
import { ManagedCredential, type CredentialDeps } from "./credential.ts";
import type { RefreshPolicy } from "./policy.ts";

/** What the registry needs to know of a configured credential. */
export interface CredentialDefinition {
  name: string;
  /** Equal fingerprints mean an unchanged definition: its token survives a reload. */
  fingerprint: string;
  policy: RefreshPolicy;
  prefetch: boolean;
  /** Who may fetch it (not part of the fingerprint: changing rules keeps the token). */
  access?: { allow?: AllowRule[]; confirm: boolean };
  /** The stored secrets (by name) its source reads at each fetch: a change to one retries it. */
  secrets?: string[];
  /** A file the agent keeps (a pgpass line, a [files.NAME]) holds its value: a changed secret refetches it at once. */
  keptFresh?: boolean;
  /** The Azure resource its tokens are for, and its client id (the SDK endpoint finds it by them). */
  azure?: { resource: string; clientId?: string };
  createSource(): TokenSource;
}

export interface ApplyResult {
  added: string[];
  changed: string[];
  removed: string[];
  kept: string[];
}

/** The agent's credentials by name; swapped as a whole on reload, keeping unchanged ones. */
export class CredentialRegistry {
  #entries = new Map<string, { def: CredentialDefinition; credential: ManagedCredential }>();

  constructor(private readonly deps: CredentialDeps) {}

  /**
   * `prefetch: false` leaves the credentials configured to be kept fresh for a later prefetchAll():
   * at start, cached tokens are restored first, so that a restart costs them no fetch.
   */
  apply(definitions: Iterable<CredentialDefinition>, options: { prefetch?: boolean } = {}): ApplyResult {
    const result: ApplyResult = { added: [], changed: [], removed: [], kept: [] };
    const next = new Map<string, { def: CredentialDefinition; credential: ManagedCredential }>();
    for (const def of definitions) {
      const old = this.#entries.get(def.name);
      if (old && old.def.fingerprint === def.fingerprint) {
        next.set(def.name, { def, credential: old.credential });
        result.kept.push(def.name);
        // A reload is someone fixing something (the PATH of a command, a file it reads): a
        // failure, even one that cannot heal by itself, is tried again.
        old.credential.retry();
        continue;
      }
      const credential = new ManagedCredential(def.name, def.createSource(), def.policy, this.deps);
      next.set(def.name, { def, credential });
      (old ? result.changed : result.added).push(def.name);
      if (def.prefetch && options.prefetch !== false) credential.prefetch();
    }
    for (const [name, old] of this.#entries) {
      const replacement = next.get(name);
      if (replacement?.credential !== old.credential) old.credential.stop();
      if (!replacement) result.removed.push(name);
    }
    this.#entries = next;
    return result;
  }

  get(name: string): ManagedCredential {
    const entry = this.#entries.get(name);
    if (!entry) {
      throw new CredagentError("unknown_credential", `no credential named '${name}' is configured; 'credagent list' shows the names`);
    }
    return entry.credential;
  }

  definition(name: string): CredentialDefinition | undefined {
    return this.#entries.get(name)?.def;
  }

  /** A stored secret was set or removed: the credentials that read it and are failing try again now. */
  secretChanged(secret: string): string[] {
    const retried: string[] = [];
    for (const { def, credential } of this.#entries.values()) {
      if (def.secrets?.includes(secret) && credential.retry()) retried.push(def.name);
    }
    return retried;
  }

  /**
   * A stored secret was set: the credentials that read it and whose value a kept file holds are
   * fetched again now (the files follow at each new value), so a file does not hold the old value
   * until the next refresh. `skip`: those already retried. `settled` resolves once each fetch has ended.
   */
  refreshKeptFresh(secret: string, skip: string[] = []): { names: string[]; settled: Promise<unknown> } {
    const names: string[] = [];
    const fetches: Array<Promise<unknown>> = [];
    for (const { def, credential } of this.#entries.values()) {
      if (!def.keptFresh || !def.secrets?.includes(secret) || skip.includes(def.name)) continue;
      names.push(def.name);
      fetches.push(credential.refetch());
    }
    return { names, settled: Promise.allSettled(fetches) };
  }

  list(): ManagedCredential[] {
    return [...this.#entries.values()].map((e) => e.credential);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Starts fetching the credentials configured to be kept fresh that hold no token (at start, after an unlock). */
  prefetchAll(): void {
    for (const { def, credential } of this.#entries.values()) if (def.prefetch && !credential.current()) credential.prefetch();
  }

  /** Drops every token from memory (lock). */
  forgetAll(): void {
    for (const { credential } of this.#entries.values()) credential.forget();
  }

  stop(): void {
    for (const { credential } of this.#entries.values()) credential.stop();
  }
}
