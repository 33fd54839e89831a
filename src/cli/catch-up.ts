/*
 * While a live view catches up (replay after connecting or reconnecting), what it would
 * print goes here instead; once it has caught up, only the last lines are printed, with a
 * note of how many were left out. A long run thus costs the terminal a screenful, not
 * thousands of lines it would scroll past.
 */

export class CatchUpBuffer {
  private chunks: string[] = [];
  /** Newlines in `chunks`. */
  private lines = 0;
  /** Lines dropped from the front so far. */
  private dropped = 0;

  constructor(private readonly keepLines: number) {}

  add(text: string): void {
    if (!text) return;
    this.chunks.push(text);
    this.lines += countNewlines(text);
    // Trim once twice the kept amount piled up, so each line is handled O(1) times.
    if (this.lines > this.keepLines * 2) this.trim();
  }

  /** The last lines to print now, and how many lines before them were left out. */
  flush(): { text: string; dropped: number } {
    this.trim();
    const out = { text: this.chunks.join(""), dropped: this.dropped };
    this.chunks = [];
    this.lines = 0;
    this.dropped = 0;
    return out;
  }

  private trim(): void {
    if (this.lines <= this.keepLines) return;
    const text = this.chunks.join("");
    let cut = 0;
    let excess = this.lines - this.keepLines;
    while (excess > 0) {
      cut = text.indexOf("\n", cut) + 1;
      excess--;
    }
    this.dropped += this.lines - this.keepLines;
    this.chunks = [text.slice(cut)];
    this.lines = this.keepLines;
  }
}

function countNewlines(text: string): number {
  let count = 0;
  for (let index = text.indexOf("\n"); index >= 0; index = text.indexOf("\n", index + 1)) count++;
  return count;
}
