import { describe, expect, test } from "bun:test";
import { formatOf, placeholdersOf, renderTemplate, TemplateError } from "../../../src/connections/template.ts";

const nasty = `p@ss:w/o?rd#1 ;'"\\{}=& %`;

describe("connection templates", () => {
  test("the format is told by the template's shape; the config may name it", () => {
    expect(formatOf("postgresql://{username}:{password}@db:5432/app")).toBe("url");
    expect(formatOf("host=db port=5432 user={username} password={password}")).toBe("libpq");
    expect(formatOf("Server=db;Database=app;User Id={username};Password={password};")).toBe("adonet");
    expect(formatOf("Driver={PostgreSQL Unicode};Server=db;Uid={username};Pwd={password}")).toBe("odbc");
    expect(() => formatOf("just words")).toThrow(TemplateError);
    expect(placeholdersOf("a={x} b={y} c={x}")).toEqual(["x", "y"]);
  });

  test("url: every placeholder percent-encoded, so no character ends the user, password or host", () => {
    const out = renderTemplate("postgresql://{username}:{password}@db.example.com:5432/app?sslmode=require", "url", {
      username: "app@corp",
      password: nasty,
    });
    const url = new URL(out);
    expect(decodeURIComponent(url.username)).toBe("app@corp");
    expect(decodeURIComponent(url.password)).toBe(nasty);
    expect(url.host).toBe("db.example.com:5432");
    expect(url.searchParams.get("sslmode")).toBe("require");
  });

  test("libpq: values quoted and escaped by libpq's rules, plain ones left plain", () => {
    const out = renderTemplate("host=db port=5432 dbname='my app' user={username} password={password}", "libpq", {
      username: "app",
      password: nasty,
    });
    expect(out).toBe(`host=db port=5432 dbname='my app' user=app password='p@ss:w/o?rd#1 ;\\'"\\\\{}=& %'`);
    expect(renderTemplate("password={password}", "libpq", { password: "" })).toBe("password=''");
  });

  test("ADO.NET: double quotes, doubled inside; ODBC: braces, } doubled inside", () => {
    const ado = renderTemplate("Server=db;Database=app;User Id={username};Password={password};", "adonet", {
      username: "app",
      password: nasty,
    });
    expect(ado).toBe(`Server=db;Database=app;User Id=app;Password="p@ss:w/o?rd#1 ;'""\\{}=& %"`);
    const odbc = renderTemplate("Driver={PostgreSQL Unicode};Server=db;Uid={username};Pwd={password}", "odbc", {
      username: "app",
      password: nasty,
    });
    expect(odbc).toBe(`Driver={PostgreSQL Unicode};Server=db;Uid=app;Pwd={p@ss:w/o?rd#1 ;'"\\{}}=& %}`);
    // A password that tries to add a field stays inside its own.
    const injected = renderTemplate("Server=db;Password={password}", "adonet", { password: "x;Database=other" });
    expect(injected).toBe(`Server=db;Password="x;Database=other"`);
  });

  test("a placeholder the credential does not have is an error naming it", () => {
    expect(() => renderTemplate("u={username} p={password}", "libpq", { password: "x" })).toThrow("{username}");
  });

  test("malformed templates are errors that say where", () => {
    expect(() => renderTemplate("host=db password='open", "libpq", {})).toThrow("not closed");
    expect(() => renderTemplate("host db", "libpq", {})).toThrow("expected key=value");
    expect(() => renderTemplate("Driver={y z} junk;Pwd=1", "odbc", {})).toThrow("text after the quoted value");
  });
});
