import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ItemList } from "../../../web/src/session/item-list.ts";
import type { Item } from "../../../web/src/session/items.ts";

const text = (key: string, value = key): Item => ({
  kind: "assistant",
  key,
  messageId: null,
  text: value,
  streaming: false,
});
const error = (key: string, message: string): Item => ({
  kind: "error",
  key,
  title: "Failed",
  message,
});
const keys = (list: ItemList) => list.items.map((item) => item.key);

describe("ItemList", () => {
  it("appends each key once, swaps a changed item in place, and marks where turns begin", () => {
    const list = new ItemList();
    assert.equal(list.push(text("a")), true);
    assert.equal(list.push(text("a", "again")), false);
    list.push(text("b"));
    list.turnOpen = true;
    list.push(text("c"));
    const before = list.items;
    assert.equal(list.replace(text("b", "B")), true);
    assert.equal(list.replace(text("zz")), false);
    assert.equal(list.items, before, "the array grows and changes in place");
    assert.equal(list.get("b")?.kind === "assistant" && list.get("b")?.key, "b");
    assert.deepEqual(keys(list), ["a", "b", "c"]);
    assert.deepEqual(list.turnStarts, ["a", "c"]);
  });

  it("shows a failure reported twice in a row with the same words once", () => {
    const list = new ItemList();
    list.push(error("x", "disk full"));
    assert.equal(list.push(error("y", "disk full")), false);
    assert.equal(list.push(error("z", "other")), true);
  });

  it("re-keys an item (a turn's start too) and removes one", () => {
    const list = new ItemList();
    list.push(text("a"));
    list.turnOpen = true;
    list.push(text("stream"));
    list.rekey("stream", "message");
    list.replace(text("message"));
    assert.deepEqual(keys(list), ["a", "message"]);
    assert.deepEqual(list.turnStarts, ["a", "message"]);
    assert.equal(list.remove("a"), true);
    assert.deepEqual(keys(list), ["message"]);
    assert.equal(list.get("message")?.key, "message", "the index follows the removal");
  });

  it("joins an older list on in front, dropping what it now holds, and counts what was gained", () => {
    const newer = new ItemList();
    newer.push(text("orphan-result"));
    newer.push(text("n1"));
    const older = new ItemList();
    older.push(text("o1"));
    older.push(text("o2"));
    // The older list ends mid-turn: the newer list's first item does not begin a turn.
    assert.equal(newer.joinFront(older, new Set(["orphan-result"])), 1);
    assert.deepEqual(keys(newer), ["o1", "o2", "n1"]);
    assert.deepEqual(newer.turnStarts, ["o1"]);
    assert.equal(newer.get("n1")?.key, "n1");
  });
});
