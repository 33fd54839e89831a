import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GroupCommit } from "../../src/store/group-commit.ts";

/** A commit that records each transaction's items and can be held open or made to fail. */
function recorder(options: { failOn?: number } = {}) {
  const transactions: number[][] = [];
  let release: () => void = () => {};
  let held = Promise.resolve();
  return {
    transactions,
    hold() {
      held = new Promise((resolve) => {
        release = resolve;
      });
    },
    release: () => release(),
    commit: async (items: number[]) => {
      transactions.push(items);
      await held;
      if (options.failOn !== undefined && items.includes(options.failOn)) {
        throw new Error(`cannot store ${options.failOn}`);
      }
      return items.map((item) => item * 10);
    },
  };
}

describe("GroupCommit", () => {
  it("starts at once when idle and groups what arrives while a commit is busy", async () => {
    const store = recorder();
    const group = new GroupCommit(store.commit, { maxInFlight: 1, maxItems: 100 });
    store.hold();
    const first = group.add([1]);
    const waiting = [group.add([2, 3]), group.add([4]), group.add([5, 6])];
    store.release();
    assert.deepEqual(await first, [10]);
    assert.deepEqual(await Promise.all(waiting), [[20, 30], [40], [50, 60]]);
    assert.deepEqual(store.transactions, [[1], [2, 3, 4, 5, 6]]);
  });

  it("keeps a group within maxItems and never splits one caller's items", async () => {
    const store = recorder();
    const group = new GroupCommit(store.commit, { maxInFlight: 1, maxItems: 3 });
    store.hold();
    const all = [group.add([1]), group.add([2, 3]), group.add([4]), group.add([5, 6, 7, 8])];
    store.release();
    await Promise.all(all);
    assert.deepEqual(store.transactions, [[1], [2, 3, 4], [5, 6, 7, 8]]);
  });

  it("fails only the caller whose items fail, and stores the others", async () => {
    const store = recorder({ failOn: 4 });
    const group = new GroupCommit(store.commit, { maxInFlight: 1, maxItems: 100 });
    store.hold();
    const first = group.add([1]);
    const good = group.add([2, 3]);
    const bad = group.add([4]);
    const alsoGood = group.add([5]);
    store.release();
    assert.deepEqual(await first, [10]);
    assert.deepEqual(await good, [20, 30]);
    await assert.rejects(bad, /cannot store 4/);
    assert.deepEqual(await alsoGood, [50]);
  });

  it("answers groups in the order they started, even when a later one commits first", async () => {
    const finish = new Map<number, () => void>();
    const commit = (items: number[]) =>
      new Promise<number[]>((resolve) => finish.set(items[0], () => resolve(items)));
    const group = new GroupCommit(commit, { maxInFlight: 2, maxItems: 100 });
    const answered: number[] = [];
    const first = group.add([1]).then(() => answered.push(1));
    const second = group.add([2]).then(() => answered.push(2));
    finish.get(2)!();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(answered, [], "the second waits for the first");
    finish.get(1)!();
    await Promise.all([first, second]);
    assert.deepEqual(answered, [1, 2]);
  });

  it("answers an empty add without a transaction", async () => {
    const store = recorder();
    const group = new GroupCommit(store.commit, { maxInFlight: 1, maxItems: 10 });
    assert.deepEqual(await group.add([]), []);
    assert.equal(store.transactions.length, 0);
  });

  it("with gatherTurn, stores what arrives in one turn of the event loop together", async () => {
    const store = recorder();
    const group = new GroupCommit(store.commit, {
      maxInFlight: 1,
      maxItems: 100,
      gatherTurn: true,
    });
    // Three callers in one turn (as frames read from several sockets at once), one in the next.
    const sameTurn = [group.add([1]), group.add([2, 3]), group.add([4])];
    assert.deepEqual(store.transactions, [], "nothing is stored before the turn ends");
    assert.deepEqual(await Promise.all(sameTurn), [[10], [20, 30], [40]]);
    assert.deepEqual(await group.add([5]), [50]);
    assert.deepEqual(store.transactions, [[1, 2, 3, 4], [5]]);
  });

  it("with gatherTurn, flush stores what waits at once and answers every caller", async () => {
    const store = recorder();
    const group = new GroupCommit(store.commit, {
      maxInFlight: 1,
      maxItems: 100,
      gatherTurn: true,
    });
    const waiting = group.add([1, 2]);
    await group.flush();
    assert.deepEqual(store.transactions, [[1, 2]]);
    assert.deepEqual(await waiting, [10, 20]);
  });
});
