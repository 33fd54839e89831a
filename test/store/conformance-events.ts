import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newTaskId } from "../../src/protocol/ids.ts";
import type { EventToStore } from "../../src/store/store.ts";
import { event, type MakeStore, range, storeOpener, streamId } from "./fixtures.ts";

export function eventConformance(makeStore: MakeStore) {
  describe("events", () => {
    const stores = storeOpener(makeStore);

    it("migrate() is idempotent and safe for replicas migrating together", async () => {
      const database = stores.freshDatabase();
      const replicas = await Promise.all([1, 2, 3].map(() => stores.open(database)));
      await replicas[0].migrate();
      const [stored] = await replicas[1].appendEvents([event(streamId())]);
      assert.equal(stored.event.seq, 1);
      // close() is idempotent: the opener closes every store again after the test.
      await replicas[2].close();
    });

    it("numbers each stream 1, 2, 3… and returns the stored envelope", async () => {
      const store = await stores.open(stores.freshDatabase());
      const a = streamId();
      const b = streamId();
      const results = await store.appendEvents([event(a), event(a), event(b), event(a)]);
      assert.deepEqual(
        results.map((result) => [result.event.stream_id, result.event.seq, result.duplicate]),
        [
          [a, 1, false],
          [a, 2, false],
          [b, 1, false],
          [a, 3, false],
        ],
      );
      const second = await store.appendEvents([event(b)]);
      assert.equal(second[0].event.seq, 2);
      assert.equal(await store.lastSeq(a), 3);
      assert.equal(await store.lastSeq(b), 2);
      assert.equal(await store.lastSeq(streamId()), 0);
      assert.deepEqual(await store.appendEvents([]), []);
    });

    it("stores every field with its type (numbers as numbers, payload as an object)", async () => {
      const store = await stores.open(stores.freshDatabase());
      const taskId = newTaskId();
      const input = event(streamId(), {
        task_id: taskId,
        event_type: "agent.tool_use",
        source: "worker",
        payload: { tool: "Bash", input: { command: "ls" }, nested: [1, "two", null] },
        emitted_at: 1_700_000_000_123,
      });
      const [result] = await store.appendEvents([input]);
      const [listed] = await store.listEvents(input.stream_id);
      assert.deepEqual(listed, result.event);
      assert.deepEqual(listed, { ...input, seq: 1, stored_at: listed.stored_at });
      assert.equal(typeof listed.stored_at, "number");
      assert.ok(listed.stored_at > 0);
    });

    it("stores NUL characters and lone surrogates as U+FFFD, in every store alike", async () => {
      const store = await stores.open(stores.freshDatabase());
      const stream = streamId();
      const payload = {
        output: "a\u0000b",
        cut: "x\ud800y",
        pair: "smile \u{1F600}",
        literal: "\\u0000 stays text",
        "key\u0000": 1,
      };
      const [result] = await store.appendEvents([event(stream, { payload })]);
      const expected = {
        output: "a\ufffdb",
        cut: "x\ufffdy",
        pair: "smile \u{1F600}",
        literal: "\\u0000 stays text",
        "key\ufffd": 1,
      };
      assert.deepEqual(result.event.payload, expected);
      assert.deepEqual((await store.listEvents(stream))[0].payload, expected);
    });

    it("keeps seqs gap-free under many concurrent appends from several replicas", async () => {
      const replicas = await stores.openReplicas(3);
      const stream = streamId();
      const calls = range(60).map((index) => {
        const store = replicas[index % replicas.length];
        const batch = range(1 + (index % 4)).map(() => event(stream));
        return store.appendEvents(batch);
      });
      const results = (await Promise.all(calls)).flat();
      const total = results.length;
      const seqs = results.map((result) => result.event.seq).sort((x, y) => x - y);
      assert.deepEqual(seqs, range(total));
      assert.equal(await replicas[1].lastSeq(stream), total);
      const listed = await replicas[2].listEvents(stream, { limit: 10_000 });
      assert.deepEqual(
        listed.map((stored) => stored.seq),
        range(total),
      );
      // Each call's events keep their order within the call.
      for (const call of await Promise.all(calls)) {
        const callSeqs = call.map((result) => result.event.seq);
        assert.deepEqual(
          callSeqs,
          [...callSeqs].sort((x, y) => x - y),
        );
      }
    });

    it("stores an id once: a repeat returns the stored event and uses no seq", async () => {
      const store = await stores.open(stores.freshDatabase());
      const stream = streamId();
      const first = event(stream);
      const [stored] = await store.appendEvents([first]);
      const [again] = await store.appendEvents([{ ...first, payload: { content: "changed" } }]);
      assert.equal(again.duplicate, true);
      assert.deepEqual(again.event, stored.event);
      const [next] = await store.appendEvents([event(stream)]);
      assert.equal(next.event.seq, 2);
      assert.equal((await store.listEvents(stream)).length, 2);
    });

    it("treats an id repeated within one batch as a duplicate of its first copy", async () => {
      const store = await stores.open(stores.freshDatabase());
      const stream = streamId();
      const repeated = event(stream);
      const results = await store.appendEvents([repeated, event(stream), repeated]);
      assert.deepEqual(
        results.map((result) => [result.event.seq, result.duplicate]),
        [
          [1, false],
          [2, false],
          [1, true],
        ],
      );
      assert.equal(await store.lastSeq(stream), 2);
    });

    it("answers an id posted at once into two streams with the one stored copy", async () => {
      const store = await stores.open(stores.freshDatabase());
      const [first, second] = [streamId(), streamId()];
      const original = event(first);
      const reused = { ...original, stream_id: second, sandbox_id: second };
      // Concurrent calls behind two others, so a store that groups appends while some are in
      // flight puts these two in one transaction.
      const [, , ...calls] = await Promise.all([
        store.appendEvents([event(streamId())]),
        store.appendEvents([event(streamId())]),
        store.appendEvents([original]),
        store.appendEvents([reused]),
      ]);
      const results = calls.flat();
      assert.equal(results.filter((result) => !result.duplicate).length, 1);
      const [stored] = results.filter((result) => !result.duplicate);
      for (const result of results) assert.deepEqual(result.event, stored.event);
      const total = (await store.lastSeq(first)) + (await store.lastSeq(second));
      assert.equal(total, 1, "one seq used in all");
    });

    it("stores an id once when it is posted concurrently from several replicas", async () => {
      const replicas = await stores.openReplicas(3);
      const stream = streamId();
      const shared: EventToStore[] = range(10).map(() => event(stream));
      // Every replica posts the same ten ids several times at once, plus an event of its own.
      const calls = range(12).map((index) =>
        replicas[index % replicas.length].appendEvents([...shared, event(stream)]),
      );
      const results = await Promise.all(calls);
      for (const sharedEvent of shared) {
        const copies = results.flat().filter((result) => result.event.id === sharedEvent.id);
        assert.equal(copies.length, 12);
        assert.equal(copies.filter((copy) => !copy.duplicate).length, 1);
        assert.equal(new Set(copies.map((copy) => copy.event.seq)).size, 1);
      }
      const listed = await replicas[0].listEvents(stream);
      assert.equal(listed.length, 10 + 12);
      assert.deepEqual(
        listed.map((stored) => stored.seq),
        range(22),
      );
      assert.equal(await replicas[0].lastSeq(stream), 22);
    });

    it("pages with afterSeq and limit (default 1000, at most 10000)", async () => {
      const store = await stores.open(stores.freshDatabase());
      const stream = streamId();
      await store.appendEvents(range(1005).map(() => event(stream)));
      const firstPage = await store.listEvents(stream);
      assert.equal(firstPage.length, 1000);
      assert.equal(firstPage[0].seq, 1);
      const rest = await store.listEvents(stream, { afterSeq: 1000 });
      assert.deepEqual(
        rest.map((stored) => stored.seq),
        [1001, 1002, 1003, 1004, 1005],
      );
      const middle = await store.listEvents(stream, { afterSeq: 10, limit: 3 });
      assert.deepEqual(
        middle.map((stored) => stored.seq),
        [11, 12, 13],
      );
      assert.equal((await store.listEvents(stream, { limit: 50_000 })).length, 1005);
      assert.deepEqual(await store.listEvents(stream, { afterSeq: 1005 }), []);
      assert.deepEqual(await store.listEvents(streamId()), []);
    });

    it("pages backwards with beforeSeq: the newest events below it, ascending", async () => {
      const store = await stores.open(stores.freshDatabase());
      const stream = streamId();
      await store.appendEvents(
        range(25).map((index) =>
          event(stream, { event_type: index % 2 ? "agent.message" : "agent.tool_use" }),
        ),
      );
      const seqs = async (options: Parameters<typeof store.listEvents>[1]) =>
        (await store.listEvents(stream, options)).map((stored) => stored.seq);
      assert.deepEqual(await seqs({ beforeSeq: 26, limit: 3 }), [23, 24, 25]);
      assert.deepEqual(await seqs({ beforeSeq: 1_000_000, limit: 2 }), [24, 25]);
      assert.deepEqual(await seqs({ beforeSeq: 23, limit: 3 }), [20, 21, 22]);
      assert.deepEqual(await seqs({ beforeSeq: 3, limit: 10 }), [1, 2]);
      assert.deepEqual(await seqs({ beforeSeq: 1, limit: 10 }), []);
      // Walking back page by page visits every seq once, in order.
      const walked: number[] = [];
      for (let before = 26; before > 1; ) {
        const page = await seqs({ beforeSeq: before, limit: 4 });
        walked.unshift(...page);
        before = page[0];
      }
      assert.deepEqual(walked, range(25));
      assert.deepEqual(await seqs({ afterSeq: 20, beforeSeq: 25, limit: 2 }), [23, 24]);
      assert.deepEqual(await seqs({ afterSeq: 20, beforeSeq: 25, limit: 10 }), [21, 22, 23, 24]);
      assert.deepEqual(
        await seqs({ beforeSeq: 10, limit: 2, eventTypes: ["agent.message"] }),
        [7, 9],
      );
    });

    it("filters by exact event types and prefix.* patterns", async () => {
      const store = await stores.open(stores.freshDatabase());
      const stream = streamId();
      const types = [
        "sandbox.created",
        "agent.started",
        "agent.tool_use",
        "agent.toolXuse",
        "agent.tool_result",
        "task.started",
        "agentx.started",
      ];
      await store.appendEvents(types.map((type) => event(stream, { event_type: type })));
      const typesOf = async (eventTypes: string[], afterSeq?: number) =>
        (await store.listEvents(stream, { eventTypes, afterSeq })).map(
          (stored) => stored.event_type,
        );
      assert.deepEqual(await typesOf(["agent.tool_use"]), ["agent.tool_use"]);
      assert.deepEqual(await typesOf(["agent.*"]), [
        "agent.started",
        "agent.tool_use",
        "agent.toolXuse",
        "agent.tool_result",
      ]);
      // `_` is a plain character, not a wildcard.
      assert.deepEqual(await typesOf(["agent.tool_*"]), ["agent.tool_use", "agent.tool_result"]);
      assert.deepEqual(await typesOf(["sandbox.*", "task.started"]), [
        "sandbox.created",
        "task.started",
      ]);
      assert.deepEqual(await typesOf(["agent.*"], 3), ["agent.toolXuse", "agent.tool_result"]);
      assert.equal((await typesOf(["*"])).length, types.length);
      assert.equal((await typesOf([])).length, types.length);
      assert.deepEqual(await typesOf(["nothing.here"]), []);
    });

    it("lists a task's streams: its own stream first, then its sandboxes", async () => {
      const store = await stores.open(stores.freshDatabase());
      const taskId = newTaskId();
      const first = streamId();
      const second = streamId();
      await store.appendEvents([event(first, { task_id: taskId })]);
      await store.appendEvents([event(taskId, { sandbox_id: null, task_id: taskId })]);
      await store.appendEvents([event(second, { task_id: taskId })]);
      await store.appendEvents([event(streamId())]);
      const [own, ...sandboxes] = await store.listTaskStreams(taskId);
      assert.equal(own, taskId);
      // Sandboxes come by their first event's time; two in the same millisecond by id.
      assert.deepEqual(sandboxes.sort(), [first, second].sort());

      const withoutOwnEvents = newTaskId();
      const sandbox = streamId();
      await store.appendEvents([event(sandbox, { task_id: withoutOwnEvents })]);
      assert.deepEqual(await store.listTaskStreams(withoutOwnEvents), [sandbox]);
      assert.deepEqual(await store.listTaskStreams(newTaskId()), []);
    });
  });
}
