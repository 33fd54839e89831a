import { OmoiError } from "../protocol/error.ts";

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per caller: `perMinute` requests at once, refilled evenly over a minute.
 * Remembers the most recent `maxCallers` callers; the oldest is forgotten first.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly perMinute: number,
    private readonly what: string,
    private readonly maxCallers = 10_000,
  ) {}

  /** Takes one request for `caller`, or throws a 429 saying when to try again. */
  take(caller: string, now = Date.now()) {
    if (this.perMinute <= 0) return;
    const ratePerMs = this.perMinute / 60_000;
    const bucket = this.buckets.get(caller) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * ratePerMs);
    bucket.at = now;
    // Re-inserted, so the Map's order is least recently seen first.
    this.buckets.delete(caller);
    this.buckets.set(caller, bucket);
    if (this.buckets.size > this.maxCallers) this.buckets.delete(this.buckets.keys().next().value!);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return;
    }
    const retryAfterS = Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerMs / 1000));
    throw new OmoiError(
      "RateLimited",
      `more than ${this.perMinute} ${this.what} a minute from this caller; try again in ${retryAfterS} s`,
      429,
      { limit_per_minute: this.perMinute, retry_after_s: retryAfterS },
    );
  }
}
