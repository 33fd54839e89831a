/**
 * Capped exponential backoff with equal jitter, the one used by every reconnecting client
 * (workers, the CLI, the web app): the n-th retry (n ≥ 1) waits a random time in [c/2, c],
 * where c = min(max, base·2ⁿ⁻¹). Jitter keeps 100 workers from reconnecting in lockstep
 * after a server restart; the lower half keeps a retry from coming at once.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  if (attempt <= 0) return 0;
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The same backoff, counting attempts itself until `reset()`. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs = 100,
    private readonly maxMs = 5_000,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    this.attempt = Math.min(this.attempt + 1, 31);
    return backoffDelay(this.attempt, { baseMs: this.baseMs, maxMs: this.maxMs }, this.random);
  }

  reset(): void {
    this.attempt = 0;
  }
}
