import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { importPKCS8 } from "jose";
import * as oauth from "oauth4webapi";
import type { Secret } from "../../secret.ts";
import { absentAdvice } from "../../store/absent.ts";
import { secretAccount, type SecretStore } from "../../store/store.ts";
import { CannotHealError } from "../source.ts";
import type { OAuthOptions } from "./options.ts";

/**
 * How the client proves itself at the token endpoint. The client secret or private key is the
 * secret stored under the credential's name, read at each fetch so `secret set` takes effect.
 */
export async function clientAuthFor(options: OAuthOptions, store: SecretStore): Promise<oauth.ClientAuth> {
  if (options.clientAuth === "none") return oauth.None();
  const secret = await store.get(secretAccount(options.name));
  if (!secret) {
    const what = options.clientAuth === "private_key_jwt" ? "private key (PEM)" : "client secret";
    const advice = await absentAdvice(
      store,
      secretAccount(options.name),
      options.name,
      `set it with: credagent secret set ${options.name} --stdin < FILE`,
    );
    throw new CannotHealError("source_failed", `no ${what} is stored for '${options.name}' in ${store.description}${advice}`);
  }
  switch (options.clientAuth) {
    case "client_secret_basic":
      return oauth.ClientSecretBasic(secret.reveal());
    case "client_secret_post":
      return oauth.ClientSecretPost(secret.reveal());
    case "private_key_jwt":
      return privateKeyJwt(options, secret);
  }
}

const PEM_BLOCK = (label: string) => new RegExp(`-----BEGIN ${label}-----[\\s\\S]+?-----END ${label}-----`);

/**
 * A signed client assertion. The secret holds a PKCS#8 private key and, optionally, the
 * certificate registered with the provider; Entra ID identifies the key by the certificate's
 * SHA-256 thumbprint (x5t#S256), others by a key id (key_id in the config).
 */
async function privateKeyJwt(options: OAuthOptions, secret: Secret): Promise<oauth.ClientAuth> {
  const pem = secret.reveal();
  const keyPem = PEM_BLOCK("PRIVATE KEY").exec(pem)?.[0];
  if (!keyPem) {
    throw new CannotHealError(
      "source_failed",
      `the secret stored for '${options.name}' holds no PKCS#8 private key (-----BEGIN PRIVATE KEY-----); ` +
        "convert one with: openssl pkcs8 -topk8 -nocrypt -in key.pem",
    );
  }
  let alg: string;
  let key: CryptoKey;
  try {
    alg = algorithmOf(keyPem);
    key = (await importPKCS8(keyPem, alg)) as CryptoKey;
  } catch (err) {
    throw new CannotHealError("source_failed", `the private key stored for '${options.name}' cannot be used: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const certPem = PEM_BLOCK("CERTIFICATE").exec(pem)?.[0];
  const thumbprint = certPem ? createHash("sha256").update(new X509Certificate(certPem).raw).digest("base64url") : undefined;
  return oauth.PrivateKeyJwt(
    { key, kid: options.keyId },
    {
      [oauth.modifyAssertion]: (header) => {
        if (thumbprint) header["x5t#S256"] = thumbprint;
      },
    },
  );
}

function algorithmOf(keyPem: string): string {
  const key = createPrivateKey(keyPem);
  switch (key.asymmetricKeyType) {
    case "rsa":
      return "RS256";
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === "prime256v1" || curve === "P-256") return "ES256";
      if (curve === "secp384r1" || curve === "P-384") return "ES384";
      throw new Error(`unsupported EC curve ${curve}`);
    }
    case "ed25519":
      return "EdDSA";
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
  }
}
