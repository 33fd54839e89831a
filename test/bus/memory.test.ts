import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createBus } from "../../src/bus/index.ts";
import { MemoryBus } from "../../src/bus/memory.ts";
import { RedisBus } from "../../src/bus/redis.ts";
import { busConformance } from "./conformance.ts";
import { storedEvent } from "./fixtures.ts";

busConformance("memory", ({ onError }) => new MemoryBus({ onError }));

describe("MemoryBus", () => {
  it("has delivered to every handler by the time publish() returns", () => {
    const bus = new MemoryBus();
    const seen: string[] = [];
    bus.subscribe((event) => seen.push(event.id));
    const event = storedEvent();
    void bus.publish(event);
    assert.deepEqual(seen, [event.id]);
  });
});

describe("createBus", () => {
  it("is in-process without a Redis URL", () => {
    assert.ok(createBus({}) instanceof MemoryBus);
    assert.ok(createBus({ redisUrl: "  " }) instanceof MemoryBus);
  });

  it("is Redis for redis:// and rediss:// URLs, without connecting", async () => {
    for (const redisUrl of ["redis://127.0.0.1:1", "rediss://example.invalid:6380"]) {
      const bus = createBus({ redisUrl, channel: "omoi:unused" });
      assert.ok(bus instanceof RedisBus);
      assert.equal(bus.channel, "omoi:unused");
      await bus.close();
    }
  });

  it("rejects an unknown URL scheme with a clear message", () => {
    assert.throws(
      () => createBus({ redisUrl: "nats://localhost:4222" }),
      /unsupported REDIS_URL scheme 'nats'/,
    );
  });
});
