import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type ScriptedModel, startScriptedModel } from "../../src/model/server.ts";
import { messageFrame, TestChannelServer } from "./channel-server.ts";
import { findIndex, ofType, startWorker, type WorkerFixture } from "./worker-fixture.ts";

/*
 * The whole worker (channel client, SDK session, real Claude Code CLI, real tools) against
 * the scripted model and a test server playing the worker channel. Waits on events only.
 */
describe("worker end to end (scripted model)", () => {
  let model: ScriptedModel;

  before(async () => {
    model = await startScriptedModel({ defaultScenario: "demo" });
  });
  after(async () => {
    await model.close();
  });

  async function withWorker(
    prompt: string | null,
    body: (server: TestChannelServer, fixture: WorkerFixture) => Promise<void>,
    modelUrl = model.url,
  ) {
    const server = await TestChannelServer.start();
    const fixture = await startWorker(server, { url: modelUrl }, { prompt });
    try {
      await body(server, fixture);
    } finally {
      await fixture.cleanup();
      await server.close();
    }
  }

  it("streams a turn in order, and a steered message is injected and answered", async () => {
    await withWorker("Set up the demo workspace.", async (server, fixture) => {
      const events = server.stored;
      await server.until(() => findIndex(events, ofType("agent.tool_result")) >= 0, "tool result");
      server.push(messageFrame("msg-steer", "Please create a file named steered.txt"));
      await server.until(
        () =>
          events.some(
            (event) =>
              event.event_type === "agent.message" &&
              String(event.payload.content).includes("Done: I created `steered.txt`"),
          ),
        "answer to the steered message",
      );
      const started = findIndex(events, ofType("agent.started"));
      const thinking = findIndex(events, ofType("agent.thinking"), started);
      const toolUse = findIndex(events, ofType("agent.tool_use"), thinking);
      const toolResult = findIndex(events, ofType("agent.tool_result"), toolUse);
      const message = findIndex(events, ofType("agent.message"), toolResult);
      const injected = findIndex(events, ofType("agent.message_injected"));
      const answer = findIndex(
        events,
        (event) =>
          ofType("agent.message")(event) && String(event.payload.content).includes("steered.txt"),
        injected,
      );
      assert.ok(started === 0, "agent.started comes first");
      assert.ok(thinking > started && toolUse > thinking && toolResult > toolUse);
      assert.ok(message > toolResult, "a message follows the tool result");
      assert.ok(injected > 0 && answer > injected, "the answer follows the injection");
      assert.equal(events[started].payload.scripted_model, true);
      assert.deepEqual(
        {
          id: events[injected].payload.message_id,
          type: events[injected].payload.message_type,
          content: events[injected].payload.content,
        },
        {
          id: "msg-steer",
          type: "user_message",
          content: "Please create a file named steered.txt",
        },
      );
      await server.until(() => server.delivered.includes("msg-steer"), "delivered");
      assert.ok(existsSync(join(fixture.workspace, "steered.txt")));
      const edit = events.find(
        (event) => event.event_type === "agent.file_edited" && event.payload.path === "steered.txt",
      );
      assert.match(String(edit?.payload.diff), /^\+Created by Omoi's scripted model/m);
      assert.ok(events.some(ofType("agent.message_delta")), "partial text streamed");
      const seqs = events.map((event) => event.seq);
      assert.deepEqual(
        seqs,
        seqs.map((_, index) => index + 1),
      );

      server.sendFrame({ type: "stop", reason: "test asks to stop" });
      assert.equal(await fixture.worker.done, 0);
      const last = events.at(-1);
      assert.equal(last?.event_type, "agent.completed");
      assert.equal(last?.payload.reason, "test asks to stop");
    });
  });

  it("interrupts a slow tool, keeps the session, and answers a later message", async () => {
    await withWorker("[scenario:slow-tool] run the slow job", async (server) => {
      const events = server.stored;
      await server.until(
        () =>
          events.some((event) => ofType("agent.tool_use")(event) && event.payload.tool === "Bash"),
        "slow Bash step",
      );
      server.push(messageFrame("msg-int", "", { message_type: "interrupt" }));
      await server.until(() => events.some(ofType("agent.waiting")), "waiting after interrupt");
      const interrupted = findIndex(events, ofType("agent.interrupted"));
      assert.ok(interrupted > 0);
      assert.equal(events[interrupted].payload.message_id, "msg-int");
      assert.ok(
        events.some(
          (event) =>
            ofType("agent.message_injected")(event) && event.payload.message_id === "msg-int",
        ),
      );
      assert.equal(
        events.some(
          (event) =>
            ofType("agent.message")(event) &&
            String(event.payload.content).includes("slow job finished"),
        ),
        false,
        "the interrupted turn did not run to its end",
      );
      server.push(messageFrame("msg-after", "are you still there?"));
      await server.until(
        () =>
          events.some(
            (event) =>
              ofType("agent.message")(event) &&
              String(event.payload.content).includes("are you still there?"),
          ),
        "answer after the interrupt",
      );
    });
  });

  it("holds a queued message until the turn's result", async () => {
    await withWorker("[scenario:slow-tool] run the slow job", async (server) => {
      const events = server.stored;
      await server.until(
        () =>
          events.some((event) => ofType("agent.tool_use")(event) && event.payload.tool === "Bash"),
        "slow Bash step",
      );
      server.push(messageFrame("msg-queued", "what next?", { delivery: "queue" }));
      await server.until(
        () =>
          events.some(
            (event) =>
              ofType("agent.message")(event) &&
              String(event.payload.content).includes("what next?"),
          ),
        "answer to the queued message",
      );
      const firstTurn = findIndex(events, ofType("agent.turn_completed"));
      const injected = findIndex(events, ofType("agent.message_injected"));
      assert.ok(firstTurn > 0 && injected > firstTurn, "injected only after the first turn ended");
      assert.ok(findIndex(events, ofType("agent.message"), 0) < firstTurn);
    });
  });

  it("fails clearly when the model endpoint answers 500", async () => {
    await withWorker("[scenario:fail-server-error] go", async (server, fixture) => {
      assert.equal(await fixture.worker.done, 1);
      await server.until(() => server.stored.some(ofType("agent.failed")), "agent.failed");
      const failed = server.stored.find(ofType("agent.failed"));
      assert.equal(failed?.payload.reason, "model_error");
      assert.match(String(failed?.payload.error), /HTTP 500/);
      assert.ok(server.stored.some(ofType("agent.error")));
    });
  });

  it("fails clearly when nothing listens at the model endpoint", async () => {
    const closed = await startScriptedModel({ defaultScenario: "quick" });
    const url = closed.url;
    await closed.close();
    await withWorker(
      "hello",
      async (server, fixture) => {
        await server.until(
          () => server.stored.some((event) => event.payload.code === "model_unreachable"),
          "prompt agent.error",
        );
        assert.equal(await fixture.worker.done, 1);
        const failed = server.stored.find(ofType("agent.failed"));
        assert.equal(failed?.payload.reason, "model_unreachable");
        assert.match(String(failed?.payload.error), /unreachable/);
      },
      url,
    );
  });
});
