import { expect, test } from "bun:test";
import { azureIdentityOf, normalizeResource } from "../../../src/endpoints/resource.ts";
import { parseConfig } from "../../../src/config/load.ts";

test("resources compare without /.default, trailing slashes or case in the host", () => {
  expect(normalizeResource("https://ossrdbms-aad.database.windows.net/.default")).toBe("https://ossrdbms-aad.database.windows.net");
  expect(normalizeResource("HTTPS://Vault.Azure.net/")).toBe("https://vault.azure.net");
  expect(normalizeResource("api://my-app/.default")).toBe("api://my-app");
});

test("a credential is found by its resource key, or by an oauth2 credential's single /.default scope", () => {
  const config = parseConfig(
    `[credentials.a]\nsource = "command"\ncommand = ["x"]\nresource = "https://db.example/"\n` +
      `[credentials.b]\nsource = "oauth2"\ngrant = "client_credentials"\ntoken_endpoint = "https://idp.example/token"\nclient_id = "cid"\nscope = "https://vault.azure.net/.default"\n` +
      `[credentials.c]\nsource = "oauth2"\ngrant = "client_credentials"\ntoken_endpoint = "https://idp.example/token"\nclient_id = "c2"\nscope = "https://a/.default https://b/.default"\n` +
      `[endpoints]\nazure = true\ngcp = "a"\n`,
    "config.toml",
  );
  const [a, b, c] = config.credentials;
  expect(azureIdentityOf(a!)).toEqual({ resource: "https://db.example" });
  expect(azureIdentityOf(b!)).toEqual({ resource: "https://vault.azure.net", clientId: "cid" });
  // Two resources' scopes: ambiguous, so not served.
  expect(azureIdentityOf(c!)).toBeUndefined();
  expect(config.endpoints).toEqual({ azure: true, gcp: "a", aws: undefined, port: 0, gcpProject: undefined, gcpEmail: undefined });
});

test("[endpoints] is checked: unknown keys and bad values are config errors", () => {
  expect(() => parseConfig(`[endpoints]\nazur = true\n`, "c.toml")).toThrow(/did you mean azure/);
  expect(() => parseConfig(`[endpoints]\ngcp = "no spaces"\n`, "c.toml")).toThrow(/name of a credential/);
  expect(() => parseConfig(`[endpoints]\nport = 70000\n`, "c.toml")).toThrow(/endpoints.port/);
  expect(() => parseConfig(`[endpoints]\ngcp = "missing"\n`, "c.toml")).toThrow(/endpoints.gcp: no credential named 'missing'/);
});

test("gcp_project_number takes digits (a TOML integer or a string); gcp_id_token an oauth2 credential, defaulting to gcp when it is one", () => {
  const oauth = (name: string) =>
    `[credentials.${name}]\nsource = "oauth2"\ngrant = "client_credentials"\ntoken_endpoint = "https://idp.example/token"\nclient_id = "c"\n`;
  const command = (name: string) => `[credentials.${name}]\nsource = "command"\ncommand = ["x"]\n`;
  const endpoints = (toml: string) => parseConfig(toml, "c.toml").endpoints!;
  expect(endpoints(`[endpoints]\ngcp_project_number = 123456789012\n`).gcpProjectNumber).toBe("123456789012");
  expect(endpoints(`[endpoints]\ngcp_project_number = "42"\n`).gcpProjectNumber).toBe("42");
  expect(() => parseConfig(`[endpoints]\ngcp_project_number = "my-project"\n`, "c.toml")).toThrow(
    /gcp_project_number: expected the project number/,
  );
  expect(endpoints(`[endpoints]\ngcp = "g"\n${oauth("g")}`).gcpIdToken).toBe("g");
  expect(endpoints(`[endpoints]\ngcp = "g"\n${command("g")}`).gcpIdToken).toBeUndefined();
  expect(endpoints(`[endpoints]\ngcp = "g"\ngcp_id_token = "i"\n${command("g")}${oauth("i")}`).gcpIdToken).toBe("i");
  expect(() => parseConfig(`[endpoints]\ngcp_id_token = "g"\n${command("g")}`, "c.toml")).toThrow(
    /endpoints.gcp_id_token: names 'g', which is not an oauth2 credential/,
  );
  expect(() => parseConfig(`[endpoints]\ngcp_id_token = "none"\n`, "c.toml")).toThrow(/endpoints.gcp_id_token: no credential named 'none'/);
});
