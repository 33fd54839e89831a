/**
 * Group commit: appends that arrive while the store's commits are busy wait and then go
 * into one transaction together, whatever stream or caller they come from. Under light load
 * an append starts at once; under heavy load the number of transactions, and with them
 * the round trips and fsyncs, stays near `maxInFlight` no matter how many callers there are.
 *
 * A group that fails for a reason other than a retryable race is split: each caller's
 * events are then stored on their own, so one caller's bad input never fails another's.
 */
export class GroupCommit<In, Out> {
  private readonly queue: Array<{
    items: In[];
    resolve: (results: Out[]) => void;
    reject: (error: unknown) => void;
  }> = [];
  private inFlight = 0;

  constructor(
    /** Stores the items in one transaction; returns one result per item, in order. */
    private readonly commit: (items: In[]) => Promise<Out[]>,
    private readonly options: { maxInFlight: number; maxItems: number },
  ) {}

  add(items: In[]): Promise<Out[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const group = [this.queue.shift()!];
      let size = group[0].items.length;
      while (this.queue.length > 0 && size + this.queue[0].items.length <= this.options.maxItems) {
        const next = this.queue.shift()!;
        size += next.items.length;
        group.push(next);
      }
      this.inFlight++;
      void this.run(group).finally(() => {
        this.inFlight--;
        this.drain();
      });
    }
  }

  private async run(group: typeof this.queue): Promise<void> {
    if (group.length === 1) {
      const [only] = group;
      await this.commit(only.items).then(only.resolve, only.reject);
      return;
    }
    let results: Out[];
    try {
      results = await this.commit(group.flatMap((entry) => entry.items));
    } catch {
      // Split: each caller alone, so the error reaches only the caller whose events cause it.
      await Promise.all(
        group.map((entry) => this.commit(entry.items).then(entry.resolve, entry.reject)),
      );
      return;
    }
    let offset = 0;
    for (const entry of group) {
      entry.resolve(results.slice(offset, offset + entry.items.length));
      offset += entry.items.length;
    }
  }
}
