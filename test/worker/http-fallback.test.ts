import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, it } from "node:test";
import { Backoff } from "../../src/protocol/backoff.ts";
import { envelope } from "../../src/worker/agent-event.ts";
import { HttpTransport } from "../../src/worker/http-fallback.ts";
import type { IncomingMessage as AgentMessage } from "../../src/worker/transport.ts";

interface Posted {
  id: string;
  event_type: string;
}

/** The prototype's two endpoints, on a real HTTP server; the first `failFirst` POSTs get a 503. */
async function prototypeServer(failFirst: number) {
  const stored: Posted[] = [];
  const ids = new Set<string>();
  const changes = new EventEmitter();
  let pending: unknown[] = [];
  let posts = 0;
  const authorizations: string[] = [];
  const server: Server = createServer(async (request: IncomingMessage, response) => {
    authorizations.push(String(request.headers.authorization));
    if (request.method === "GET" && request.url === "/api/v1/sandboxes/sbx_test/messages") {
      const body = JSON.stringify(pending);
      pending = [];
      response.writeHead(200, { "content-type": "application/json" }).end(body);
      return;
    }
    let text = "";
    for await (const chunk of request) text += chunk;
    posts += 1;
    if (posts <= failFirst) {
      response.writeHead(503).end();
      return;
    }
    for (const event of JSON.parse(text) as Posted[]) {
      if (ids.has(event.id)) continue;
      ids.add(event.id);
      stored.push(event);
    }
    response.writeHead(200, { "content-type": "application/json" }).end("{}");
    changes.emit("change");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stored,
    authorizations,
    queue: (message: unknown) => pending.push(message),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    changes,
  };
}

describe("HttpTransport", () => {
  let transport: HttpTransport | undefined;
  afterEach(async () => {
    await transport?.close();
  });

  it("posts events as JSON arrays, retrying with the same ids until a 2xx", async () => {
    const server = await prototypeServer(2);
    try {
      transport = new HttpTransport({
        serverUrl: server.url,
        sandboxId: "sbx_test",
        token: "tok",
        backoff: new Backoff(5, 20),
        pollIntervalMs: 10,
      });
      transport.start({ onMessage: () => {}, onStop: () => {} });
      const sent = Array.from({ length: 30 }, (_, n) =>
        envelope({ event_type: "agent.message", payload: { content: `m${n}` } }, "agent", null),
      );
      for (const event of sent) transport.send(event);
      assert.equal(await transport.flush(30_000), true);
      assert.deepEqual(
        server.stored.map((event) => event.id),
        sent.map((event) => event.id),
      );
      assert.ok(server.authorizations.includes("Bearer tok"));
    } finally {
      await server.close();
    }
  });

  it("polls messages, accepts the prototype's message_id, and drops repeats", async () => {
    const server = await prototypeServer(0);
    const received: AgentMessage[] = [];
    const got = new EventEmitter();
    try {
      transport = new HttpTransport({
        serverUrl: server.url,
        sandboxId: "sbx_test",
        token: "tok",
        pollIntervalMs: 10,
      });
      server.queue({
        message_id: "seed-1",
        content: "from the seed",
        message_type: "user_message",
      });
      server.queue({ id: "seed-1", content: "again" });
      server.queue({ id: "bad" });
      server.queue({ id: "omoi-2", content: "queued one", delivery: "queue" });
      const done = new Promise((resolve) =>
        got.on("message", () => received.length === 2 && resolve(null)),
      );
      transport.start({
        onMessage: (message) => {
          received.push(message);
          got.emit("message");
        },
        onStop: () => {},
      });
      await done;
      assert.deepEqual(
        received.map((message) => [message.id, message.content, message.delivery]),
        [
          ["seed-1", "from the seed", "steer"],
          ["omoi-2", "queued one", "queue"],
        ],
      );
    } finally {
      await server.close();
    }
  });
});

describe("HttpTransport without a server", () => {
  it("stops its agent once no server has answered for the orphan timeout", async () => {
    const server = await prototypeServer(0);
    await server.close();
    const stops: string[] = [];
    const transport = new HttpTransport({
      serverUrl: server.url,
      sandboxId: "sbx_test",
      token: "tok",
      pollIntervalMs: 10,
      orphanTimeoutMs: 300,
    });
    try {
      const stopped = new Promise<void>((resolve) =>
        transport.start({
          onMessage: () => {},
          onStop: (reason) => {
            stops.push(reason);
            resolve();
          },
        }),
      );
      await stopped;
      assert.equal(stops.length, 1);
      assert.match(stops[0], /no Omoi server reachable for \d+ s/);
    } finally {
      await transport.close();
    }
  });
});
