import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import { workerToken } from "../../src/server/worker-token.ts";
import { forEachBackend } from "../helpers/backends.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { TestViewer } from "../helpers/viewer.ts";

let omoi: TestOmoi;
const SANDBOX = "sandbox-bad-input";
const WORKER_SECRET = "bad-input-test-secret-0123456789";

async function taskTotal(): Promise<number> {
  return (await api<{ total: number }>(omoi.url, "GET", "/api/v1/tasks")).body.total;
}

/** What the prototype worker's poll would take, read without taking it. */
async function pendingMessages(): Promise<number> {
  const events = await api<{ events: unknown[] }>(
    omoi.url,
    "GET",
    `/api/v1/sandboxes/${SANDBOX}/events?limit=1000&event_type=message.queued`,
  );
  return events.body.events.length;
}

async function storedCount(): Promise<number> {
  const response = await api<{ events: unknown[] }>(
    omoi.url,
    "GET",
    `/api/v1/sandboxes/${SANDBOX}/events?limit=1000`,
  );
  return response.body.events.length;
}

/** A worker channel for SANDBOX, past its hello; `answered` once `count` batches are (n)acked. */
async function workerChannel(count: number) {
  const socket = new WebSocket(`${omoi.url.replace("http", "ws")}/api/v1/worker/channel`);
  const frames: { type: string; batch_id?: string; error?: { message: string } }[] = [];
  const answered = new Promise<void>((resolve, reject) => {
    socket.on("close", (code, reason) =>
      reject(new Error(`the channel closed (${code} ${reason}) before answering every batch`)),
    );
    socket.on("message", (data) => {
      frames.push(JSON.parse(data.toString()));
      const answers = frames.filter((frame) => frame.type === "ack" || frame.type === "nack");
      if (answers.length === count) resolve();
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
  return { socket, frames, answered };
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

      test("JSON nested deeper than 64 levels is a clear 400 on every body, never stored", async () => {
        const nested = (depth: number): unknown => {
          let value: unknown = "bottom";
          for (let level = 0; level < depth; level += 1) value = { inner: value };
          return value;
        };
        const before = await storedCount();
        const tasksBefore = await taskTotal();
        // Built as text: a value this deep cannot even be serialized by JSON.stringify.
        const deepText = `{"event_type":"agent.message","payload":${"[".repeat(20_000)}${"]".repeat(20_000)}}`;
        const attempts: [string, unknown][] = [
          [`/api/v1/sandboxes/${SANDBOX}/events`, deepText],
          [
            `/api/v1/sandboxes/${SANDBOX}/events`,
            { event_type: "agent.message", payload: nested(1000) },
          ],
          [
            `/api/v1/sandboxes/${SANDBOX}/events`,
            [{ event_type: "agent.message", payload: nested(70) }],
          ],
          ["/api/v1/tasks", { prompt: "deep", environment: nested(100) }],
          [`/api/v1/sandboxes/${SANDBOX}/messages`, { content: "deep", extra: nested(100) }],
        ];
        for (const [route, body] of attempts) {
          const response = await api<{ error: { message: string } }>(omoi.url, "POST", route, body);
          assert.equal(response.status, 400, `${route}: ${JSON.stringify(response.body)}`);
          assert.match(response.body.error.message, /nested deeper than 64 levels/);
        }
        assert.equal(await storedCount(), before, "nothing stored");
        assert.equal(await taskTotal(), tasksBefore);
        const fits = await api(omoi.url, "POST", `/api/v1/sandboxes/${SANDBOX}/events`, {
          event_type: "agent.message",
          payload: { content: "deep but within bounds", data: nested(58) },
        });
        assert.equal(fits.status, 201, "nesting within the bound is stored");
        const listed = await api<{ events: unknown[] }>(
          omoi.url,
          "GET",
          `/api/v1/sandboxes/${SANDBOX}/events?limit=1000`,
        );
        assert.equal(listed.status, 200, "and listing the sandbox still works");
      });

      test("NUL characters and lone surrogates are refused with 400, never changed on the way in", async () => {
        const before = await storedCount();
        const tasksBefore = await taskTotal();
        const pendingBefore = await pendingMessages();
        const bad = {
          nul: "binary\u0000output",
          high: "cut \ud83d mid-character",
          low: "\udc00 alone",
        };
        for (const [what, text] of Object.entries(bad)) {
          const attempts: [string, unknown][] = [
            [
              `/api/v1/sandboxes/${SANDBOX}/events`,
              { event_type: "agent.message", payload: { content: text } },
            ],
            [
              `/api/v1/sandboxes/${SANDBOX}/events`,
              { event_type: "agent.message", event_data: { [text]: 1 } },
            ],
            ["/api/v1/tasks", { prompt: text }],
            [`/api/v1/sandboxes/${SANDBOX}/messages`, { content: text }],
          ];
          for (const [route, body] of attempts) {
            const response = await api<{ error: { message: string } }>(
              omoi.url,
              "POST",
              route,
              body,
            );
            assert.equal(
              response.status,
              400,
              `${what} to ${route}: ${JSON.stringify(response.body)}`,
            );
            assert.match(response.body.error.message, /NUL character|lone UTF-16 surrogate/);
          }
        }
        assert.equal(await storedCount(), before, "no event stored");
        assert.equal(await taskTotal(), tasksBefore, "no task created");
        assert.deepEqual(await pendingMessages(), pendingBefore, "no message queued");
        const emoji = "a whole pair 😀 is fine";
        const kept = await api<{ id: string }>(
          omoi.url,
          "POST",
          `/api/v1/sandboxes/${SANDBOX}/events`,
          {
            event_type: "agent.message",
            payload: { content: emoji },
          },
        );
        assert.equal(kept.status, 201);
        const stored = await api<{ events: { id: string; payload: { content: string } }[] }>(
          omoi.url,
          "GET",
          `/api/v1/sandboxes/${SANDBOX}/events?limit=1000`,
        );
        assert.equal(
          stored.body.events.find((event) => event.id === kept.body.id)?.payload.content,
          emoji,
          "stored exactly",
        );
      });

      test("every list-valued query parameter is bounded with a clear 400", async () => {
        const routes = [
          `/api/v1/sandboxes/${SANDBOX}/events?event_type=${Array(5000).fill("*").join(",")}`,
          `/api/v1/tasks?status=${Array(200).fill("pending").join(",")}`,
          `/api/v1/sandboxes?status=${Array(200).fill("running").join(",")}`,
        ];
        for (const route of routes) {
          const response = await api<{ error: { message: string } }>(omoi.url, "GET", route);
          assert.equal(
            response.status,
            400,
            `${route.slice(0, 60)}: ${JSON.stringify(response.body)}`,
          );
          assert.match(response.body.error.message, /at most \d+ comma-separated entries/);
        }
        const fine = await api(
          omoi.url,
          "GET",
          `/api/v1/sandboxes/${SANDBOX}/events?event_type=${Array(100).fill("agent.*").join(",")}`,
        );
        assert.equal(fine.status, 200);
      });

      test("ids are checked the same way everywhere: one starting with '-' is refused", async () => {
        const created = await api<{ error: { message: string } }>(
          omoi.url,
          "POST",
          "/api/v1/sandboxes",
          { id: "-rf" },
        );
        assert.equal(created.status, 400);
        assert.match(created.body.error.message, /starting with a letter or digit/);
        for (const route of [
          "/api/v1/sandboxes/-rf",
          "/api/v1/tasks/-x",
          "/api/v1/sandboxes/-rf/events",
        ]) {
          const response = await api(omoi.url, "GET", route);
          assert.equal(response.status, 400, route);
        }
        const dependent = await api(omoi.url, "POST", "/api/v1/tasks", {
          prompt: "x",
          depends_on: ["-x"],
        });
        assert.equal(dependent.status, 400);
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

      test("a viewer frame nested too deep or carrying NUL gets an error frame; a long filter list closes 4400", async () => {
        const viewer = new TestViewer(
          `${omoi.url.replace("http", "ws")}/ws/events?entity_ids=${SANDBOX}`,
        );
        await viewer.opened;
        viewer.socket.send(
          `{"type":"subscribe","entity_ids":${"[".repeat(10_000)}${"]".repeat(10_000)}}`,
        );
        viewer.socket.send(JSON.stringify({ type: "ping", id: "nul\u0000" }));
        viewer.socket.send(JSON.stringify({ type: "ping", id: "after" }));
        await viewer.waitFor(() => viewer.frames.some((frame) => frame.type === "pong"), "pong");
        const errors = viewer.frames.filter((frame) => frame.type === "error") as {
          error: { message: string };
        }[];
        assert.equal(errors.length, 2);
        assert.match(errors[0].error.message, /nested deeper than 64 levels/);
        assert.match(errors[1].error.message, /NUL character/);
        viewer.close();
        const types = Array(5000).fill("*").join(",");
        const closed = await closeOf(`event_types=${types}`);
        assert.equal(closed.code, 4400);
        assert.match(closed.reason, /at most 100/);
      });

      test("a worker batch nested too deep or carrying NUL is refused alone (nack), the channel stays open", async () => {
        const { socket, frames, answered } = await workerChannel(3);
        const before = await storedCount();
        const frame = (batchId: string, payload: string) =>
          `{"type":"events","batch_id":"${batchId}","events":[{"event_type":"agent.message","payload":${payload}}]}`;
        socket.send(frame("deep", `{"data":${"[".repeat(5000)}${"]".repeat(5000)}}`));
        socket.send(frame("nul", JSON.stringify({ content: "a\u0000b" })));
        socket.send(frame("fine", JSON.stringify({ content: "fine" })));
        await answered;
        const answer = (batchId: string) => frames.find((item) => item.batch_id === batchId);
        assert.equal(answer("deep")?.type, "nack");
        assert.match(answer("deep")?.error?.message ?? "", /nested deeper than 64 levels/);
        assert.equal(answer("nul")?.type, "nack");
        assert.match(answer("nul")?.error?.message ?? "", /NUL character/);
        assert.equal(answer("fine")?.type, "ack");
        assert.equal(await storedCount(), before + 1, "only the good batch is stored");
        assert.equal(socket.readyState, WebSocket.OPEN);
        socket.close();
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
        const { socket, frames, answered } = await workerChannel(3);
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

// Backend-independent, at the default body limit: a body several megabytes long is what
// overflows the socket buffers, so a client still writing sees the answer only if it is read.
describe("an oversized body", () => {
  let server: TestOmoi;
  const sandbox = "sandbox-oversized";
  before(async () => {
    server = await startTestOmoi({ OMOI_RUN_AGENTS: "0" });
    await api(server.url, "POST", "/api/v1/sandboxes", { id: sandbox });
  });
  after(async () => server.stop());

  test("an oversized body is read and discarded, so a client that writes it all first gets the 413", async () => {
    // Like Python's urllib or httpx: the whole body is written before the answer is read.
    const body = JSON.stringify({
      event_type: "agent.message",
      payload: { content: "x".repeat(4_000_000) },
    });
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(server.port, "127.0.0.1");
      socket.on("error", (error) =>
        reject(new Error(`the client saw ${error.message}, not the 413`)),
      );
      const head = `POST /api/v1/sandboxes/${sandbox}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
      const chunks = [head];
      for (let start = 0; start < body.length; start += 16_384) {
        chunks.push(body.slice(start, start + 16_384));
      }
      const writeNext = () => {
        const chunk = chunks.shift();
        if (chunk === undefined) {
          let text = "";
          socket.on("data", (data: Buffer) => {
            text += data.toString();
            if (text.includes("PayloadTooLarge")) {
              socket.destroy();
              resolve(text);
            }
          });
          return;
        }
        socket.write(chunk, (error) => (error ? undefined : writeNext()));
      };
      // Nothing is read until every chunk is written: the socket is not flowing until then.
      writeNext();
    });
    assert.match(answer, /^HTTP\/1\.1 413/);
    assert.match(answer, /1048576 bytes/);
    const stored = await api<{ events: unknown[] }>(
      server.url,
      "GET",
      `/api/v1/sandboxes/${sandbox}/events?event_type=agent.*`,
    );
    assert.deepEqual(stored.body.events, [], "nothing stored");
  });
});
