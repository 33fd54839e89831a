import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { forEachBackend } from "../helpers/backends.ts";
import { api, type TestOmoi } from "../helpers/omoi.ts";
import { TestViewer } from "../helpers/viewer.ts";

let omoi: TestOmoi;
let ws: string;

async function externalSandbox(id = `sbx-${randomUUID().slice(0, 8)}`) {
  const created = await api<{ id: string }>(omoi.url, "POST", "/api/v1/sandboxes", { id });
  assert.equal(created.status, 201);
  return created.body.id;
}

const post = (sandbox: string, body: unknown) =>
  api<Record<string, unknown>>(omoi.url, "POST", `/api/v1/sandboxes/${sandbox}/events`, body);

// Every test below runs on both backends.
forEachBackend(
  "the pipeline",
  { OMOI_RUN_AGENTS: "0", OMOI_VIEWER_MAX_BUFFER_BYTES: "65536" },
  (started) => {
    omoi = started;
    ws = omoi.url.replace("http", "ws");
  },
  () => {
    describe("the prototype's REST clients", () => {
      test("POST an event, a message, and GET messages work with the prototype's bodies", async () => {
        const sandbox = await externalSandbox("sandbox-abc123");
        const before = Date.now();
        const event = await post(sandbox, {
          event_type: "agent.message",
          event_data: { content: "hello from the prototype's worker" },
          source: "agent",
        });
        assert.equal(event.status, 201);
        assert.equal(event.body.seq, 2, "seq 1 is sandbox.created");

        const message = await api<Record<string, string>>(
          omoi.url,
          "POST",
          `/api/v1/sandboxes/${sandbox}/messages`,
          {
            content: "Please also add tests",
            message_type: "user_message",
          },
        );
        assert.equal(message.status, 201);
        assert.equal(message.body.status, "queued");
        assert.equal(message.body.sandbox_id, sandbox);
        assert.ok(message.body.message_id);

        const polled = await api<{ message_id: string; content: string; message_type: string }[]>(
          omoi.url,
          "GET",
          `/api/v1/sandboxes/${sandbox}/messages`,
        );
        assert.equal(polled.status, 200);
        assert.deepEqual(
          polled.body.map((item) => [item.message_id, item.content, item.message_type]),
          [[message.body.message_id, "Please also add tests", "user_message"]],
        );
        const again = await api<unknown[]>(
          omoi.url,
          "GET",
          `/api/v1/sandboxes/${sandbox}/messages`,
        );
        assert.deepEqual(again.body, [], "a polled message is never delivered twice");

        const stored = await api<{
          events: { seq: number; event_type: string; payload: Record<string, unknown> }[];
        }>(omoi.url, "GET", `/api/v1/sandboxes/${sandbox}/events?after_seq=0`);
        assert.deepEqual(
          stored.body.events.map((item) => item.event_type),
          ["sandbox.created", "agent.message", "message.queued"],
        );
        assert.equal(stored.body.events[1].payload.content, "hello from the prototype's worker");

        // Posting and polling is how a prototype-style worker shows it is alive.
        const row = await api<{ last_heartbeat_at: number | null }>(
          omoi.url,
          "GET",
          `/api/v1/sandboxes/${sandbox}`,
        );
        assert.ok(
          (row.body.last_heartbeat_at ?? 0) >= before,
          "the producer's heartbeat is recorded",
        );
      });

      test("GET events pages ascending and filters by type", async () => {
        const sandbox = await externalSandbox();
        const batch = Array.from({ length: 25 }, (_, index) => ({
          event_type: index % 2 ? "agent.thinking" : "agent.message",
          payload: { content: `m${index}` },
        }));
        assert.equal((await post(sandbox, batch)).status, 201);
        const first = await api<{ events: { seq: number }[]; has_more: boolean; last_seq: number }>(
          omoi.url,
          "GET",
          `/api/v1/sandboxes/${sandbox}/events?after_seq=0&limit=10`,
        );
        assert.deepEqual(
          first.body.events.map((event) => event.seq),
          [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        );
        assert.equal(first.body.has_more, true);
        const next = await api<{ events: { seq: number }[] }>(
          omoi.url,
          "GET",
          `/api/v1/sandboxes/${sandbox}/events?after_seq=${first.body.last_seq}&limit=100`,
        );
        assert.equal(next.body.events[0].seq, 11);
        assert.equal(next.body.events.at(-1)?.seq, 26);
        const thinking = await api<{ events: { event_type: string }[] }>(
          omoi.url,
          "GET",
          `/api/v1/sandboxes/${sandbox}/events?event_type=agent.thinking&limit=100`,
        );
        assert.equal(thinking.body.events.length, 12);
        assert.ok(thinking.body.events.every((event) => event.event_type === "agent.thinking"));
      });
    });

    describe("viewers", () => {
      test("frames carry the prototype's fields and filters select sandboxes and types", async () => {
        const a = await externalSandbox();
        const b = await externalSandbox();
        const viewer = new TestViewer(`${ws}/ws/events?entity_types=sandbox&entity_ids=${a}`);
        const typed = new TestViewer(`${ws}/api/v1/ws/events?event_types=agent.tool_use`);
        await Promise.all([viewer.opened, typed.opened]);
        await viewer.waitFor(
          () => viewer.frames.some((frame) => frame.type === "subscribed"),
          "subscribed",
        );
        await typed.waitFor(
          () => typed.frames.some((frame) => frame.type === "subscribed"),
          "subscribed",
        );
        await post(b, { event_type: "agent.message", payload: { content: "not for this viewer" } });
        await post(a, {
          event_type: "agent.tool_use",
          payload: { tool: "Bash", tool_use_id: "t1", input: { command: "ls" } },
        });
        await viewer.waitForEvent("agent.tool_use");
        await typed.waitForEvent("agent.tool_use");
        const frame = viewer.events[0];
        assert.equal(frame.entity_type, "sandbox");
        assert.equal(frame.entity_id, a);
        assert.equal(frame.event_type, "agent.tool_use");
        assert.deepEqual(frame.payload, {
          tool: "Bash",
          tool_use_id: "t1",
          input: { command: "ls" },
        });
        assert.equal(frame.seq, 2);
        assert.ok(viewer.events.every((event) => event.entity_id === a));
        assert.ok(typed.events.every((event) => event.event_type === "agent.tool_use"));
        viewer.close();
        typed.close();
      });

      test("a live-only viewer gets every event posted after it subscribed, in order", async () => {
        const sandbox = await externalSandbox();
        const message = (content: string) => ({
          event_type: "agent.message",
          payload: { content },
        });
        await post(sandbox, [message("before 1"), message("before 2")]);
        const viewer = new TestViewer(`${ws}/ws/events?entity_ids=${sandbox}`);
        await viewer.waitFor(
          () => viewer.frames.some((frame) => frame.type === "subscribed"),
          "subscribed",
        );
        const subscribed = viewer.frames.find((frame) => frame.type === "subscribed");
        assert.deepEqual(subscribed?.cursors, { [sandbox]: 3 }, "it starts at the stream's end");
        // Concurrent single-event POSTs, so commits and publishes race each other.
        await Promise.all(
          Array.from({ length: 40 }, (_, index) => post(sandbox, message(`${index}`))),
        );
        await viewer.waitFor(() => viewer.events.length >= 40, "40 events");
        assert.deepEqual(
          viewer.events.map((event) => event.seq),
          Array.from({ length: 40 }, (_, index) => index + 4),
        );
        viewer.close();
      });

      test("since= replays stored events, then live ones, with no gap and no duplicate", async () => {
        const sandbox = await externalSandbox();
        await post(
          sandbox,
          Array.from({ length: 50 }, (_, index) => ({
            event_type: "agent.message",
            payload: { content: `${index}` },
          })),
        );
        const viewer = new TestViewer(`${ws}/ws/events?entity_ids=${sandbox}&since=10`);
        await viewer.opened;
        const live = post(
          sandbox,
          Array.from({ length: 30 }, () => ({
            event_type: "agent.thinking",
            payload: { content: "live" },
          })),
        );
        await live;
        await viewer.waitFor(() => viewer.events.length >= 71, "71 events");
        assert.deepEqual(
          viewer.events.map((event) => event.seq),
          Array.from({ length: 71 }, (_, index) => index + 11),
        );
        assert.ok(viewer.frames.some((frame) => frame.type === "replayed"));
        viewer.close();
      });

      test("many producers, viewers reconnecting at random: every viewer ends with exactly 1..N per sandbox", async () => {
        const sandboxes = await Promise.all([1, 2, 3].map(() => externalSandbox()));
        const perProducer = 120;
        const producers = sandboxes.flatMap((sandbox) =>
          [0, 1].map(async (producer) => {
            for (let index = 0; index < perProducer; index += 6) {
              const batch = Array.from({ length: 6 }, (_, offset) => ({
                event_type: "agent.message",
                payload: { content: `${producer}:${index + offset}` },
              }));
              const response = await post(sandbox, batch);
              assert.equal(response.status, 201);
            }
          }),
        );
        const total = 1 + 2 * perProducer; // sandbox.created + both producers
        const seen = await Promise.all(
          [0, 1, 2, 3].map(async (viewerIndex) => {
            const cursors = new Map<string, number>(sandboxes.map((sandbox) => [sandbox, 0]));
            const received = new Map<string, number[]>(sandboxes.map((sandbox) => [sandbox, []]));
            const done = () => sandboxes.every((sandbox) => (cursors.get(sandbox) ?? 0) >= total);
            let round = 0;
            while (!done()) {
              const query = [...cursors].map(([stream, seq]) => `${stream}:${seq}`).join(",");
              const viewer = new TestViewer(
                `${ws}/ws/events?entity_ids=${sandboxes.join(",")}&cursors=${query}`,
              );
              await viewer.opened;
              // Stay for a varying number of events, then drop the connection mid-stream.
              const quota = 20 + ((viewerIndex * 37 + round * 53) % 90);
              await viewer.waitFor(
                () =>
                  viewer.events.length >= quota ||
                  done() ||
                  sandboxes.every(
                    (sandbox) =>
                      (cursors.get(sandbox) ?? 0) +
                        viewer.events.filter((event) => event.stream_id === sandbox).length >=
                      total,
                  ),
                "quota",
                60_000,
              );
              viewer.socket.terminate();
              for (const event of viewer.events) {
                received.get(event.stream_id)!.push(event.seq);
                cursors.set(event.stream_id, event.seq);
              }
              round++;
            }
            return received;
          }),
        );
        await Promise.all(producers);
        for (const received of seen) {
          for (const sandbox of sandboxes) {
            assert.deepEqual(
              received.get(sandbox),
              Array.from({ length: total }, (_, index) => index + 1),
            );
          }
        }
      });

      test("a viewer that falls too far behind is told so, then resumes from its cursors", async () => {
        const sandbox = await externalSandbox();
        const viewer = new TestViewer(`${ws}/ws/events?entity_ids=${sandbox}&since=0`);
        await viewer.opened;
        await viewer.waitFor(
          () => viewer.frames.some((frame) => frame.type === "replayed"),
          "replayed",
        );
        viewer.socket.pause();
        // Enough to fill the kernel's socket buffers on both ends, then the server's limit.
        const big = "x".repeat(60_000);
        for (let round = 0; round < 20; round++) {
          await post(
            sandbox,
            Array.from({ length: 10 }, () => ({
              event_type: "agent.message",
              payload: { content: big },
            })),
          );
        }
        viewer.socket.resume();
        await viewer.waitFor(() => viewer.closed !== undefined, "close");
        assert.equal(viewer.closed?.code, 4408);
        const lagged = viewer.frames.find((frame) => frame.type === "lagged") as
          | { cursors: Record<string, number> }
          | undefined;
        assert.ok(lagged, "a lagged frame names the cursors");
        const resumeFrom = lagged.cursors[sandbox];
        assert.equal(resumeFrom, viewer.events.at(-1)?.seq ?? 0);
        const resumed = new TestViewer(`${ws}/ws/events?cursors=${sandbox}:${resumeFrom}`);
        await resumed.waitFor(() => resumed.events.at(-1)?.seq === 201, "the rest");
        assert.deepEqual(
          [...viewer.events, ...resumed.events].map((event) => event.seq),
          Array.from({ length: 201 }, (_, index) => index + 1),
        );
        resumed.close();
      });
    });

    describe("idempotency", () => {
      test("the same event id posted twice, and ten times at once, is stored once", async () => {
        const sandbox = await externalSandbox();
        const id = randomUUID();
        const first = await post(sandbox, {
          id,
          event_type: "agent.message",
          payload: { content: "once" },
        });
        const second = await post(sandbox, {
          id,
          event_type: "agent.message",
          payload: { content: "once" },
        });
        assert.equal(first.body.seq, second.body.seq);
        assert.equal(second.body.duplicate, true);
        const racing = randomUUID();
        const results = await Promise.all(
          Array.from({ length: 10 }, () =>
            post(sandbox, {
              id: racing,
              event_type: "agent.message",
              payload: { content: "race" },
            }),
          ),
        );
        assert.equal(new Set(results.map((result) => result.body.seq)).size, 1);
        assert.equal(results.filter((result) => result.body.duplicate === false).length, 1);
        const stored = await api<{ events: { id: string }[] }>(
          omoi.url,
          "GET",
          `/api/v1/sandboxes/${sandbox}/events?limit=100`,
        );
        assert.equal(stored.body.events.length, 3);
      });
    });
  },
);
