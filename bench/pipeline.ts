import { monitorEventLoopDelay } from "node:perf_hooks";
import { type BenchEvent, benchEvent, ChannelClient } from "./lib/channel-client.ts";
import { createExternalSandbox, request } from "./lib/http.ts";
import { pace } from "./lib/pace.ts";
import { type BenchServer, cpuSeconds } from "./lib/server.ts";
import { type Summary, summarize } from "./lib/stats.ts";
import { BenchViewer } from "./lib/viewer.ts";

/** `channel`: the worker channel WebSocket. `http`: the seed's POST /events, one event a request. */
export type Transport = "channel" | "http";

export interface ThroughputResult {
  mode: string;
  sandboxes: number;
  seconds: number;
  stored: number;
  rate: number;
  delivered: number;
}

export interface FanOutResult {
  sandboxes: number;
  viewers: number;
  eventsPerSandbox: number;
  targetRate: number;
  seconds: number;
  framesExpected: number;
  framesReceived: number;
  viewersExact: number;
  lost: number;
  duplicated: number;
  laggedViewers: number;
  latency: Summary;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends a sandbox's events the chosen way; never waits for the server (open loop). */
interface Emitter {
  emit(sandbox: number, events: BenchEvent[]): void;
  failures: number;
  close(): void;
}

async function emitter(
  server: BenchServer,
  transport: Transport,
  sandboxes: string[],
): Promise<Emitter> {
  if (transport === "channel") {
    const clients = await Promise.all(
      sandboxes.map((id) => ChannelClient.connect(server.ws, id, server.token(id))),
    );
    return {
      failures: 0,
      emit: (sandbox, events) => void clients[sandbox].sendEvents(events),
      close: () => {
        for (const client of clients) client.close();
      },
    };
  }
  const result: Emitter = {
    failures: 0,
    emit: (sandbox, events) => {
      for (const event of events) {
        request(server.url, "POST", `/api/v1/sandboxes/${sandboxes[sandbox]}/events`, event).then(
          (response) => {
            if (response.status !== 201) result.failures++;
          },
          () => result.failures++,
        );
      }
    },
    close: () => undefined,
  };
  return result;
}

/** Waits until `done()` or the deadline, checking every few ms. */
async function until(done: () => boolean, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  while (!done() && performance.now() < deadline) await sleep(5);
}

/** Figures of one latency window (ms, events/s, share of a core). */
export interface LatencyFigures {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  samples: number;
  sent: number;
  received: number;
  achievedRate: number;
  /** Millisecond-resolution split on one clock: emitted_at → stored_at, stored_at → received. */
  toStoredP99: number;
  storedToViewerP99: number;
  /** This (client) process's own event-loop delay during the window, p99 in ms. */
  clientLoopDelayP99: number;
  /** Server process CPU use during the window, as a share of one core. */
  serverCpu: number;
  /** Server CPU time per event received, µs. */
  cpuPerEvent: number;
  [figure: string]: number;
}

/**
 * Emit → viewer receive latency at a steady rate, one viewer per sandbox, on sandboxes
 * that stay open between windows so windows can alternate with other subjects.
 */
export async function openLatencyProbe(
  server: BenchServer,
  transport: Transport,
  options: { rate: number; sandboxes: number },
) {
  const sandboxes = await Promise.all(
    Array.from({ length: options.sandboxes }, () => createExternalSandbox(server.url)),
  );
  const sentAt = new Map<string, number>();
  let samples: number[] = [];
  let toStored: number[] = [];
  let storedToViewer: number[] = [];
  let received = 0;
  const viewers = await Promise.all(
    sandboxes.map((id) =>
      BenchViewer.open(server.ws, { entity_ids: id }, (event, at) => {
        const sent = sentAt.get(event.id);
        if (sent === undefined) return;
        sentAt.delete(event.id);
        received++;
        samples.push(at - sent);
        toStored.push(event.stored_at - event.emitted_at);
        storedToViewer.push(Date.now() - event.stored_at);
      }),
    ),
  );
  const out = await emitter(server, transport, sandboxes);
  let sent = 0;
  const send = (stream: number, count: number) => {
    const events: BenchEvent[] = [];
    const now = performance.now();
    for (let index = 0; index < count; index++) {
      const event = benchEvent(`latency ${sent++}`);
      sentAt.set(event.id, now);
      events.push(event);
    }
    out.emit(stream, events);
  };
  return {
    async window(seconds: number): Promise<LatencyFigures> {
      samples = [];
      toStored = [];
      storedToViewer = [];
      const loopDelay = monitorEventLoopDelay({ resolution: 1 });
      loopDelay.enable();
      const sentBefore = sent;
      const receivedBefore = received;
      const cpuBefore = cpuSeconds(server.pid);
      const paced = await pace({ rate: options.rate, seconds, streams: sandboxes.length, send });
      // A window ends when every event arrived, so a backlog never spills into the next subject.
      await until(() => sentAt.size === 0, 60_000);
      const serverCpu = (cpuSeconds(server.pid) - cpuBefore) / paced.seconds;
      loopDelay.disable();
      if (out.failures > 0) throw new Error(`${out.failures} ${transport} sends failed`);
      const latency = summarize(samples);
      return {
        p50: latency.p50,
        p95: latency.p95,
        p99: latency.p99,
        max: latency.max,
        samples: latency.count,
        sent: sent - sentBefore,
        received: received - receivedBefore,
        achievedRate: (sent - sentBefore) / paced.seconds,
        toStoredP99: summarize(toStored).p99,
        storedToViewerP99: summarize(storedToViewer).p99,
        clientLoopDelayP99: loopDelay.percentile(99) / 1e6,
        serverCpu,
        cpuPerEvent: (serverCpu * paced.seconds * 1e6) / Math.max(1, received - receivedBefore),
      };
    },
    close() {
      out.close();
      for (const viewer of viewers) viewer.close();
    },
  };
}

/**
 * Closed-loop ingest: each sandbox keeps `window` requests in flight for `seconds`, counting
 * events the server acknowledged as stored. One viewer per sandbox counts what it is sent.
 */
export async function throughputRun(
  server: BenchServer,
  mode: { transport: Transport; batch: number; window: number },
  options: { seconds: number; sandboxes: number },
): Promise<ThroughputResult> {
  const sandboxes = await Promise.all(
    Array.from({ length: options.sandboxes }, () => createExternalSandbox(server.url)),
  );
  let delivered = 0;
  const viewers = await Promise.all(
    sandboxes.map((id) =>
      BenchViewer.open(server.ws, { entity_ids: id }, (event) => {
        if (event.event_type === "agent.message") delivered++;
      }),
    ),
  );
  const clients =
    mode.transport === "channel"
      ? await Promise.all(
          sandboxes.map((id) => ChannelClient.connect(server.ws, id, server.token(id))),
        )
      : [];
  let stored = 0;
  const start = performance.now();
  const deadline = start + options.seconds * 1000;
  const batch = () => Array.from({ length: mode.batch }, (_, index) => benchEvent(`t${index}`));
  const lane = async (sandbox: number) => {
    while (performance.now() < deadline) {
      if (mode.transport === "channel") {
        await clients[sandbox].sendEvents(batch());
      } else {
        const events = batch();
        const body = mode.batch === 1 ? events[0] : events;
        const response = await request(
          server.url,
          "POST",
          `/api/v1/sandboxes/${sandboxes[sandbox]}/events`,
          body,
        );
        if (response.status !== 201) throw new Error(`POST events: ${response.status}`);
      }
      stored += mode.batch;
    }
  };
  await Promise.all(
    sandboxes.flatMap((_, sandbox) => Array.from({ length: mode.window }, () => lane(sandbox))),
  );
  const seconds = (performance.now() - start) / 1000;
  await until(() => delivered >= stored, 10_000);
  for (const client of clients) client.close();
  for (const viewer of viewers) viewer.close();
  const label =
    mode.transport === "channel"
      ? `worker channel, batches of ${mode.batch}, ${mode.window} in flight per sandbox`
      : mode.batch === 1
        ? `HTTP POST, one event per request, ${mode.window} in flight per sandbox`
        : `HTTP POST, batches of ${mode.batch}, ${mode.window} in flight per sandbox`;
  return {
    mode: label,
    sandboxes: sandboxes.length,
    seconds,
    stored,
    rate: stored / seconds,
    delivered,
  };
}

/**
 * Many producers, many viewers: each sandbox's events go to `viewersPerSandbox` viewers
 * that subscribed with `since=0`; every viewer must end with exactly seq 1..N.
 */
export async function fanOutRun(
  server: BenchServer,
  options: {
    sandboxes: number;
    viewersPerSandbox: number;
    eventsPerSandbox: number;
    rate: number;
  },
): Promise<FanOutResult> {
  const sandboxes: string[] = [];
  for (let index = 0; index < options.sandboxes; index += 20) {
    const count = Math.min(20, options.sandboxes - index);
    sandboxes.push(
      ...(await Promise.all(
        Array.from({ length: count }, () => createExternalSandbox(server.url)),
      )),
    );
  }
  const sentAt = new Map<string, number>();
  const samples: number[] = [];
  const seqs: number[][] = [];
  const viewers: BenchViewer[] = [];
  for (let round = 0; round < options.viewersPerSandbox; round++) {
    viewers.push(
      ...(await Promise.all(
        sandboxes.map((id) => {
          const seen: number[] = [];
          seqs.push(seen);
          return BenchViewer.open(server.ws, { entity_ids: id, since: "0" }, (event, at) => {
            seen.push(event.seq);
            const sent = sentAt.get(event.id);
            if (sent !== undefined) samples.push(at - sent);
          });
        }),
      )),
    );
  }
  await Promise.all(viewers.map((viewer) => viewer.whenReplayed()));
  const clients: ChannelClient[] = [];
  for (let index = 0; index < sandboxes.length; index += 20) {
    clients.push(
      ...(await Promise.all(
        sandboxes
          .slice(index, index + 20)
          .map((id) => ChannelClient.connect(server.ws, id, server.token(id))),
      )),
    );
  }
  const total = options.sandboxes * options.eventsPerSandbox;
  const acks: Promise<void>[] = [];
  const { seconds } = await pace({
    rate: options.rate,
    seconds: total / options.rate,
    streams: sandboxes.length,
    perStream: options.eventsPerSandbox,
    send: (stream, count) => {
      const now = performance.now();
      const events = Array.from({ length: count }, () => {
        const event = benchEvent("fan-out");
        sentAt.set(event.id, now);
        return event;
      });
      acks.push(clients[stream].sendEvents(events));
    },
  });
  await Promise.all(acks);
  // Each stream holds sandbox.created (seq 1) and then the emitted events.
  const perStream = options.eventsPerSandbox + 1;
  const complete = () => seqs.every((seen) => seen.length >= perStream);
  await until(complete, 30_000);
  let exact = 0;
  let lost = 0;
  let duplicated = 0;
  for (const seen of seqs) {
    const unique = new Set(seen);
    duplicated += seen.length - unique.size;
    for (let seq = 1; seq <= perStream; seq++) if (!unique.has(seq)) lost++;
    if (seen.length === perStream && seen.every((seq, index) => seq === index + 1)) exact++;
  }
  const laggedViewers = viewers.filter((viewer) => viewer.lagged).length;
  for (const client of clients) client.close();
  for (const viewer of viewers) viewer.close();
  return {
    sandboxes: sandboxes.length,
    viewers: viewers.length,
    eventsPerSandbox: options.eventsPerSandbox,
    targetRate: options.rate,
    seconds,
    framesExpected: viewers.length * perStream,
    framesReceived: seqs.reduce((sum, seen) => sum + seen.length, 0),
    viewersExact: exact,
    lost,
    duplicated,
    laggedViewers,
    latency: summarize(samples),
  };
}

/**
 * One event at a time through the worker channel to a viewer, each sent when the previous
 * one arrived: the path's own latency with no queue in front of it, which a busy machine
 * stretches far less than a steady 2,000 events/s.
 */
export async function openSerialProbe(server: BenchServer) {
  const sandbox = await createExternalSandbox(server.url);
  let arrived: ((at: number) => void) | undefined;
  let expected = "";
  const viewer = await BenchViewer.open(server.ws, { entity_ids: sandbox }, (event, at) => {
    if (event.id === expected) arrived?.(at);
  });
  const client = await ChannelClient.connect(server.ws, sandbox, server.token(sandbox));
  return {
    async window(events: number): Promise<Record<string, number>> {
      const times: number[] = [];
      for (let index = 0; index < events; index++) {
        const event = benchEvent(`serial ${index}`);
        expected = event.id;
        const received = new Promise<number>((resolve) => {
          arrived = resolve;
        });
        const start = performance.now();
        void client.sendEvents([event]);
        times.push((await received) - start);
        await sleep(2);
      }
      const summary = summarize(times);
      return { p50: summary.p50, p95: summary.p95, p99: summary.p99, samples: summary.count };
    },
    close() {
      client.close();
      viewer.close();
    },
  };
}
