import assert from "node:assert/strict";
import { describe, test } from "node:test";
import WebSocket from "ws";
import { workerToken } from "../../src/server/worker-token.ts";
import { forEachBackend } from "../helpers/backends.ts";
import { api, type TestOmoi } from "../helpers/omoi.ts";
import { TestViewer } from "../helpers/viewer.ts";

let omoi: TestOmoi;
const SANDBOX = "sandbox-bad-input";
const WORKER_SECRET = "bad-input-test-secret-0123456789";

async function storedCount(): Promise<number> {
  const response = await api<{ events: unknown[] }>(
    omoi.url,
    "GET",
    `/api/v1/sandboxes/${SANDBOX}/events?limit=1000`,
  );
  return response.body.events.length;
}

// Every test below runs on both backends.
forEachBackend(
  "bad input",
  { OMOI_RUN_AGENTS: "0", OMOI_BODY_LIMIT_BYTES: "65536", OMOI_SECRET: WORKER_SECRET },
  async (started) => {
    omoi = started;
    assert.equal((await api(omoi.url, "POST", "/api/v1/sandboxes", { id: SANDBOX })).status, 201);
  },
  () => {
    describe("bad input gets a clear 4xx and stores nothing", () => {
      const cases: [string, string, string, unknown, number, RegExp][] = [
        [
          "malformed JSON",
          "POST",
          `/api/v1/sandboxes/${SANDBOX}/events`,
          '{"event_type": ',
          400,
          /malformed JSON/,
        ],
        [
          "wrong type of event_type",
          "POST",
          `/api/v1/sandboxes/${SANDBOX}/events`,
          { event_type: 42 },
          400,
          /event_type/,
        ],
        [
          "unknown event_type",
          "POST",
          `/api/v1/sandboxes/${SANDBOX}/events`,
          { event_type: "agent.dance" },
          400,
          /unknown event_type 'agent.dance'/,
        ],
        [
          "missing event_type",
          "POST",
          `/api/v1/sandboxes/${SANDBOX}/events`,
          { payload: {} },
          400,
          /event_type/,
        ],
        [
          "payload not an object",
          "POST",
          `/api/v1/sandboxes/${SANDBOX}/events`,
          { event_type: "agent.message", payload: "hi" },
          400,
          /payload/,
        ],
        [
          "payload field of the wrong type",
          "POST",
          `/api/v1/sandboxes/${SANDBOX}/events`,
          { event_type: "agent.tool_use", payload: { tool: 7 } },
          400,
          /agent.tool_use: payload.tool/,
        ],
        [
          "unknown field",
          "POST",
          `/api/v1/sandboxes/${SANDBOX}/events`,
          { event_type: "agent.message", colour: "red" },
          400,
          /colour/,
        ],
        [
          "bad event id",
          "POST",
          `/api/v1/sandboxes/${SANDBOX}/events`,
          { id: "not-a-uuid", event_type: "agent.message" },
          400,
          /id/,
        ],
        [
          "a batch with one bad event",
          "POST",
          `/api/v1/sandboxes/${SANDBOX}/events`,
          [{ event_type: "agent.message" }, { event_type: "nope" }],
          400,
          /events\[1\]/,
        ],
        ["an empty batch", "POST", `/api/v1/sandboxes/${SANDBOX}/events`, [], 400, /at least one/],
        [
          "unknown sandbox",
          "POST",
          "/api/v1/sandboxes/no-such-sandbox/events",
          { event_type: "agent.message" },
          404,
          /sandbox 'no-such-sandbox' not found/,
        ],
        [
          "malformed sandbox id",
          "POST",
          "/api/v1/sandboxes/bad%20id!/events",
          { event_type: "agent.message" },
          400,
          /sandbox id/,
        ],
        [
          "bad after_seq",
          "GET",
          `/api/v1/sandboxes/${SANDBOX}/events?after_seq=-1`,
          undefined,
          400,
          /after_seq/,
        ],
        [
          "bad limit",
          "GET",
          `/api/v1/sandboxes/${SANDBOX}/events?limit=abc`,
          undefined,
          400,
          /limit/,
        ],
        [
          "message without content",
          "POST",
          `/api/v1/sandboxes/${SANDBOX}/messages`,
          { message_type: "user_message" },
          400,
          /content/,
        ],
        [
          "empty message",
          "POST",
          `/api/v1/sandboxes/${SANDBOX}/messages`,
          { content: "   " },
          400,
          /content must not be empty/,
        ],
        [
          "unknown message_type",
          "POST",
          `/api/v1/sandboxes/${SANDBOX}/messages`,
          { content: "x", message_type: "shout" },
          400,
          /message_type/,
        ],
        [
          "message to an unknown sandbox",
          "POST",
          "/api/v1/sandboxes/nobody/messages",
          { content: "x" },
          404,
          /not found/,
        ],
        [
          "poll of an unknown sandbox",
          "GET",
          "/api/v1/sandboxes/nobody/messages",
          undefined,
          404,
          /not found/,
        ],
        [
          "unknown route",
          "GET",
          "/api/v1/nothing-here",
          undefined,
          404,
          /no route GET \/api\/v1\/nothing-here/,
        ],
      ];
      for (const [name, method, route, body, status, message] of cases) {
        test(name, async () => {
          const before = await storedCount();
          const response = await api<{ error: { name: string; message: string } }>(
            omoi.url,
            method,
            route,
            body,
          );
          assert.equal(response.status, status, JSON.stringify(response.body));
          assert.match(response.body.error.message, message);
          assert.equal(await storedCount(), before, "nothing stored");
        });
      }

      test("an oversized body is refused with 413 naming the limit", async () => {
        const before = await storedCount();
        const response = await api<{ error: { message: string; data: { limit_bytes: number } } }>(
          omoi.url,
          "POST",
          `/api/v1/sandboxes/${SANDBOX}/events`,
          { event_type: "agent.message", payload: { content: "x".repeat(70_000) } },
        );
        assert.equal(response.status, 413);
        assert.match(response.body.error.message, /65536 bytes/);
        assert.equal(response.body.error.data.limit_bytes, 65536);
        assert.equal(await storedCount(), before);
      });

      test("an event id already used in another sandbox is refused, not silently merged", async () => {
        assert.equal(
          (await api(omoi.url, "POST", "/api/v1/sandboxes", { id: "other-sandbox" })).status,
          201,
        );
        const id = "7d3c2a4e-9a55-4d8e-8f0e-2f6c1b9d0a11";
        assert.equal(
          (
            await api(omoi.url, "POST", "/api/v1/sandboxes/other-sandbox/events", {
              id,
              event_type: "agent.message",
            })
          ).status,
          201,
        );
        const before = await storedCount();
        const reused = await api<{ error: { message: string } }>(
          omoi.url,
          "POST",
          `/api/v1/sandboxes/${SANDBOX}/events`,
          { id, event_type: "agent.message" },
        );
        assert.equal(reused.status, 409);
        assert.match(reused.body.error.message, /already used by another stream/);
        assert.equal(await storedCount(), before);
      });

      test("the server keeps serving after all of it", async () => {
        const health = await api<{ status: string }>(omoi.url, "GET", "/api/v1/health");
        assert.equal(health.body.status, "ok");
        const stored = await api(omoi.url, "POST", `/api/v1/sandboxes/${SANDBOX}/events`, {
          event_type: "agent.message",
        });
        assert.equal(stored.status, 201);
      });
    });

    describe("bad WebSocket filters and frames", () => {
      const closeOf = (query: string) =>
        new Promise<{ code: number; reason: string }>((resolve) => {
          const socket = new WebSocket(`${omoi.url.replace("http", "ws")}/ws/events?${query}`);
          socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
          socket.on("error", () => undefined);
        });

      test("a bad filter closes with 4400 and says why", async () => {
        const unknownType = await closeOf("entity_types=planet");
        assert.equal(unknownType.code, 4400);
        assert.match(unknownType.reason, /entity_types/);
        const badSince = await closeOf("entity_ids=a&since=-4");
        assert.equal(badSince.code, 4400);
        const sinceWithoutId = await closeOf("since=3");
        assert.equal(sinceWithoutId.code, 4400);
        assert.match(sinceWithoutId.reason, /since needs entity_ids/);
        const badCursor = await closeOf("cursors=abc");
        assert.equal(badCursor.code, 4400);
        assert.match(badCursor.reason, /cursor/);
      });

      test("a bad frame gets an error frame and the socket keeps working", async () => {
        const viewer = new TestViewer(
          `${omoi.url.replace("http", "ws")}/ws/events?entity_ids=${SANDBOX}`,
        );
        await viewer.opened;
        viewer.socket.send("{not json");
        viewer.socket.send(JSON.stringify({ type: "subscribe", entity_types: ["moon"] }));
        viewer.socket.send(JSON.stringify({ type: "ping", id: "p1" }));
        await viewer.waitFor(() => viewer.frames.some((frame) => frame.type === "pong"), "pong");
        const errors = viewer.frames.filter((frame) => frame.type === "error") as {
          error: { message: string };
        }[];
        assert.equal(errors.length, 2);
        assert.match(errors[0].error.message, /malformed JSON/);
        assert.match(errors[1].error.message, /entity_types/);
        await api(omoi.url, "POST", `/api/v1/sandboxes/${SANDBOX}/events`, {
          event_type: "agent.message",
          payload: { content: "still here" },
        });
        await viewer.waitForEvent(
          "agent.message",
          (event) => event.payload.content === "still here",
        );
        viewer.close();
      });

      test("the worker channel refuses a bad hello and a bad token", async () => {
        const channel = (first: string) =>
          new Promise<{ code: number; reason: string }>((resolve) => {
            const socket = new WebSocket(`${omoi.url.replace("http", "ws")}/api/v1/worker/channel`);
            socket.on("open", () => socket.send(first));
            socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
            socket.on("error", () => undefined);
          });
        const garbage = await channel("hello?");
        assert.equal(garbage.code, 4400);
        const forged = await channel(
          JSON.stringify({ type: "hello", protocol: 1, sandbox_id: SANDBOX, token: "forged" }),
        );
        assert.equal(forged.code, 4401);
      });

      test("a worker batch that reuses another stream's event id is refused alone", async () => {
        const taken = "3f9b8c1e-2d4a-4b6c-9e8f-0a1b2c3d4e5f";
        assert.equal(
          (await api(omoi.url, "POST", "/api/v1/sandboxes", { id: "worker-other" })).status,
          201,
        );
        assert.equal(
          (
            await api(omoi.url, "POST", "/api/v1/sandboxes/worker-other/events", {
              id: taken,
              event_type: "agent.message",
            })
          ).status,
          201,
        );
        const socket = new WebSocket(`${omoi.url.replace("http", "ws")}/api/v1/worker/channel`);
        const frames: { type: string; batch_id?: string; error?: { message: string } }[] = [];
        const answered = new Promise<void>((resolve, reject) => {
          socket.on("close", (code, reason) =>
            reject(
              new Error(`the channel closed (${code} ${reason}) before answering every batch`),
            ),
          );
          socket.on("message", (data) => {
            frames.push(JSON.parse(data.toString()));
            const answers = frames.filter((frame) => frame.type === "ack" || frame.type === "nack");
            if (answers.length === 3) resolve();
          });
        });
        await new Promise((resolve) => socket.once("open", resolve));
        socket.send(
          JSON.stringify({
            type: "hello",
            protocol: 1,
            sandbox_id: SANDBOX,
            token: workerToken(WORKER_SECRET, SANDBOX),
          }),
        );
        const batch = (batchId: string, id?: string) =>
          JSON.stringify({
            type: "events",
            batch_id: batchId,
            events: [
              { ...(id ? { id } : {}), event_type: "agent.message", payload: { content: batchId } },
            ],
          });
        // Sent together, so the server stores them in one group.
        socket.send(batch("before"));
        socket.send(batch("reused", taken));
        socket.send(batch("after"));
        await answered;
        const answer = (batchId: string) => frames.find((frame) => frame.batch_id === batchId);
        assert.equal(answer("before")?.type, "ack");
        assert.equal(answer("after")?.type, "ack");
        assert.equal(answer("reused")?.type, "nack");
        assert.match(answer("reused")?.error?.message ?? "", /already used by another stream/);
        assert.equal(socket.readyState, WebSocket.OPEN, "the channel stays open");
        socket.close();
      });
    });
  },
);
