import { formatCountdown } from "../../duration.ts";
import type { CredentialSummary } from "../../wire/types.ts";

/** NAME, SOURCE, STATE, EXPIRES, LAST ERROR cells for a credential table. */
export function credentialRows(credentials: CredentialSummary[], now: number): string[][] {
  return credentials.map((c) => [
    c.name,
    c.source,
    c.state.replace("_", " "),
    c.expires_at
      ? `in ${formatCountdown(Date.parse(c.expires_at) - now)}${c.renew_until ? `, renewable for ${formatCountdown(Date.parse(c.renew_until) - now)}` : ""}`
      : "-",
    c.last_error ?? "-",
  ]);
}
