import type { Cursors } from "../protocol/viewer.ts";

/*
 * Where a viewer stands in each stream: the last seq taken in (`stream_id` → `seq`). An event
 * at or below it is a replay overlap or a duplicate and is dropped; a run of seqs that compact
 * replay passed over (`skipped`) moves the cursor past it and is counted, so whoever counts
 * what the viewer took in gets the same figure whether those events came live or were passed
 * over on a later replay.
 */
export class StreamCursors {
  private readonly last: Cursors = {};

  /** True when the event is new for its stream (the cursor moves to it); false for a repeat. */
  accept(stream: string, seq: number): boolean {
    if (seq <= (this.last[stream] ?? 0)) return false;
    this.last[stream] = seq;
    return true;
  }

  /**
   * Moves past seqs `from`..`to` of a stream that replay passed over. Returns how many of
   * them were new (those at or below the cursor were taken in already).
   */
  pass(stream: string, from: number, to: number): number {
    const last = this.last[stream] ?? 0;
    if (to <= last) return 0;
    this.last[stream] = to;
    return to - Math.max(last, from - 1);
  }

  /** The last seq taken in of a stream (0 before any). */
  at(stream: string): number {
    return this.last[stream] ?? 0;
  }

  /** Whether the viewer knows where this stream stands (it took in an event, or was told its start). */
  has(stream: string): boolean {
    return this.last[stream] !== undefined;
  }

  /** Where the server says a stream starts on this connection, for a stream not yet held. */
  start(stream: string, seq: number): void {
    this.last[stream] ??= seq;
  }

  get size(): number {
    return Object.keys(this.last).length;
  }

  snapshot(): Cursors {
    return { ...this.last };
  }
}
