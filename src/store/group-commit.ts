/**
 * Group commit: appends that arrive while the store's commits are busy wait and then go
 * into one transaction together, whatever stream or caller they come from. Under light load
 * an append starts at once; under heavy load the number of transactions, and with them
 * the round trips and fsyncs, stays near `maxInFlight` no matter how many callers there are.
 *
 * A synchronous store (SQLite) is never busy between two callers, so with `gatherTurn` an
 * append instead waits for the end of the event loop's current turn: every frame and request
 * read from the sockets in that turn shares one transaction.
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
  private gathering: NodeJS.Immediate | undefined;
  /** Settles when the latest group has answered its callers. */
  private answered: Promise<void> = Promise.resolve();

  constructor(
    /** Stores the items in one transaction; returns one result per item, in order. */
    private readonly commit: (items: In[]) => Promise<Out[]>,
    private readonly options: { maxInFlight: number; maxItems: number; gatherTurn?: boolean },
  ) {}

  add(items: In[]): Promise<Out[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      if (!this.options.gatherTurn) this.drain();
      else this.gathering ??= setImmediate(() => this.drainGathered());
    });
  }

  /** Starts what is waiting for the turn's end now, and settles when every caller is answered. */
  async flush(): Promise<void> {
    if (this.gathering) {
      clearImmediate(this.gathering);
      this.drainGathered();
    }
    await this.answered;
  }

  private drainGathered(): void {
    this.gathering = undefined;
    this.drain();
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
      this.answered = this.run(group, this.answered, () => {
        this.inFlight--;
        this.drain();
      });
    }
  }

  /**
   * Commits a group, frees its slot, then answers its callers once every earlier group has
   * answered its own. Groups that append to one stream usually commit in start order (its
   * counter row's lock), but their replies may reach us in either order; answering in start
   * order keeps callers, and what they publish, in that order. (Viewers reorder by seq in
   * any case; this only spares them the work.)
   */
  private async run(
    group: typeof this.queue,
    earlier: Promise<void>,
    committed: () => void,
  ): Promise<void> {
    let outcomes: PromiseSettledResult<Out[]>[];
    try {
      const results = await this.commit(group.flatMap((entry) => entry.items));
      let offset = 0;
      outcomes = group.map((entry) => {
        const value = results.slice(offset, offset + entry.items.length);
        offset += entry.items.length;
        return { status: "fulfilled", value };
      });
    } catch (error) {
      // Split: each caller alone, one after another, so the error reaches only the caller
      // whose items cause it.
      outcomes = [];
      if (group.length === 1) outcomes.push({ status: "rejected", reason: error });
      else {
        for (const entry of group) {
          outcomes.push(
            await this.commit(entry.items).then(
              (value) => ({ status: "fulfilled", value }) as const,
              (reason: unknown) => ({ status: "rejected", reason }) as const,
            ),
          );
        }
      }
    }
    committed();
    await earlier;
    group.forEach((entry, index) => {
      const outcome = outcomes[index];
      if (outcome.status === "fulfilled") entry.resolve(outcome.value);
      else entry.reject(outcome.reason);
    });
  }
}
