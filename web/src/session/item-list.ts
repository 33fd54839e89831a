import type { Item } from "./items.ts";

/*
 * The conversation's items in order, with an index by key, and the keys of the items that
 * begin a turn. Appending, swapping an item and re-keying one are O(1); `items` grows in place
 * and a changed item is a new object at its index, so memoized rows re-render only when their
 * item changed. Removing one (rare) and joining an older list on in front are O(n).
 */
export class ItemList {
  items: Item[] = [];
  /** Keys of the items that begin a turn (the first item, and the first after each turn's end). */
  turnStarts: string[] = [];
  /** The next item pushed begins a turn. */
  turnOpen = true;
  private readonly indexByKey = new Map<string, number>();

  get(key: string | null | undefined): Item | undefined {
    if (!key) return undefined;
    const index = this.indexByKey.get(key);
    return index === undefined ? undefined : this.items[index];
  }

  /** Appends the item, unless one with its key is there already. False when nothing changed. */
  push(item: Item): boolean {
    if (this.indexByKey.has(item.key)) return false;
    // One failure often arrives as agent.failed, then sandbox.failed with the same words.
    const previous = this.items.at(-1);
    if (item.kind === "error" && previous?.kind === "error" && previous.message === item.message) return false;
    this.indexByKey.set(item.key, this.items.length);
    this.items.push(item);
    if (this.turnOpen) {
      this.turnStarts.push(item.key);
      this.turnOpen = false;
    }
    return true;
  }

  /** Puts a new version of an item where the item with its key is. False when there is none. */
  replace(item: Item): boolean {
    const index = this.indexByKey.get(item.key);
    if (index === undefined) return false;
    this.items[index] = item;
    return true;
  }

  /** Gives the item at `from` the key `to` (the caller replaces it with one that carries it). */
  rekey(from: string, to: string): void {
    const index = this.indexByKey.get(from);
    if (index === undefined) return;
    this.indexByKey.delete(from);
    this.indexByKey.set(to, index);
    // Only the latest turn can start with a message that is still streaming.
    if (this.turnStarts.at(-1) === from) this.turnStarts[this.turnStarts.length - 1] = to;
  }

  remove(key: string): boolean {
    const index = this.indexByKey.get(key);
    if (index === undefined) return false;
    this.items.splice(index, 1);
    this.turnStarts = this.turnStarts.filter((start) => start !== key);
    this.reindex();
    return true;
  }

  /**
   * Joins an older list (every item older than these) on in front, leaving out `drop` (items
   * of ours that the older list now holds). Returns how many items were gained at the top.
   */
  joinFront(older: ItemList, drop: ReadonlySet<string>): number {
    const before = this.items.length;
    const newer = drop.size ? this.items.filter((item) => !drop.has(item.key)) : this.items;
    const starts = this.turnStarts.filter((key) => !drop.has(key));
    // The first loaded item was only taken for a turn's start; the older list says whether it is.
    if (starts[0] === newer[0]?.key && !older.turnOpen) starts.shift();
    this.items = older.items.concat(newer);
    this.turnStarts = [...older.turnStarts, ...starts];
    this.reindex();
    return this.items.length - before;
  }

  private reindex(): void {
    this.indexByKey.clear();
    for (const [index, item] of this.items.entries()) this.indexByKey.set(item.key, index);
  }
}
