// Token endpoint load of 1,000 credentials with 1-hour tokens over a simulated day, on the fake
// clock the unit tests use: calls per hour, the most any credential made in one lifetime, and how
// the calls spread over time. Imported by bench/run.ts; run alone with `bun bench/refresh-simulation.ts`.
import { DEFAULT_POLICY } from "../src/refresh/policy.ts";
import { ManagedCredential } from "../src/refresh/credential.ts";
import { FakeClock } from "../test/support/fake-clock.ts";
import { FakeSource } from "../test/support/fake-source.ts";

export interface SimulationResult {
  credentials: number;
  hours: number;
  callsPerHour: number;
  /** Calls per credential per token lifetime: 1/0.75 when refreshing at 70-80% of it. */
  callsPerCredentialPerLifetime: number;
  maxPerCredentialPerLifetime: number;
  maxInOneSecond: number;
  maxInOneMinute: number;
  expiredServed: number;
}

export async function simulateRefresh(credentials = 1000, hours = 24): Promise<SimulationResult> {
  const clock = new FakeClock();
  const start = clock.now();
  const calls: number[] = [];
  const perCredential: number[][] = [];
  const managed = Array.from({ length: credentials }, (_, i) => {
    const source = new FakeSource(clock);
    const original = source.fetchToken.bind(source);
    perCredential[i] = [];
    source.fetchToken = (ctx) => {
      calls.push(clock.now());
      perCredential[i]!.push(clock.now());
      return original(ctx);
    };
    return new ManagedCredential(`c${i}`, source, DEFAULT_POLICY, { clock, random: Math.random });
  });
  // Every credential is first asked for within the first minute, as apps start.
  let expiredServed = 0;
  for (const c of managed) {
    await clock.advance(60);
    await c.get();
  }
  const stepMs = 60_000;
  for (let t = 0; t < hours * 3_600_000; t += stepMs) {
    await clock.advance(stepMs);
    // A sample of requests each simulated minute: none may get an expired token.
    for (let k = 0; k < 20; k++) {
      const token = await managed[Math.floor(Math.random() * credentials)]!.get();
      if (token.expiresAt <= clock.now()) expiredServed += 1;
    }
  }
  // Spread in steady state: after the first hour, when every call is a background refresh.
  const steady = calls.filter((t) => t - start >= 3_600_000);
  const bucket = (ms: number) => {
    const counts = new Map<number, number>();
    for (const t of steady) counts.set(Math.floor((t - start) / ms), (counts.get(Math.floor((t - start) / ms)) ?? 0) + 1);
    return Math.max(...counts.values());
  };
  let maxPerLifetime = 0;
  for (const times of perCredential) {
    for (let i = 0; i < times.length; i++) {
      const within = times.filter((t) => t >= times[i]! && t < times[i]! + 3_600_000).length;
      maxPerLifetime = Math.max(maxPerLifetime, within);
    }
  }
  for (const c of managed) c.stop();
  return {
    credentials,
    hours,
    callsPerHour: calls.length / hours,
    callsPerCredentialPerLifetime: calls.length / hours / credentials,
    maxPerCredentialPerLifetime: maxPerLifetime,
    maxInOneSecond: bucket(1_000),
    maxInOneMinute: bucket(60_000),
    expiredServed,
  };
}

if (import.meta.main) console.log(await simulateRefresh());
