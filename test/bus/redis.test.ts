import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, afterEach, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { RedisBus, type RedisBusOptions } from "../../src/bus/redis.ts";
import { busConformance } from "./conformance.ts";
import { Collector, storedEvent } from "./fixtures.ts";

const url = process.env.OMOI_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
// Channels and connection names of this file, so parallel test runs stay apart.
const prefix = `omoi:test:${randomBytes(4).toString("hex")}`;

busConformance(
  "redis",
  ({ channel, onError }) => new RedisBus(url, { channel: `${prefix}:${channel}`, onError }),
);

describe("RedisBus", () => {
  let admin: Redis;
  const opened: RedisBus[] = [];
  let counter = 0;

  before(async () => {
    admin = new Redis(url, { lazyConnect: true });
    await admin.connect();
  });
  after(async () => {
    await admin.quit();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((bus) => bus.close()));
  });

  const open = async (options: RedisBusOptions = {}) => {
    const bus = new RedisBus(url, { channel: `${prefix}:shared-${counter}`, ...options });
    opened.push(bus);
    await bus.start();
    return bus;
  };

  /** Two buses on a fresh channel, each with a subscriber collecting what it hears. */
  const twoOnOneChannel = async () => {
    counter++;
    const a = await open();
    const b = await open();
    const seenByA = new Collector();
    const seenByB = new Collector();
    a.subscribe(seenByA.handler);
    b.subscribe(seenByB.handler);
    return { a, b, seenByA, seenByB };
  };

  it("two instances on one channel see each other's events once each", async () => {
    const { a, b, seenByA, seenByB } = await twoOnOneChannel();
    const fromA = storedEvent();
    const fromB = storedEvent();
    await a.publish(fromA);
    await b.publish(fromB);
    await seenByA.waitFor(2);
    await seenByB.waitFor(2);
    for (const seen of [seenByA, seenByB]) {
      assert.deepEqual(seen.ids().sort(), [fromA.id, fromB.id].sort());
    }
  });

  it("hands its own events to local subscribers at once, and skips their echo", async () => {
    const { a, b, seenByA, seenByB } = await twoOnOneChannel();
    const own = storedEvent();
    await a.publish(own);
    assert.deepEqual(seenByA.ids(), [own.id], "delivered locally before publish() resolves");
    // Once b has heard a's event, Redis has sent it to a's subscriber too; b's marker goes
    // through Redis after it, so an echo would arrive before the marker.
    await seenByB.waitFor(1);
    const marker = storedEvent();
    await b.publish(marker);
    await seenByA.waitFor(2);
    await seenByB.waitFor(2);
    assert.deepEqual(seenByA.ids(), [own.id, marker.id]);
    // b has its own marker at once, and a's event whenever Redis brings it.
    assert.deepEqual(seenByB.ids().sort(), [own.id, marker.id].sort());
  });

  it("hears nothing from another channel", async () => {
    const other = await open({ channel: `${prefix}:other-${++counter}` });
    const mine = await open({ channel: `${prefix}:mine-${counter}` });
    const mineToo = await open({ channel: `${prefix}:mine-${counter}` });
    const collector = new Collector();
    mine.subscribe(collector.handler);
    const witness = new Collector();
    const otherToo = await open({ channel: `${prefix}:other-${counter}` });
    otherToo.subscribe(witness.handler);
    await other.publish(storedEvent());
    // Once a subscriber of `other`'s channel has it, Redis has handled that publish.
    await witness.waitFor(1);
    const marker = storedEvent();
    // Same order on one Redis: had `other`'s event leaked, it would arrive first.
    await mineToo.publish(marker);
    await collector.waitFor(1);
    assert.deepEqual(collector.ids(), [marker.id]);
  });

  it("ignores and reports malformed messages on the channel", async () => {
    counter++;
    const reported: unknown[] = [];
    const bus = await open({ onError: (error) => reported.push(error) });
    const collector = new Collector();
    bus.subscribe(collector.handler);
    await admin.publish(bus.channel, "{not json");
    await admin.publish(bus.channel, JSON.stringify({ id: "x", seq: "one" }));
    await admin.publish(bus.channel, JSON.stringify([1, 2]));
    const good = storedEvent();
    await admin.publish(bus.channel, JSON.stringify(good));
    await collector.waitFor(1);
    assert.deepEqual(collector.events, [good]);
    assert.equal(reported.length, 3);
    assert.match(String(reported[0]), /malformed JSON/);
  });

  it("resubscribes after its connection is killed and receives again", async () => {
    counter++;
    const name = `${prefix}:reconnect-${counter}`.replaceAll(":", "-");
    let subscribed = 0;
    let onResubscribed: () => void = () => {};
    const resubscribed = new Promise<void>((resolve) => {
      onResubscribed = resolve;
    });
    const bus = await open({
      connectionName: name,
      onError: () => {},
      onSubscribed: () => {
        subscribed++;
        if (subscribed === 2) onResubscribed();
      },
    });
    const collector = new Collector();
    bus.subscribe(collector.handler);
    const clients = String(await admin.client("LIST"));
    const line = clients.split("\n").find((entry) => entry.includes(`name=${name}:sub `));
    const id = line?.match(/\bid=(\d+)/)?.[1];
    assert.ok(id, "subscriber connection not found in CLIENT LIST");
    await admin.client("KILL", "ID", id);
    await resubscribed;
    const event = storedEvent();
    await bus.publish(event);
    await collector.waitFor(1);
    assert.deepEqual(collector.ids(), [event.id]);
  });

  it("refuses to publish before start()", async () => {
    const bus = new RedisBus(url, { channel: `${prefix}:unstarted` });
    await assert.rejects(bus.publish(storedEvent()), /before start\(\)/);
    await bus.close();
  });

  it("fails start() with a clear error when Redis is unreachable", async () => {
    const bus = new RedisBus("redis://127.0.0.1:1", { onError: () => {} });
    await assert.rejects(bus.start(), /could not connect to Redis at redis:\/\/127\.0\.0\.1:1/);
    await bus.close();
  });
});
