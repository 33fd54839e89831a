import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CatchUpBuffer } from "../../src/cli/catch-up.ts";

describe("CatchUpBuffer", () => {
  it("keeps the last lines and counts the ones it left out", () => {
    const buffer = new CatchUpBuffer(3);
    for (let line = 1; line <= 10; line++) buffer.add(`line ${line}\n`);
    buffer.add("partial ");
    buffer.add("end\n");
    assert.deepEqual(buffer.flush(), { text: "line 9\nline 10\npartial end\n", dropped: 8 });
    assert.deepEqual(buffer.flush(), { text: "", dropped: 0 });
  });

  it("leaves short output whole", () => {
    const buffer = new CatchUpBuffer(5);
    buffer.add("a\nb\n");
    assert.deepEqual(buffer.flush(), { text: "a\nb\n", dropped: 0 });
  });
});
