import assert from "node:assert/strict";
import { test } from "node:test";
import { MASK, SecretMask } from "../../src/environment/mask.ts";

test("every occurrence of every secret is masked, in text and inside payloads", () => {
  const mask = new SecretMask(["hunter2-long", "hunter2-long-and-longer", "abc"]);
  assert.equal(mask.text("a hunter2-long-and-longer b"), `a ${MASK} b`, "longest first");
  assert.equal(mask.text("hunter2-long/hunter2-long"), `${MASK}/${MASK}`);
  assert.equal(mask.text("abc stays: too short to mask"), "abc stays: too short to mask");
  assert.deepEqual(
    mask.value({ output: "x hunter2-long", nested: [{ "hunter2-long": 1 }], n: 3, ok: true }),
    { output: `x ${MASK}`, nested: [{ [MASK]: 1 }], n: 3, ok: true },
  );
  assert.equal(new SecretMask([]).empty, true);
});
