// A secret is a value that prints as [redacted] however it is printed: String(), template
// literals, JSON.stringify, console.log / Bun.inspect. Only reveal() gives the value, so every
// place that lets a secret out is a grep for "reveal(".
const inspect = Symbol.for("nodejs.util.inspect.custom");
const REDACTED = "[redacted]";

export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  equals(other: Secret): boolean {
    return this.#value === other.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect](): string {
    return REDACTED;
  }
  [Symbol.toPrimitive](): string {
    return REDACTED;
  }
}
