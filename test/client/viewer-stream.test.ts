import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { nodeViewerSocket } from "../../src/client/node-socket.ts";
import type { EventFrame } from "../../src/client/viewer-frame.ts";
import {
  type ConnectionPhase,
  type OpenViewerSocket,
  type ViewerSocket,
  ViewerStream,
  type ViewerStreamFailure,
} from "../../src/client/viewer-stream.ts";
import { api, PROJECT_ROOT, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";

/*
 * The one viewer-stream client (the web app's and the CLI's) against a real server: every
 * event once and in order across a dropped connection, and the failures reconnecting cannot
 * fix stop it at once. And it stays fit for the browser: nothing from Node, no zod.
 */

const TOKEN = "viewer-stream-token";
let omoi: TestOmoi;

before(async () => {
  omoi = await startTestOmoi({ OMOI_RUN_AGENTS: "0", OMOI_API_TOKEN: TOKEN });
});
after(async () => {
  await omoi?.stop();
});

async function externalSandbox(): Promise<string> {
  const created = await api<{ id: string }>(omoi.url, "POST", "/api/v1/sandboxes", {}, TOKEN);
  assert.equal(created.status, 201);
  return created.body.id;
}

async function post(sandbox: string, contents: string[]) {
  const events = contents.map((content) => ({ event_type: "agent.message", payload: { content } }));
  const stored = await api(omoi.url, "POST", `/api/v1/sandboxes/${sandbox}/events`, events, TOKEN);
  assert.equal(stored.status, 201);
}

/** Opens sockets as the CLI does and keeps them, so a test can cut the connection. */
function recordingSockets(token: string): { open: OpenViewerSocket; sockets: ViewerSocket[] } {
  const open = nodeViewerSocket({ token });
  const sockets: ViewerSocket[] = [];
  return {
    sockets,
    open: (url) => {
      const socket = open(url);
      sockets.push(socket);
      return socket;
    },
  };
}

function until(check: () => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (check()) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - started > 20_000) {
        clearInterval(poll);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 10);
  });
}

describe("the viewer-stream client", () => {
  it("replays a stream, follows it live and resumes after a dropped connection: every event once, in order", async () => {
    const sandbox = await externalSandbox();
    await post(sandbox, ["one", "two"]);
    const seen: EventFrame[] = [];
    const phases: ConnectionPhase[] = [];
    const { open, sockets } = recordingSockets(TOKEN);
    const stream = new ViewerStream(
      { entityTypes: ["sandbox"], entityIds: [sandbox], replay: true },
      { onEvent: (event) => seen.push(event), onState: (state) => phases.push(state.phase) },
      { baseUrl: omoi.url, openSocket: open, backoff: { baseMs: 10, maxMs: 50 } },
    );
    stream.start();
    try {
      await until(() => seen.length === 3 && phases.at(-1) === "live", "replay, then live");
      await post(sandbox, ["three"]);
      await until(() => seen.length === 4, "a live event");

      // The connection drops; events stored meanwhile arrive after the reconnect.
      const first = sockets[0];
      const report = first.onclose;
      first.close();
      report?.({ code: 1006, reason: "" });
      await post(sandbox, ["four", "five"]);
      await until(() => seen.length === 6, "the events stored while disconnected");
      assert.equal(sockets.length, 2, "one reconnect");
      assert.ok(phases.includes("reconnecting"));
      assert.ok(sockets[1].readyState === 1);

      assert.deepEqual(
        seen.map((event) => event.seq),
        [1, 2, 3, 4, 5, 6],
      );
      assert.deepEqual(
        seen.slice(1).map((event) => event.payload.content),
        ["one", "two", "three", "four", "five"],
      );
      assert.deepEqual(stream.getCursors(), { [sandbox]: 6 });
    } finally {
      stream.stop();
    }
  });

  it("opens at the tail of a stream: the last N events, then live, on one connection", async () => {
    const sandbox = await externalSandbox();
    await post(sandbox, ["one", "two", "three", "four"]);
    const seen: EventFrame[] = [];
    const starts: Record<string, number>[] = [];
    const { open, sockets } = recordingSockets(TOKEN);
    const stream = new ViewerStream(
      { entityTypes: ["sandbox"], entityIds: [sandbox], replay: true, tail: 2 },
      {
        onEvent: (event) => seen.push(event),
        onSubscribed: (cursors) => starts.push(cursors),
      },
      { baseUrl: omoi.url, openSocket: open, backoff: { baseMs: 10, maxMs: 50 } },
    );
    stream.start();
    try {
      await until(() => seen.length === 2, "the tail");
      await post(sandbox, ["five"]);
      await until(() => seen.length === 3, "a live event");
      assert.deepEqual(starts, [{ [sandbox]: 3 }], "history ends where the tail starts");
      assert.deepEqual(
        seen.map((event) => event.seq),
        [4, 5, 6],
      );
      // The tail's first event follows the start the server named: not a gap to resync.
      assert.equal(sockets.length, 1);
    } finally {
      stream.stop();
    }
  });

  it("stops for good when the server refuses the token, without retrying", async () => {
    const sandbox = await externalSandbox();
    const { open, sockets } = recordingSockets("not-the-token");
    const failed = new Promise<ViewerStreamFailure>((resolve) => {
      const stream = new ViewerStream(
        { entityIds: [sandbox], replay: true },
        { onEvent: () => {}, onFailed: resolve },
        { baseUrl: omoi.url, openSocket: open, backoff: { baseMs: 10, maxMs: 50 } },
      );
      stream.start();
    });
    const failure = await failed;
    assert.ok(failure.status === 401 || failure.code === 4401, JSON.stringify(failure));
    assert.equal(sockets.length, 1);
  });

  it("stops for good on filters the server refuses (close code 4400)", async () => {
    const { open, sockets } = recordingSockets(TOKEN);
    const failure = await new Promise<ViewerStreamFailure>((resolve) => {
      const stream = new ViewerStream(
        { eventTypes: ["Not An Event Type"], replay: false },
        { onEvent: () => {}, onFailed: resolve },
        { baseUrl: omoi.url, openSocket: open, backoff: { baseMs: 10, maxMs: 50 } },
      );
      stream.start();
    });
    assert.ok(failure.code === 4400 || failure.status === 400, JSON.stringify(failure));
    assert.equal(sockets.length, 1);
  });

  it("is fit for the browser, as is the API client: their modules import nothing from Node and no zod", () => {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = readFileSync(file, "utf8");
      for (const match of source.matchAll(/^import\s+(type\s+)?[^;]*?from\s+"([^"]+)";/gms)) {
        const [, typeOnly, specifier] = match;
        if (typeOnly) continue;
        assert.ok(
          specifier.startsWith("."),
          `${path.relative(PROJECT_ROOT, file)} imports ${specifier}`,
        );
        visit(path.resolve(path.dirname(file), specifier));
      }
    };
    visit(path.join(PROJECT_ROOT, "src/client/viewer-stream.ts"));
    visit(path.join(PROJECT_ROOT, "src/client/api.ts"));
    assert.ok(seen.size >= 4);
  });
});
