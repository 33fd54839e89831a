/**
 * Capped exponential backoff with full jitter: attempt n waits a random time in
 * [base·2ⁿ/2, base·2ⁿ], capped. Jitter keeps 100 workers from reconnecting in lockstep
 * after a server restart.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs = 100,
    private readonly maxMs = 5_000,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
