import { num, type Payload, record } from "./payload.ts";

/*
 * The figures in a session's header, folded from its events: counts, usage, cost, status and
 * what the agent is doing. Pure helpers over a plain record.
 */

export type AgentActivity = "idle" | "working" | "waiting" | "ended";

export interface SessionStats {
  openedAt: number;
  /** Events taken in (folded, or passed over by compact replay as superseded deltas). */
  eventsReceived: number;
  liveEvents: number;
  latencyTotalMs: number;
  lastEventAt: number | null;
  turns: number;
  inputTokens: number;
  outputTokens: number;
  /** Latest cumulative cost per stream (the SDK reports a running total per session). */
  costByStream: Record<string, number>;
  taskStatus: string | null;
  sandboxStatus: string | null;
  activity: AgentActivity;
  model: string | null;
  /** The agent's working directory: tool cards show paths relative to it. */
  cwd: string | null;
}

export function newStats(openedAt: number): SessionStats {
  return {
    openedAt,
    eventsReceived: 0,
    liveEvents: 0,
    latencyTotalMs: 0,
    lastEventAt: null,
    turns: 0,
    inputTokens: 0,
    outputTokens: 0,
    costByStream: {},
    taskStatus: null,
    sandboxStatus: null,
    activity: "idle",
    model: null,
    cwd: null,
  };
}

export function totalCost(stats: SessionStats): number {
  return Object.values(stats.costByStream).reduce((sum, cost) => sum + cost, 0);
}

/** An `agent.turn_completed`: its turns, tokens (cache reads and writes count as input) and cost. */
export function addTurn(stats: SessionStats, streamId: string, payload: Payload): void {
  const turns = num(payload, "num_turns");
  if (turns !== null) stats.turns += turns;
  const usage = record(payload, "usage");
  if (usage) {
    stats.inputTokens += (num(usage, "input_tokens") ?? 0) + (num(usage, "cache_read_input_tokens") ?? 0);
    stats.inputTokens += num(usage, "cache_creation_input_tokens") ?? 0;
    stats.outputTokens += num(usage, "output_tokens") ?? 0;
  }
  const cost = num(payload, "cost_usd");
  if (cost !== null) stats.costByStream[streamId] = cost;
  stats.activity = "waiting";
}

/**
 * Joins the figures of an older page of history: its counts add up; the newer cost of a
 * stream (a running total), model and working directory win.
 */
export function addOlder(stats: SessionStats, older: SessionStats): void {
  stats.eventsReceived += older.eventsReceived;
  stats.turns += older.turns;
  stats.inputTokens += older.inputTokens;
  stats.outputTokens += older.outputTokens;
  for (const [stream, cost] of Object.entries(older.costByStream)) stats.costByStream[stream] ??= cost;
  stats.model ??= older.model;
  stats.cwd ??= older.cwd;
}
