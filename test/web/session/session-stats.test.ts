import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addOlder, addTurn, newStats, totalCost } from "../../../web/src/session/session-stats.ts";

describe("session stats", () => {
  it("a finished turn adds its turns and tokens (cache reads and writes are input) and sets its stream's cost", () => {
    const stats = newStats(0);
    const usage = {
      input_tokens: 10,
      cache_read_input_tokens: 5,
      cache_creation_input_tokens: 2,
      output_tokens: 7,
    };
    addTurn(stats, "a", { num_turns: 2, usage, cost_usd: 0.5 });
    addTurn(stats, "a", { num_turns: 1, usage: { output_tokens: 1 }, cost_usd: 0.75 });
    addTurn(stats, "b", { num_turns: "3", usage: "x", cost_usd: 0.25 });
    assert.deepEqual([stats.turns, stats.inputTokens, stats.outputTokens], [3, 17, 8]);
    assert.equal(totalCost(stats), 1, "each stream's running total counts once");
    assert.equal(stats.activity, "waiting");
  });

  it("an older page adds its counts; the newer running cost, model and directory win", () => {
    const stats = newStats(0);
    stats.eventsReceived = 10;
    stats.costByStream.a = 2;
    stats.model = "new";
    const older = newStats(0);
    older.eventsReceived = 90;
    older.turns = 4;
    older.costByStream = { a: 1, b: 0.5 };
    older.model = "old";
    older.cwd = "/work";
    addOlder(stats, older);
    assert.deepEqual(
      [stats.eventsReceived, stats.turns, stats.model, stats.cwd],
      [100, 4, "new", "/work"],
    );
    assert.deepEqual(stats.costByStream, { a: 2, b: 0.5 });
  });
});
