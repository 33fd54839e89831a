import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Bus } from "../../src/bus/bus.ts";
import type { BusErrorHandler } from "../../src/bus/report.ts";
import { Collector, storedEvent } from "./fixtures.ts";

/**
 * Opens a new, not yet started bus. Buses made with the same `channel` must see each other's
 * events when the adapter spans processes; an in-process adapter may ignore it.
 */
export type MakeBus = (options: { channel: string; onError?: BusErrorHandler }) => Bus;

let channelCounter = 0;

/** The behaviour every Bus adapter must have. */
export function busConformance(name: string, makeBus: MakeBus) {
  describe(`Bus conformance: ${name}`, () => {
    const opened: Bus[] = [];
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((bus) => bus.close()));
    });
    const start = async (onError?: BusErrorHandler) => {
      const bus = makeBus({ channel: `conformance-${process.pid}-${++channelCounter}`, onError });
      opened.push(bus);
      await bus.start();
      return bus;
    };

    it("delivers a published event to every subscriber, intact", async () => {
      const bus = await start();
      const collectors = [new Collector(), new Collector(), new Collector()];
      for (const collector of collectors) bus.subscribe(collector.handler);
      const event = storedEvent({
        task_id: "task_1",
        source: "worker",
        payload: { text: "héllo ✓ \u2028", nested: { list: [1, null, true], empty: {} } },
      });
      await bus.publish(event);
      for (const collector of collectors) {
        await collector.waitFor(1);
        assert.deepEqual(collector.events, [event]);
      }
    });

    it("keeps one publisher's events in order", async () => {
      const bus = await start();
      const collector = new Collector();
      bus.subscribe(collector.handler);
      const events = Array.from({ length: 200 }, () => storedEvent());
      await Promise.all(events.map((event) => bus.publish(event)));
      await collector.waitFor(events.length);
      assert.deepEqual(
        collector.ids(),
        events.map((event) => event.id),
      );
    });

    it("stops delivering to a handler once it unsubscribes", async () => {
      const bus = await start();
      const leaving = new Collector();
      const staying = new Collector();
      const unsubscribe = bus.subscribe(leaving.handler);
      bus.subscribe(staying.handler);
      const first = storedEvent();
      const second = storedEvent();
      await bus.publish(first);
      await staying.waitFor(1);
      await leaving.waitFor(1);
      unsubscribe();
      unsubscribe();
      await bus.publish(second);
      // Both handlers are served from one delivery, so `leaving` would have it by now.
      await staying.waitFor(2);
      assert.deepEqual(leaving.ids(), [first.id]);
      assert.deepEqual(staying.ids(), [first.id, second.id]);
    });

    it("treats the same handler subscribed twice as two subscriptions", async () => {
      const bus = await start();
      const collector = new Collector();
      const unsubscribeFirst = bus.subscribe(collector.handler);
      bus.subscribe(collector.handler);
      await bus.publish(storedEvent());
      await collector.waitFor(2);
      unsubscribeFirst();
      await bus.publish(storedEvent());
      await collector.waitFor(3);
      assert.equal(collector.events.length, 3);
    });

    it("keeps delivering to other handlers when one throws, and reports the error", async () => {
      const reported: unknown[] = [];
      const bus = await start((error) => reported.push(error));
      const before = new Collector();
      const after = new Collector();
      bus.subscribe(before.handler);
      bus.subscribe(() => {
        throw new Error("subscriber bug");
      });
      bus.subscribe(after.handler);
      await bus.publish(storedEvent());
      await bus.publish(storedEvent());
      await after.waitFor(2);
      assert.equal(before.events.length, 2);
      assert.equal(reported.length, 2);
      assert.match(String(reported[0]), /subscriber bug/);
    });

    it("closes cleanly, twice, and ignores publishes after close", async () => {
      const bus = await start();
      bus.subscribe(() => assert.fail("delivered after close"));
      await bus.close();
      await bus.close();
      await bus.publish(storedEvent());
    });
  });
}
