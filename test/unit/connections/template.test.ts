import { describe, expect, test } from "bun:test";
import { checkTemplate, formatOf, placeholdersOf, renderTemplate, TemplateError } from "../../../src/connections/template.ts";

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

describe("jdbc and redis templates", () => {
  test("told by their shape", () => {
    expect(formatOf("jdbc:postgresql://db:5432/app?user={username}&password={password}")).toBe("jdbc");
    expect(formatOf("redis://{username}:{password}@cache:6379/0")).toBe("redis");
    expect(formatOf("rediss://{username}:{password}@cache:6380")).toBe("redis");
    expect(formatOf("unix:///run/user/1000/credagent/db/cache/redis.sock")).toBe("redis");
  });

  test("jdbc: pgjdbc and MySQL's driver decode their property values (so they are percent-encoded); MariaDB's takes them as written and cannot carry '&'", () => {
    expect(
      renderTemplate("jdbc:postgresql://db/app?user={username}&password={password}&ssl=true", "jdbc", {
        username: "a&b",
        password: "p+ =%",
      }),
    ).toBe("jdbc:postgresql://db/app?user=a%26b&password=p%2B%20%3D%25&ssl=true");
    expect(renderTemplate("jdbc:mysql://db/app?password={password}", "jdbc", { password: "p+ =" })).toBe(
      "jdbc:mysql://db/app?password=p%2B%20%3D",
    );
    expect(
      renderTemplate("jdbc:mariadb://db/app?user={username}&password={password}", "jdbc", { username: "app", password: "p+/= %" }),
    ).toBe("jdbc:mariadb://db/app?user=app&password=p+/= %");
    expect(() => renderTemplate("jdbc:mariadb://db/app?password={password}", "jdbc", { password: "a&b" })).toThrow(/cannot carry/);
  });

  test("checked at load: where placeholders may sit, and the URL's shape", () => {
    expect(() => checkTemplate("jdbc:postgresql://db/app?user={username}&password={password}", "jdbc")).not.toThrow();
    expect(() => checkTemplate("jdbc:postgresql://{username}@db/app", "jdbc")).toThrow(/only in its properties' values/);
    expect(() => checkTemplate("jdbc:oracle:thin:@db", "jdbc")).toThrow(/jdbc:postgresql/);
    expect(() => checkTemplate("jdbc:mariadb://db/app?{username}=x", "jdbc")).toThrow(/property names/);
    expect(() => checkTemplate("redis://{username}:{password}@cache:6379/2", "redis")).not.toThrow();
    expect(() => checkTemplate("unix://{username}:{password}@/run/credagent/db/cache/redis.sock?db=1", "redis")).not.toThrow();
    expect(() => checkTemplate("redis://cache/{password}", "redis")).toThrow(/placeholders only/);
    expect(() => checkTemplate("redis://cache:6379/app", "redis")).toThrow(/database number/);
    expect(() => checkTemplate("unix://host/x.sock", "redis")).toThrow(/names no host/);
    expect(() => checkTemplate("redis://:{password}@", "redis")).toThrow(/names its host/);
  });

  test("redis: user and password percent-encoded", () => {
    expect(renderTemplate("redis://{username}:{password}@cache:6379/0", "redis", { username: "app", password: nasty })).toBe(
      `redis://app:${encodeURIComponent(nasty)}@cache:6379/0`,
    );
  });
});
