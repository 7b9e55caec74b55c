// The API contract shared by the agent and its clients. Nothing here imports runtime code.

export const API_PREFIX = "/v1";
export const CREDENTIAL_NAME = /^[A-Za-z0-9._-]{1,128}$/;

/** idle: nobody asked for it in a long while, so it is not refreshed; the next request fetches. */
export type CredentialState = "fresh" | "refreshing" | "stale" | "failing" | "not_loaded" | "login_required" | "idle";

export interface HealthResponse {
  status: "ok";
  version: string;
  pid: number;
  socket: string;
  started_at: string;
  locked: boolean;
}

export interface CredentialSummary {
  name: string;
  source: string;
  state: CredentialState;
  expires_at: string | null;
  refresh_at: string | null;
  last_error: string | null;
}

export interface CredentialListResponse {
  credentials: CredentialSummary[];
}

export interface TokenResponse {
  name: string;
  token: string;
  token_type: string;
  expires_at: string;
  expires_in: number;
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export interface LoginStartResponse {
  name: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string | null;
  expires_in: number;
  interval: number;
}

export interface LoginStatusResponse {
  name: string;
  status: "none" | "pending" | "done" | "failed";
  message: string | null;
  expires_at: string | null;
}

/** POST /v1/secrets/NAME/changed: the credentials using that secret that the agent retries now. */
export interface SecretChangedResponse {
  secret: string;
  retried: string[];
}
