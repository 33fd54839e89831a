import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SetupItem } from "../../../web/src/session/items.ts";
import { foldSetup, SETUP_LINES_KEPT } from "../../../web/src/session/setup-log.ts";

const lines = (from: number, count: number) =>
  Array.from({ length: count }, (_, index) => ({ stream: "stdout", text: `line ${from + index}` }));

describe("foldSetup", () => {
  it("opens a log, adds lines (stderr kept apart, junk left out), and closes it with how it ended", () => {
    const started = foldSetup(null, "s:1", "environment.setup_started", {
      environment: "node",
      network: "full",
    });
    assert.equal(started.isNew, true);
    assert.deepEqual(
      [started.item.environment, started.item.network, started.item.finished],
      ["node", "full", false],
    );
    const output = foldSetup(started.item, "s:2", "environment.setup_output", {
      lines: [{ stream: "stderr", text: "warn" }, { text: "ok" }, "junk", { stream: "stdout" }],
    });
    assert.equal(output.isNew, false);
    assert.equal(output.item.key, "s:1");
    assert.deepEqual(output.item.lines, [
      { stream: "stderr", text: "warn" },
      { stream: "stdout", text: "ok" },
    ]);
    const finished = foldSetup(output.item, "s:3", "environment.setup_finished", {
      exit_code: 1,
      duration_ms: 1200,
      error: "setup failed",
      tail: ["ok", 3],
    });
    assert.deepEqual(
      [
        finished.item.finished,
        finished.item.exitCode,
        finished.item.durationMs,
        finished.item.error,
      ],
      [true, 1, 1200, "setup failed"],
    );
    assert.deepEqual(finished.item.tail, ["ok"]);
    assert.equal(
      started.item.lines.length,
      0,
      "each step is a new object: the earlier one is unchanged",
    );
  });

  it("keeps the newest lines and counts the ones it lets go", () => {
    let item: SetupItem = foldSetup(null, "s:1", "environment.setup_started", {}).item;
    item = foldSetup(item, "s:2", "environment.setup_output", {
      lines: lines(1, SETUP_LINES_KEPT),
    }).item;
    item = foldSetup(item, "s:3", "environment.setup_output", {
      lines: lines(SETUP_LINES_KEPT + 1, 5),
    }).item;
    assert.equal(item.lines.length, SETUP_LINES_KEPT);
    assert.equal(item.dropped, 5);
    assert.equal(item.lines[0].text, "line 6");
    assert.equal(item.lines.at(-1)?.text, `line ${SETUP_LINES_KEPT + 5}`);
  });

  it("output with no open log (its start is in history not loaded) begins a log of its own", () => {
    const finished = foldSetup(null, "s:1", "environment.setup_started", {});
    const closed = foldSetup(finished.item, "s:2", "environment.setup_finished", {
      exit_code: 0,
    }).item;
    const orphan = foldSetup(closed, "s:9", "environment.setup_output", { lines: lines(1, 1) });
    assert.equal(orphan.isNew, true);
    assert.equal(orphan.item.key, "s:9");
    assert.equal(orphan.item.lines.length, 1);
  });
});
