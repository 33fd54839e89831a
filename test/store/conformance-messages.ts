import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newMessageId } from "../../src/protocol/ids.ts";
import type { NewMessage } from "../../src/store/store.ts";
import { event, type MakeStore, range, storeOpener, streamId } from "./fixtures.ts";

const message = (sandboxId: string, content = "hi"): NewMessage => ({
  id: newMessageId(),
  sandbox_id: sandboxId,
  message_type: "user_message",
  delivery: "steer",
  content,
});

export function messageConformance(makeStore: MakeStore) {
  describe("messages", () => {
    const stores = storeOpener(makeStore);

    it("stores a message as pending and lists pending ones oldest first", async () => {
      const store = await stores.open(stores.freshDatabase());
      const sandbox = streamId();
      const { message: first } = await store.insertMessage(message(sandbox, "first"));
      assert.equal(first.status, "pending");
      assert.equal(first.delivered_at, null);
      assert.equal(typeof first.created_at, "number");
      await store.insertMessage({ ...message(sandbox, "second"), message_type: "interrupt" });
      await store.insertMessage(message(streamId(), "elsewhere"));
      assert.deepEqual(await store.getMessage(first.id), first);
      assert.equal(await store.getMessage(newMessageId()), undefined);
      const pending = await store.pendingMessages(sandbox);
      assert.deepEqual(
        pending.map((stored) => [stored.content, stored.message_type, stored.delivery]),
        [
          ["first", "user_message", "steer"],
          ["second", "interrupt", "steer"],
        ],
      );
    });

    it("stores NUL characters in a message as U+FFFD", async () => {
      const store = await stores.open(stores.freshDatabase());
      const { message: stored } = await store.insertMessage(
        message(streamId(), "before\u0000after"),
      );
      assert.equal(stored.content, "before\ufffdafter");
      assert.deepEqual(await store.getMessage(stored.id), stored);
    });

    it("rejects a second message with the same id", async () => {
      const store = await stores.open(stores.freshDatabase());
      const original = message(streamId());
      await store.insertMessage(original);
      await assert.rejects(store.insertMessage(original), { name: "Conflict" });
    });

    it("stores a message and its message.queued event together", async () => {
      const store = await stores.open(stores.freshDatabase());
      const sandbox = streamId();
      await store.appendEvents([event(sandbox)]);
      const queued = message(sandbox, "steer me");
      const announce = event(sandbox, {
        event_type: "message.queued",
        payload: { message_id: queued.id, content: queued.content },
      });
      const stored = await store.insertMessage(queued, announce);
      assert.equal(stored.message.status, "pending");
      assert.equal(stored.event?.id, announce.id);
      assert.equal(stored.event?.seq, 2);
      assert.deepEqual(await store.listEvents(sandbox, { afterSeq: 1 }), [stored.event]);
      assert.deepEqual(await store.getMessage(queued.id), stored.message);
    });

    it("stores neither the message nor its event when the message cannot be stored", async () => {
      const store = await stores.open(stores.freshDatabase());
      const sandbox = streamId();
      const original = message(sandbox);
      await store.insertMessage(original);
      const announce = event(sandbox, { event_type: "message.queued" });
      await assert.rejects(store.insertMessage(original, announce), { name: "Conflict" });
      assert.deepEqual(await store.listEvents(sandbox), []);
      // The seq the failed write would have used is still free.
      const [next] = await store.appendEvents([event(sandbox)]);
      assert.equal(next.event.seq, 1);
    });

    it("takePendingMessages returns pending messages once and marks them delivered", async () => {
      const store = await stores.open(stores.freshDatabase());
      const sandbox = streamId();
      const other = streamId();
      for (const content of ["a", "b", "c"]) await store.insertMessage(message(sandbox, content));
      await store.insertMessage(message(other));
      const taken = await store.takePendingMessages(sandbox);
      assert.deepEqual(
        taken.map((stored) => stored.content),
        ["a", "b", "c"],
      );
      for (const stored of taken) {
        assert.equal(stored.status, "delivered");
        assert.equal(typeof stored.delivered_at, "number");
        assert.deepEqual(await store.getMessage(stored.id), stored);
      }
      assert.deepEqual(await store.takePendingMessages(sandbox), []);
      assert.deepEqual(await store.pendingMessages(sandbox), []);
      assert.equal((await store.pendingMessages(other)).length, 1);
      assert.equal((await store.listMessages(sandbox)).length, 3);
    });

    it("markDelivered returns only the ids that were pending until now", async () => {
      const store = await stores.open(stores.freshDatabase());
      const sandbox = streamId();
      const { message: a } = await store.insertMessage(message(sandbox, "a"));
      const { message: b } = await store.insertMessage(message(sandbox, "b"));
      const { message: c } = await store.insertMessage(message(sandbox, "c"));
      const { message: foreign } = await store.insertMessage(message(streamId()));
      assert.deepEqual((await store.markDelivered(sandbox, [a.id])).sort(), [a.id]);
      const second = await store.markDelivered(sandbox, [a.id, b.id, foreign.id, "unknown"]);
      assert.deepEqual(second, [b.id]);
      assert.equal((await store.getMessage(foreign.id))?.status, "pending");
      assert.deepEqual(await store.markDelivered(sandbox, []), []);
      assert.deepEqual(
        (await store.pendingMessages(sandbox)).map((stored) => stored.id),
        [c.id],
      );
      const listed = await store.listMessages(sandbox);
      assert.deepEqual(
        listed.map((stored) => stored.status),
        ["delivered", "delivered", "pending"],
      );
    });

    it("never loses a message or delivers it twice under concurrent takers", async () => {
      const replicas = await stores.openReplicas(3);
      const sandbox = streamId();
      const inserted: string[] = [];
      const taken: string[] = [];
      const takeFrom = async (index: number) => {
        const messages = await replicas[index % replicas.length].takePendingMessages(sandbox);
        taken.push(...messages.map((stored) => stored.id));
      };
      // Inserts and takes interleave; a final take collects whatever is left.
      await Promise.all(
        range(40).map(async (index) => {
          const stored = await replicas[index % replicas.length].insertMessage(message(sandbox));
          inserted.push(stored.message.id);
          await Promise.all([takeFrom(index), takeFrom(index + 1)]);
        }),
      );
      await takeFrom(0);
      assert.equal(new Set(taken).size, taken.length, "a message was delivered twice");
      assert.deepEqual([...taken].sort(), [...inserted].sort());
    });

    it("markDelivered from concurrent callers reports each id to exactly one of them", async () => {
      const replicas = await stores.openReplicas(3);
      const sandbox = streamId();
      const ids: string[] = [];
      for (const _ of range(30))
        ids.push((await replicas[0].insertMessage(message(sandbox))).message.id);
      const reports = await Promise.all(
        range(9).map((index) => replicas[index % replicas.length].markDelivered(sandbox, ids)),
      );
      const reported = reports.flat();
      assert.equal(new Set(reported).size, reported.length);
      assert.deepEqual(reported.sort(), [...ids].sort());
    });
  });
}
