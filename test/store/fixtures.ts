import { afterEach } from "node:test";
import { newEventId, newSandboxId, newTaskId } from "../../src/protocol/ids.ts";
import type { EventToStore, NewTask, Store } from "../../src/store/store.ts";

/**
 * Opens a new, not yet migrated store on the named database. The same name means the same
 * data (a second call is a second "replica"); a new name means an empty database.
 */
export type MakeStore = (database: string) => Store;

export interface StoreOpener {
  /** A name no other test uses: an empty database. */
  freshDatabase(): string;
  /** Opens and migrates a store on `database`; closed after the test. */
  open(database: string): Promise<Store>;
  /** Several stores on one fresh database, as if several replicas shared it. */
  openReplicas(count: number): Promise<Store[]>;
}

let databaseCounter = 0;

/** Registers an afterEach that closes every store the test opened. */
export function storeOpener(makeStore: MakeStore): StoreOpener {
  const opened: Store[] = [];
  afterEach(async () => {
    const closing = opened.splice(0);
    await Promise.all(closing.map((store) => store.close()));
  });
  const open = async (database: string) => {
    const store = makeStore(database);
    opened.push(store);
    await store.migrate();
    return store;
  };
  const freshDatabase = () => `db${process.pid}_${++databaseCounter}`;
  return {
    freshDatabase,
    open,
    async openReplicas(count) {
      const database = freshDatabase();
      const first = await open(database);
      const others = await Promise.all(Array.from({ length: count - 1 }, () => open(database)));
      return [first, ...others];
    },
  };
}

export function event(streamId: string, overrides: Partial<EventToStore> = {}): EventToStore {
  return {
    id: newEventId(),
    stream_id: streamId,
    sandbox_id: streamId,
    task_id: null,
    event_type: "agent.message",
    source: "agent",
    payload: { content: "hello" },
    emitted_at: Date.now(),
    ...overrides,
  };
}

export function task(overrides: Partial<NewTask> = {}): NewTask {
  return {
    id: newTaskId(),
    title: "a task",
    prompt: "do the thing",
    phase_id: "PHASE_IMPLEMENTATION",
    priority: "MEDIUM",
    runtime: "claude",
    model: null,
    max_turns: null,
    max_budget_usd: null,
    depends_on: [],
    max_retries: 0,
    ...overrides,
  };
}

export const streamId = () => newSandboxId();

/** 1, 2, …, n */
export const range = (n: number) => Array.from({ length: n }, (_, index) => index + 1);
