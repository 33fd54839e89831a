import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { MemoryBus } from "../../src/bus/memory.ts";
import { Ingest } from "../../src/ingest/ingest.ts";
import { Lifecycle } from "../../src/orchestrator/lifecycle.ts";
import {
  renderLifecycleDocs,
  SANDBOX_TRANSITIONS,
  type SandboxTransitionName,
  TASK_TRANSITIONS,
  type TaskTransitionName,
} from "../../src/orchestrator/state-table.ts";
import type { StoredEvent } from "../../src/protocol/event.ts";
import { newSandboxId } from "../../src/protocol/ids.ts";
import { SandboxStatus } from "../../src/protocol/sandbox.ts";
import { sandboxStatusAfter, taskStatusAfter } from "../../src/protocol/status.ts";
import { TaskStatus } from "../../src/protocol/task.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { PROJECT_ROOT, tempDir } from "../helpers/omoi.ts";
import { task as newTask } from "../store/fixtures.ts";

const data = tempDir();
const store = new SqliteStore(`${data.dir}/omoi.db`);
const bus = new MemoryBus();
const lifecycle = new Lifecycle(store, new Ingest(store, bus), 60_000);
const heard: StoredEvent[] = [];

before(async () => {
  await store.migrate();
  await bus.start();
  bus.subscribe((event) => heard.push(event));
});

after(async () => {
  await bus.close();
  await store.close();
  data.remove();
});

async function taskIn(status: TaskStatus): Promise<string> {
  const task = await lifecycle.createTask(newTask({ title: "walk" }), { title: "walk" });
  await store.updateTask(task.id, { status });
  return task.id;
}

async function sandboxIn(status: SandboxStatus): Promise<string> {
  const sandbox = await lifecycle.createSandbox(
    "create",
    { id: newSandboxId(), task_id: null, kind: "agent", provider: "local", owner: "r1" },
    { kind: "agent" },
  );
  await store.updateSandbox(sandbox.id, { status });
  return sandbox.id;
}

const eventsOf = (id: string) =>
  heard.filter((event) => event.task_id === id || event.sandbox_id === id);

describe("the lifecycle state table", () => {
  for (const [name, transition] of Object.entries(TASK_TRANSITIONS)) {
    if (transition.from.length === 0) continue;
    test(`task transition '${name}' happens from ${transition.from.join("|")} and is refused from every other status`, async () => {
      for (const status of TaskStatus.options) {
        const id = await taskIn(status);
        const before = eventsOf(id).length;
        const result = await lifecycle.task(name as TaskTransitionName, id, { payload: {} });
        const row = await store.getTask(id);
        const told = eventsOf(id).slice(before);
        if ((transition.from as readonly string[]).includes(status)) {
          assert.equal(result?.status, transition.to, `${name} from ${status}`);
          assert.equal(row?.status, transition.to);
          const expected =
            transition.event && !("announce" in transition) ? [transition.event.type] : [];
          assert.deepEqual(
            told.map((event) => event.event_type),
            expected,
            `${name} from ${status} tells one event`,
          );
        } else {
          assert.equal(result, undefined, `${name} must be refused from ${status}`);
          assert.equal(row?.status, status, `${name} from ${status} changed nothing`);
          assert.deepEqual(told, [], `${name} from ${status} told nothing`);
        }
      }
    });
  }

  test("task creation stores a pending task and tells task.created", async () => {
    const id = await taskIn("pending");
    assert.equal((await store.getTask(id))?.status, TASK_TRANSITIONS.create.to);
    assert.deepEqual(
      eventsOf(id).map((event) => event.event_type),
      [TASK_TRANSITIONS.create.event.type],
    );
  });

  for (const [name, transition] of Object.entries(SANDBOX_TRANSITIONS)) {
    if (transition.from.length === 0) continue;
    test(`sandbox transition '${name}' happens from ${transition.from.join("|")} and is refused from every other status`, async () => {
      for (const status of SandboxStatus.options) {
        const id = await sandboxIn(status);
        const before = eventsOf(id).length;
        const result = await lifecycle.sandbox(name as SandboxTransitionName, id);
        const row = await store.getSandbox(id);
        const told = eventsOf(id).slice(before);
        if ((transition.from as readonly string[]).includes(status)) {
          assert.equal(result?.status, transition.to, `${name} from ${status}`);
          assert.equal(row?.status, transition.to);
          assert.deepEqual(
            told.map((event) => event.event_type),
            transition.event ? [transition.event.type] : [],
          );
        } else {
          assert.equal(result, undefined, `${name} must be refused from ${status}`);
          assert.equal(row?.status, status);
          assert.deepEqual(told, []);
        }
      }
    });
  }

  test("sandbox creation and registration store their first status and tell sandbox.created", async () => {
    for (const name of ["create", "register"] as const) {
      const sandbox = await lifecycle.createSandbox(
        name,
        { id: newSandboxId(), task_id: null, kind: "external", provider: "external", owner: null },
        {},
      );
      assert.equal(sandbox.status, SANDBOX_TRANSITIONS[name].to);
      assert.deepEqual(
        eventsOf(sandbox.id).map((event) => event.event_type),
        [SANDBOX_TRANSITIONS[name].event.type],
      );
    }
  });

  test("each transition's event announces the status the transition ends in (the shared event → status map agrees)", () => {
    for (const table of [TASK_TRANSITIONS, SANDBOX_TRANSITIONS]) {
      for (const [name, transition] of Object.entries(table)) {
        if (!transition.event) continue;
        const event = {
          event_type: transition.event.type,
          payload: "marks" in transition ? transition.marks : {},
        };
        const announced =
          table === TASK_TRANSITIONS ? taskStatusAfter(event) : sandboxStatusAfter(event);
        assert.equal(announced, transition.to, `${name}: ${transition.event.type}`);
      }
    }
  });

  test("docs/orchestrator.md shows exactly the diagrams and tables generated from the state table", () => {
    const doc = readFileSync(`${PROJECT_ROOT}/docs/orchestrator.md`, "utf8");
    const start = "<!-- lifecycle-table:start (generated from src/orchestrator/state-table.ts) -->";
    const end = "<!-- lifecycle-table:end -->";
    const from = doc.indexOf(start);
    const to = doc.indexOf(end);
    assert.ok(from >= 0 && to > from, "docs/orchestrator.md has the generated section markers");
    const shown = doc.slice(from + start.length, to).trim();
    assert.equal(
      shown,
      renderLifecycleDocs(),
      "regenerate the section: print renderLifecycleDocs() and paste it between the markers",
    );
  });
});
