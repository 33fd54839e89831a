import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import type { EventFrame } from "../../src/protocol/event.ts";
import type { Task } from "../../src/protocol/task.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { runTaskWithEvents, workerLogs } from "../helpers/tasks.ts";
import { TestViewer } from "../helpers/viewer.ts";

/*
 * Environments proved from inside the real sandbox: the setup script and the agent's own Bash
 * tool (scripted `shell` scenario) probe what each phase may reach and which values it holds.
 */

const AGENT_SECRET = "agent-secret-value-4b1d77e0";
const SETUP_SECRET = "setup-only-secret-value-93aa";
let omoi: TestOmoi;
let setupHost: Server;
let agentHost: Server;
const hits = { setup: 0, agent: 0 };

function serve(name: keyof typeof hits): Promise<Server> {
  const server = createServer((_request, response) => {
    hits[name]++;
    response.end(`hello from ${name} host`);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}
const portOf = (server: Server) => (server.address() as { port: number }).port;

before(async () => {
  setupHost = await serve("setup");
  agentHost = await serve("agent");
  omoi = await startTestOmoi();
});
after(async () => {
  await omoi.stop();
  setupHost.close();
  agentHost.close();
});

const runTask = (environment: string, command: string) =>
  runTaskWithEvents(omoi.url, { prompt: `[scenario:shell] ${command}`, environment });

const setupLines = (events: EventFrame[]) =>
  events
    .filter((event) => event.event_type === "environment.setup_output")
    .flatMap((event) => (event.payload.lines as { text: string }[]).map((line) => line.text));

describe("environments in the sandbox", () => {
  test("setup installs a tool the agent uses; each phase reaches only its hosts; secrets go where configured and never into events", async () => {
    const setupUrl = `http://127.0.0.1:${portOf(setupHost)}/`;
    const agentUrl = `http://127.0.0.1:${portOf(agentHost)}/`;
    const created = await api(omoi.url, "POST", "/api/v1/environments", {
      name: "probe",
      setup_script: [
        'mkdir -p "$HOME/bin"',
        `printf '#!/bin/sh\\necho hello-tool-works\\n' > "$HOME/bin/hello-tool"`,
        'chmod +x "$HOME/bin/hello-tool"',
        "echo setup-file > from-setup.txt",
        `curl -s -m 5 -o /dev/null -w 'setup-to-setup-host=%{http_code}\\n' ${setupUrl} || echo setup-to-setup-host=unreachable`,
        `curl -s -m 5 -o /dev/null -w 'setup-to-agent-host=%{http_code}\\n' ${agentUrl} || echo setup-to-agent-host=unreachable`,
        'echo "setup sees $SETUP_SECRET and $AGENT_SECRET"',
        'echo "greeting=$GREETING"',
      ].join("\n"),
      network: {
        setup: { level: "custom", hosts: [`127.0.0.1:${portOf(setupHost)}`] },
        agent: { level: "custom", hosts: [`127.0.0.1:${portOf(agentHost)}`] },
      },
      variables: { GREETING: "hi-there" },
      secrets: {
        AGENT_SECRET: { value: AGENT_SECRET },
        SETUP_SECRET: { value: SETUP_SECRET, setup_only: true },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    hits.setup = 0;
    hits.agent = 0;

    const probe = [
      '"$HOME/bin/hello-tool"',
      "cat from-setup.txt",
      'echo "greeting=$GREETING"',
      'echo "agent-secret=$AGENT_SECRET"',
      'echo "agent-secret-reversed=$(echo "$AGENT_SECRET" | rev)"',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, run inside the sandbox
      'echo "setup-secret=${SETUP_SECRET:-absent}"',
      `curl -s -m 5 -o /dev/null -w 'agent-to-agent-host=%{http_code}\\n' ${agentUrl} || echo agent-to-agent-host=unreachable`,
      `curl -s -m 5 -o /dev/null -w 'agent-to-setup-host=%{http_code}\\n' ${setupUrl} || echo agent-to-setup-host=unreachable`,
    ].join("; ");
    const { task, events } = await runTask("probe", probe);
    assert.equal(task.status, "completed", task.error ?? "");

    const types = events.map((event) => event.event_type);
    const started = types.indexOf("environment.setup_started");
    const finished = types.indexOf("environment.setup_finished");
    assert.ok(started >= 0 && finished > started, `setup events in order: ${types.join(", ")}`);
    assert.ok(finished < types.indexOf("agent.started"), "setup finishes before the agent starts");
    const finish = events[finished].payload;
    assert.equal(finish.exit_code, 0);
    assert.equal(finish.cached, false);

    const setup = setupLines(events).join("\n");
    assert.match(setup, /setup-to-setup-host=200/);
    assert.doesNotMatch(setup, /setup-to-agent-host=200/);
    assert.match(setup, /greeting=hi-there/);
    assert.match(setup, /setup sees •+ and •+/, "setup has both secrets, masked in its output");

    const result = events.find((event) => event.event_type === "agent.tool_result");
    const output = String(result?.payload.output);
    assert.match(output, /hello-tool-works/);
    assert.match(output, /setup-file/);
    assert.match(output, /greeting=hi-there/);
    assert.match(output, /agent-secret=•+/);
    assert.match(
      output,
      new RegExp(`agent-secret-reversed=${[...AGENT_SECRET].reverse().join("")}`),
    );
    assert.match(output, /setup-secret=absent/);
    assert.match(output, /agent-to-agent-host=200/);
    assert.doesNotMatch(output, /agent-to-setup-host=200/);
    assert.equal(hits.setup, 1, "only setup reached the setup host");
    assert.equal(hits.agent, 1, "only the agent reached the agent host");

    // Nothing stored or served holds a secret's value.
    const stored = await api(
      omoi.url,
      "GET",
      `/api/v1/sandboxes/${task.sandbox_id}/events?limit=1000`,
    );
    const everything = JSON.stringify([stored.body, events, task]);
    assert.ok(!everything.includes(AGENT_SECRET), "the agent secret was stored");
    assert.ok(!everything.includes(SETUP_SECRET), "the setup-only secret was stored");
    const logs = await workerLogs(omoi.dataDir);
    assert.ok(!logs.includes(AGENT_SECRET) && !logs.includes(SETUP_SECRET), "a secret was logged");
  });

  test("a failing setup fails the task's start with the tail of its output", async () => {
    const created = await api(omoi.url, "POST", "/api/v1/environments", {
      name: "broken",
      setup_script: "echo preparing\necho 'npm ERR! missing thing' >&2\nexit 3\necho never",
    });
    assert.equal(created.status, 201);
    const { task, events } = await runTask("broken", "echo should-not-run");
    assert.equal(task.status, "failed");
    assert.match(task.error ?? "", /setup script exited with code 3/);
    assert.match(task.error ?? "", /npm ERR! missing thing/);
    const finish = events.find((event) => event.event_type === "environment.setup_finished");
    assert.equal(finish?.payload.exit_code, 3);
    const lines = setupLines(events);
    assert.ok(
      lines.includes("preparing") && lines.includes("npm ERR! missing thing"),
      lines.join("|"),
    );
    assert.ok(!lines.includes("never"), "bash -e stops at the failing line");
    assert.ok(
      !events.some((event) => event.event_type === "agent.tool_use"),
      "the agent never ran",
    );
  });

  test("the repository's CLAUDE.md reaches the model, as Claude Code honours it in a checkout", async () => {
    const created = await api(omoi.url, "POST", "/api/v1/environments", {
      name: "with-memory",
      // The workspace gets a CLAUDE.md the way a cloned repository would have one.
      setup_script:
        "printf 'Always answer in haiku, says MARKER-7f3a.\\n\\nMore rules.\\n' > CLAUDE.md",
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const task = await api<Task>(omoi.url, "POST", "/api/v1/tasks", {
      prompt: "[scenario:memory] what are the rules?",
      environment: "with-memory",
    });
    assert.equal(task.status, 201);
    const viewer = new TestViewer(
      `${omoi.url.replace("http", "ws")}/ws/events?entity_types=task&entity_ids=${task.body.id}&since=0`,
    );
    try {
      const said = (event: EventFrame) =>
        event.event_type === "agent.message" && JSON.stringify(event.payload).includes("Project");
      await viewer.waitForEvent("agent.message", said, 120_000);
      const message = viewer.events.find(said);
      assert.match(JSON.stringify(message?.payload), /Always answer in haiku, says MARKER-7f3a\./);
    } finally {
      viewer.close();
    }
  });

  test("setup is paid once: a second task restores the snapshot (its home tool still works); a changed script or a request rebuilds it", async () => {
    const script = (word: string) =>
      [
        'mkdir -p "$HOME/bin"',
        `printf '#!/bin/sh\\necho ${word}\\n' > "$HOME/bin/snap-tool"`,
        'chmod +x "$HOME/bin/snap-tool"',
        "mkdir -p deps && echo installed > deps/marker.txt",
        "echo setup-ran",
      ].join("\n");
    const created = await api<{ id: string }>(omoi.url, "POST", "/api/v1/environments", {
      name: "snapshotted",
      setup_script: script("tool-v1"),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const probe = '"$HOME/bin/snap-tool"; cat deps/marker.txt';
    const finished = (events: EventFrame[]) =>
      events.find((event) => event.event_type === "environment.setup_finished")?.payload;
    const started = (events: EventFrame[]) =>
      events.find((event) => event.event_type === "environment.setup_started")?.payload;
    const toolSaid = (events: EventFrame[]) =>
      JSON.stringify(events.filter((e) => e.event_type.startsWith("agent.")));

    const first = await runTask("snapshotted", probe);
    assert.equal(first.task.status, "completed");
    assert.equal(finished(first.events)?.cached, false);
    assert.ok(setupLines(first.events).includes("setup-ran"));

    const second = await runTask("snapshotted", probe);
    assert.equal(second.task.status, "completed");
    assert.equal(finished(second.events)?.cached, true);
    assert.equal(started(second.events)?.snapshot, true);
    assert.deepEqual(setupLines(second.events), [], "the script did not run again");
    assert.match(toolSaid(second.events), /tool-v1/);
    assert.match(toolSaid(second.events), /installed/);

    const patched = await api(omoi.url, "PATCH", `/api/v1/environments/${created.body.id}`, {
      setup_script: script("tool-v2"),
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const third = await runTask("snapshotted", probe);
    assert.equal(third.task.status, "completed");
    assert.equal(finished(third.events)?.cached, false);
    assert.ok(setupLines(third.events).includes("setup-ran"));
    assert.match(toolSaid(third.events), /tool-v2/);

    // A rebuild on request: the next task runs the script again, the one after uses the new snapshot.
    const rebuilt = await api<{ snapshots_reset_at: number | null }>(
      omoi.url,
      "DELETE",
      `/api/v1/environments/${created.body.id}/snapshots`,
    );
    assert.equal(rebuilt.status, 200, JSON.stringify(rebuilt.body));
    assert.equal(typeof rebuilt.body.snapshots_reset_at, "number");
    const fourth = await runTask("snapshotted", probe);
    assert.equal(fourth.task.status, "completed");
    assert.equal(finished(fourth.events)?.cached, false, "the rebuild ran setup again");
    assert.ok(setupLines(fourth.events).includes("setup-ran"));
    const fifth = await runTask("snapshotted", probe);
    assert.equal(finished(fifth.events)?.cached, true, "and kept a new snapshot");
    assert.match(toolSaid(fifth.events), /tool-v2/);
  });
});
