import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Backoff } from "../../src/protocol/backoff.ts";
import { envelope } from "../../src/worker/agent-event.ts";
import { ChannelTransport } from "../../src/worker/channel.ts";
import type { IncomingMessage } from "../../src/worker/transport.ts";
import { messageFrame, TestChannelServer } from "./channel-server.ts";

function event(n: number) {
  return envelope({ event_type: "agent.message", payload: { content: `m${n}` } }, "agent", null);
}

describe("ChannelTransport", () => {
  let server: TestChannelServer;
  let transport: ChannelTransport;
  let messages: IncomingMessage[];
  let stops: string[];

  beforeEach(async () => {
    server = await TestChannelServer.start();
    messages = [];
    stops = [];
  });

  afterEach(async () => {
    await transport?.close();
    await server.close();
  });

  function connect(batchSize = 50, orphanTimeoutMs?: number) {
    transport = new ChannelTransport({
      serverUrl: server.url,
      sandboxId: "sbx_test",
      token: "secret-token",
      batchSize,
      orphanTimeoutMs,
      backoff: new Backoff(5, 50),
    });
    transport.start({
      onMessage: (message) => {
        messages.push(message);
        server.notify();
      },
      onStop: (reason) => {
        stops.push(reason);
        server.notify();
      },
    });
  }

  it("says hello with its token, then sends events in batches and forgets them once acked", async () => {
    connect(10);
    const sent = Array.from({ length: 35 }, (_, n) => event(n));
    for (const item of sent) transport.send(item);
    assert.equal(await transport.flush(30_000), true);
    assert.equal(server.hellos[0].token, "secret-token");
    assert.equal(server.hellos[0].sandbox_id, "sbx_test");
    assert.equal(server.hellos[0].resume, false);
    assert.deepEqual(
      server.stored.map((stored) => stored.id),
      sent.map((item) => item.id),
    );
    assert.equal(transport.pending(), 0);
    assert.equal(transport.acknowledgedSeq, 35);
  });

  it("resends unacknowledged events after the server drops mid-stream: each once, in order", async () => {
    let frames = 0;
    // The third batch is stored but its ack never leaves: the connection dies first.
    server.onEvents = () => {
      frames += 1;
      if (frames !== 3) return true;
      server.drop();
      return false;
    };
    connect(10);
    const sent = Array.from({ length: 100 }, (_, n) => event(n));
    for (const item of sent) transport.send(item);
    assert.equal(await transport.flush(30_000), true);
    assert.deepEqual(
      server.stored.map((stored) => stored.id),
      sent.map((item) => item.id),
    );
    assert.deepEqual(
      server.stored.map((stored) => stored.seq),
      sent.map((_, index) => index + 1),
    );
    assert.ok(server.duplicates > 0, "the unacknowledged batch was resent");
    assert.equal(server.connections, 2);
    assert.equal(server.hellos[1].resume, true);
    assert.ok((server.hellos[1].last_acked_seq ?? 0) >= 20);
  });

  it("keeps events emitted while disconnected and sends them after reconnect", async () => {
    connect();
    transport.send(event(1));
    assert.equal(await transport.flush(30_000), true);
    server.drop();
    transport.send(event(2));
    transport.send(event(3));
    assert.equal(await transport.flush(30_000), true);
    assert.deepEqual(
      server.stored.map((stored) => stored.payload.content),
      ["m1", "m2", "m3"],
    );
  });

  it("hands pushed messages over once, and reports them delivered", async () => {
    connect();
    await server.until(() => server.hellos.length === 1, "hello");
    const first = messageFrame("msg-1", "hello agent");
    server.push(first);
    server.push(first);
    server.push(messageFrame("msg-2", "later", { delivery: "queue" }));
    await server.until(() => messages.length === 2, "two messages");
    assert.deepEqual(
      messages.map((message) => [message.id, message.content, message.delivery]),
      [
        ["msg-1", "hello agent", "steer"],
        ["msg-2", "later", "queue"],
      ],
    );
    transport.delivered(["msg-1"]);
    await server.until(() => server.delivered.includes("msg-1"), "delivered msg-1");
    // After a reconnect the server re-pushes what it still holds (msg-2): not handed over twice.
    server.drop();
    await server.until(() => server.hellos.length === 2, "second hello");
    transport.send(event(1));
    assert.equal(await transport.flush(30_000), true);
    assert.equal(messages.length, 2);
  });

  it("says delivered again when a delivered message is pushed again", async () => {
    connect();
    await server.until(() => server.hellos.length === 1, "hello");
    server.push(messageFrame("msg-1", "hi"));
    await server.until(() => messages.length === 1, "message");
    transport.delivered(["msg-1"]);
    await server.until(() => server.delivered.length === 1, "delivered");
    server.sendFrame({ type: "message", message: messageFrame("msg-1", "hi") });
    await server.until(() => server.delivered.length === 2, "delivered again");
    assert.equal(messages.length, 1);
  });

  it("ignores bad frames with a log, and keeps working", async () => {
    connect();
    await server.until(() => server.hellos.length === 1, "hello");
    server.sendRaw("not json at all {");
    server.sendRaw(JSON.stringify({ type: "bogus" }));
    server.sendRaw(JSON.stringify({ type: "ack", batch_id: 7 }));
    server.sendRaw(JSON.stringify({ type: "message", message: { id: "no-content" } }));
    server.sendRaw(
      JSON.stringify({
        type: "message",
        message: messageFrame("ok", "x", { delivery: "sideways" as "steer" }),
      }),
    );
    server.push(messageFrame("msg-ok", "still here"));
    await server.until(() => messages.length === 1, "good message");
    assert.equal(messages[0].id, "msg-ok");
    transport.send(event(1));
    assert.equal(await transport.flush(30_000), true);
    assert.equal(server.connections, 1);
  });

  it("passes a stop frame on", async () => {
    connect();
    await server.until(() => server.hellos.length === 1, "hello");
    server.sendFrame({ type: "stop", reason: "terminated by user" });
    transport.send(event(1));
    assert.equal(await transport.flush(30_000), true);
    assert.deepEqual(stops, ["terminated by user"]);
  });

  it("stops its agent when no server has been reachable for the orphan timeout", async () => {
    connect(50, 300);
    await server.until(() => server.hellos.length === 1, "hello");
    // The server goes away for good: every reconnect is refused.
    await server.close();
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`no stop; stops=${stops}`)), 10_000);
      const check = setInterval(() => {
        if (stops.length === 0) return;
        clearTimeout(deadline);
        clearInterval(check);
        resolve();
      }, 20);
    });
    assert.equal(stops.length, 1);
    assert.match(stops[0], /no Omoi server reachable for \d+ s/);
    // afterEach closes the server; give it a fresh one to close.
    server = await TestChannelServer.start();
  });

  it("rides out a server outage shorter than the orphan timeout", async () => {
    connect(50, 60_000);
    await server.until(() => server.hellos.length === 1, "hello");
    server.drop();
    transport.send(event(1));
    assert.equal(await transport.flush(30_000), true);
    assert.equal(server.hellos.length, 2);
    assert.deepEqual(stops, []);
  });
});
