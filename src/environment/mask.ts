/**
 * Masks secret values in what leaves the sandbox: setup output, tool output, messages. A value
 * shorter than MIN_MASKED is not masked (it would mask ordinary words); such secrets are named
 * in docs/environments.md as a risk the operator takes.
 */
export const MIN_MASKED = 4;
export const MASK = "••••••";

export class SecretMask {
  private readonly values: string[];

  constructor(secrets: Iterable<string>) {
    // Longest first, so a secret containing another is masked whole.
    this.values = [...new Set(secrets)]
      .filter((value) => value.length >= MIN_MASKED)
      .sort((a, b) => b.length - a.length);
  }

  get empty(): boolean {
    return this.values.length === 0;
  }

  text(text: string): string {
    let masked = text;
    for (const value of this.values) {
      if (masked.includes(value)) masked = masked.split(value).join(MASK);
    }
    return masked;
  }

  /** Masks every string inside a JSON-like value (keys included), returning a copy. */
  value<T>(value: T): T {
    if (this.values.length === 0) return value;
    return this.walk(value) as T;
  }

  private walk(value: unknown): unknown {
    if (typeof value === "string") return this.text(value);
    if (Array.isArray(value)) return value.map((item) => this.walk(item));
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [this.text(key), this.walk(item)]),
      );
    }
    return value;
  }
}
