import { sandboxStatusAfter, taskStatusAfter } from "../../../src/protocol/status.ts";
import type { MessageDelivery, MessageType, StoredEvent } from "../api/types.ts";
import type { Item, SetupItem, Todo, ToolItem, UserItem } from "./items.ts";
import { bool, num, type Payload, record, str, strings } from "./payload.ts";

export type AgentActivity = "idle" | "working" | "waiting" | "ended";

export interface SessionStats {
  openedAt: number;
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

/**
 * Folds a session's events into conversation items, one event at a time, in O(1) work per
 * event: `items` grows in place and a changed item is swapped for a new object at its index
 * (so memoized rows re-render only when their item changed); `version` counts changes, and
 * the view re-renders once per animation frame, never per event. Older history is folded
 * separately and joined on in front (`prepend`), one page at a time.
 */
export class SessionModel {
  items: Item[] = [];
  version = 0;
  /** The person's original prompt, shown above the first item once history is complete. */
  prompt: UserItem | null = null;
  /** Keys of the items that begin a turn (the first item, and the first after each turn's end). */
  turnStarts: string[] = [];
  readonly stats: SessionStats = {
    openedAt: Date.now(),
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
  private readonly indexByKey = new Map<string, number>();
  private readonly toolKeyById = new Map<string, string>();
  private readonly assistantKeyById = new Map<string, string>();
  private readonly userKeyByMessageId = new Map<string, string>();
  private readonly deliveredIds = new Set<string>();
  /** Results whose tool call was not folded (it lies in history not loaded yet). */
  private readonly orphanResults = new Set<string>();
  /** Our own messages whose POST has not answered yet. */
  private readonly sendingKeys = new Set<string>();
  /** The next item pushed begins a turn. */
  private turnOpen = true;
  /** Assistant items receiving deltas right now. */
  private openStreams: string[] = [];
  /** The setup log being written, if any. */
  private setupKey: string | null = null;
  /** Streamed items that no full message has replaced yet, oldest first. */
  private pendingStreams: string[] = [];

  get totalCost(): number {
    return Object.values(this.stats.costByStream).reduce((sum, cost) => sum + cost, 0);
  }

  /** The person's original prompt, shown first. */
  setPrompt(prompt: string | null, at: number): void {
    if (!prompt || this.prompt) return;
    this.prompt = {
      kind: "user",
      key: "prompt",
      messageId: null,
      content: prompt,
      messageType: "user_message",
      delivery: null,
      status: "delivered",
      error: null,
      at,
    };
    this.changed();
  }

  addLocalMessage(localKey: string, content: string, messageType: MessageType, delivery: MessageDelivery): void {
    this.sendingKeys.add(localKey);
    this.push({
      kind: "user",
      key: localKey,
      messageId: null,
      content,
      messageType,
      delivery,
      status: "sending",
      error: null,
      at: Date.now(),
    });
  }

  resolveLocalMessage(localKey: string, messageId: string): void {
    this.sendingKeys.delete(localKey);
    const local = this.get(localKey);
    if (local?.kind !== "user") return;
    const existingKey = this.userKeyByMessageId.get(messageId);
    if (existingKey && existingKey !== localKey) {
      this.remove(localKey);
      return;
    }
    this.userKeyByMessageId.set(messageId, localKey);
    this.replace({
      ...local,
      messageId,
      status: this.deliveredIds.has(messageId) ? "delivered" : "queued",
    });
  }

  failLocalMessage(localKey: string, error: string): void {
    this.sendingKeys.delete(localKey);
    const local = this.get(localKey);
    if (local?.kind !== "user") return;
    this.replace({ ...local, status: "failed", error });
  }

  apply(frame: StoredEvent, live: boolean): void {
    const stats = this.stats;
    const now = Date.now();
    stats.eventsReceived += 1;
    stats.lastEventAt = now;
    if (live && typeof frame.emitted_at === "number") {
      stats.liveEvents += 1;
      stats.latencyTotalMs += Math.max(0, now - frame.emitted_at);
    }
    const key = `${frame.stream_id}:${frame.seq}`;
    const payload: Payload = frame.payload ?? {};
    const type = frame.event_type;
    const taskStatus = taskStatusAfter(frame);
    // The same lifecycle step can be reported on more than one stream; say it once.
    if (taskStatus && taskStatus === stats.taskStatus && type !== "task.failed") {
      this.changed();
      return;
    }
    if (taskStatus) stats.taskStatus = taskStatus;
    const sandboxStatus = sandboxStatusAfter(frame);
    if (sandboxStatus) stats.sandboxStatus = sandboxStatus;
    if (type !== "agent.message_delta" && type !== "agent.heartbeat") this.closeStreams();

    switch (type) {
      case "environment.setup_started":
      case "environment.setup_output":
      case "environment.setup_finished":
        this.onSetup(key, type, payload);
        break;
      case "message.queued":
        this.onQueued(key, payload, frame.emitted_at);
        break;
      case "agent.message_injected":
        this.onInjected(payload);
        break;
      case "agent.message_delta":
        this.onDelta(key, payload);
        stats.activity = "working";
        break;
      case "agent.message":
        this.onMessage(key, payload);
        break;
      case "agent.thinking": {
        const text = str(payload, "content") ?? "";
        if (text.trim()) this.push({ kind: "thinking", key, text });
        stats.activity = "working";
        break;
      }
      case "agent.tool_use":
        this.onToolUse(key, payload);
        stats.activity = "working";
        break;
      case "agent.tool_result":
        this.onToolResult(key, payload);
        break;
      case "agent.file_edited":
        this.push({
          kind: "file_edit",
          key,
          path: str(payload, "path") ?? "(unknown file)",
          diff: str(payload, "diff") ?? "",
        });
        break;
      case "agent.todo_updated":
        this.push({ kind: "todos", key, todos: readTodos(payload.todos) });
        break;
      case "agent.turn_completed":
        this.onTurnCompleted(key, frame, payload);
        break;
      case "agent.started":
        stats.activity = "working";
        stats.model = str(payload, "model") ?? stats.model;
        stats.cwd = str(payload, "cwd") ?? stats.cwd;
        this.note(key, type, frame, `Agent started${stats.model ? ` · ${stats.model}` : ""}`, "info");
        this.onLoaded(`${key}:loaded`, payload);
        break;
      case "agent.waiting":
        stats.activity = "waiting";
        break;
      case "agent.interrupted":
        stats.activity = "waiting";
        this.note(key, type, frame, "Turn interrupted", "warn");
        break;
      case "agent.error":
        this.push({
          kind: "error",
          key,
          title: "Agent error",
          message: str(payload, "error") ?? "unknown error",
        });
        break;
      case "agent.completed":
        stats.activity = "ended";
        this.note(key, type, frame, "Agent session ended", "success");
        break;
      case "agent.failed":
        stats.activity = "ended";
        this.push({
          kind: "error",
          key,
          title: "Agent failed",
          message: str(payload, "error") ?? "unknown error",
        });
        break;
      case "agent.heartbeat":
      case "agent.system":
        break;
      default:
        this.onLifecycle(key, frame, payload);
    }
    this.changed();
  }

  /**
   * Events taken in without being folded: superseded deltas that compact replay (or a compact
   * page of history) passed over. Their finished message carries their text, so only the
   * count changes: the same figure as when they came live.
   */
  passOver(count: number): void {
    if (count <= 0) return;
    this.stats.eventsReceived += count;
    this.changed();
  }

  private onLifecycle(key: string, frame: StoredEvent, payload: Payload): void {
    const type = frame.event_type;
    switch (type) {
      case "task.created":
        this.note(key, type, frame, "Task queued", "info");
        return;
      case "task.assigned":
        this.note(key, type, frame, "Sandbox assigned", "info");
        return;
      case "task.started":
        this.note(key, type, frame, "Task started", "info");
        return;
      case "task.completed":
        this.stats.activity = "ended";
        this.note(key, type, frame, "Task completed", "success");
        return;
      case "task.failed": {
        const retry = bool(payload, "will_retry") ? " (will retry)" : "";
        this.push({
          kind: "error",
          key,
          title: `Task failed${retry}`,
          message: str(payload, "error") ?? "no reason given",
        });
        return;
      }
      case "task.cancelled":
        this.stats.activity = "ended";
        this.note(key, type, frame, "Task cancelled", "warn");
        return;
      case "sandbox.created":
      case "sandbox.ready":
        return;
      case "sandbox.starting":
        this.note(key, type, frame, "Starting sandbox…", "info");
        return;
      case "sandbox.completed":
        this.note(key, type, frame, "Sandbox closed", "info");
        return;
      case "sandbox.terminated":
        this.stats.activity = "ended";
        this.note(key, type, frame, "Sandbox stopped", "warn");
        return;
      case "sandbox.failed":
        this.stats.activity = "ended";
        this.push({
          kind: "error",
          key,
          title: "Sandbox failed",
          message: str(payload, "error") ?? "no reason given",
        });
        return;
      default:
        this.note(key, type, frame, type, "info");
    }
  }

  private onSetup(key: string, type: string, payload: Payload): void {
    const current = this.setupKey ? this.items[this.indexByKey.get(this.setupKey) ?? -1] : undefined;
    let item: SetupItem | null = current?.kind === "setup" && !current.finished ? current : null;
    if (type === "environment.setup_started" || !item) {
      item = {
        kind: "setup",
        key,
        environment: str(payload, "environment"),
        network: str(payload, "network"),
        lines: [],
        dropped: 0,
        finished: false,
        exitCode: null,
        durationMs: null,
        cached: false,
        error: null,
        tail: [],
      };
      this.setupKey = key;
      this.push(item);
      if (type === "environment.setup_started") return;
    }
    if (type === "environment.setup_output") {
      const incoming = readSetupLines(payload.lines);
      const lines = item.lines.concat(incoming);
      const dropped = Math.max(0, lines.length - SETUP_LINES_KEPT);
      this.replace({ ...item, lines: dropped ? lines.slice(dropped) : lines, dropped: item.dropped + dropped });
      return;
    }
    const tail = Array.isArray(payload.tail) ? payload.tail.filter((line) => typeof line === "string") : [];
    this.replace({
      ...item,
      finished: true,
      exitCode: num(payload, "exit_code"),
      durationMs: num(payload, "duration_ms"),
      cached: bool(payload, "cached"),
      error: str(payload, "error"),
      tail,
    });
  }

  private onQueued(key: string, payload: Payload, at: number): void {
    const messageId = str(payload, "message_id");
    const content = str(payload, "content") ?? "";
    const messageType = (str(payload, "message_type") ?? "user_message") as MessageType;
    const delivery = (str(payload, "delivery") as MessageDelivery | null) ?? null;
    if (messageType === "interrupt") {
      this.note(key, "message.queued", null, "Interrupt requested", "warn", at);
      return;
    }
    const status = messageId && this.deliveredIds.has(messageId) ? "delivered" : "queued";
    if (messageId) {
      const existing = this.get(this.userKeyByMessageId.get(messageId) ?? "");
      if (existing && existing.kind === "user") {
        this.replace({ ...existing, delivery, status: maxStatus(existing.status, status) });
        return;
      }
      // Our own message, whose POST has not answered yet: adopt it.
      const pending = this.sendingItem(content);
      if (pending) {
        this.sendingKeys.delete(pending.key);
        this.userKeyByMessageId.set(messageId, pending.key);
        this.replace({ ...pending, messageId, delivery, status });
        return;
      }
      this.userKeyByMessageId.set(messageId, key);
    }
    this.push({
      kind: "user",
      key,
      messageId,
      content,
      messageType,
      delivery,
      status,
      error: null,
      at,
    });
  }

  private sendingItem(content: string): UserItem | undefined {
    for (const key of this.sendingKeys) {
      const item = this.get(key);
      if (item?.kind === "user" && item.messageId === null && item.content === content) return item;
    }
    return undefined;
  }

  private onInjected(payload: Payload): void {
    const messageId = str(payload, "message_id");
    if (!messageId) return;
    this.deliveredIds.add(messageId);
    const item = this.get(this.userKeyByMessageId.get(messageId) ?? "");
    if (item && item.kind === "user") this.replace({ ...item, status: "delivered", error: null });
    this.stats.activity = "working";
  }

  private onDelta(key: string, payload: Payload): void {
    const delta = str(payload, "delta") ?? "";
    const messageId = str(payload, "message_id");
    const existingKey = messageId ? this.assistantKeyById.get(messageId) : this.openStreams.at(-1);
    const existing = existingKey ? this.get(existingKey) : undefined;
    if (existing && existing.kind === "assistant") {
      if (!this.openStreams.includes(existing.key)) this.openStreams.push(existing.key);
      this.pendingStreams = this.pendingStreams.filter((pending) => pending !== existing.key);
      this.replace({ ...existing, text: existing.text + delta, streaming: true });
      return;
    }
    if (messageId) this.assistantKeyById.set(messageId, key);
    this.openStreams.push(key);
    this.push({ kind: "assistant", key, messageId, text: delta, streaming: true });
  }

  private onMessage(key: string, payload: Payload): void {
    const text = str(payload, "content") ?? "";
    const messageId = str(payload, "message_id");
    const targetKey = (messageId ? this.assistantKeyById.get(messageId) : undefined) ?? this.pendingStreams[0];
    const target = targetKey ? this.get(targetKey) : undefined;
    if (target && target.kind === "assistant") {
      const streamed = this.pendingStreams.includes(target.key);
      this.pendingStreams = this.pendingStreams.filter((pending) => pending !== target.key);
      // A streamed message takes its finished message's key, the key it has when replayed
      // compactly (without its deltas), so the view is the same however it was received.
      const finished = { ...target, text: text || target.text, streaming: false };
      if (streamed) this.rekey(target.key, key, messageId);
      this.replace(streamed ? { ...finished, key } : finished);
      return;
    }
    if (!text.trim()) return;
    if (messageId) this.assistantKeyById.set(messageId, key);
    this.push({ kind: "assistant", key, messageId, text, streaming: false });
  }

  /** A non-delta event ends the open streams: their bubbles stop blinking. */
  private closeStreams(): void {
    if (this.openStreams.length === 0) return;
    for (const key of this.openStreams) {
      const item = this.get(key);
      if (item && item.kind === "assistant" && item.streaming) {
        this.replace({ ...item, streaming: false });
      }
      this.pendingStreams.push(key);
    }
    this.openStreams = [];
  }

  private onToolUse(key: string, payload: Payload): void {
    const toolUseId = str(payload, "tool_use_id");
    const item: ToolItem = {
      kind: "tool",
      key,
      toolUseId,
      tool: str(payload, "tool") ?? "tool",
      input: payload.input,
      result: null,
    };
    if (toolUseId) this.toolKeyById.set(toolUseId, key);
    this.push(item);
  }

  private onToolResult(key: string, payload: Payload): void {
    const toolUseId = str(payload, "tool_use_id");
    const result = { output: payload.output, isError: bool(payload, "is_error") };
    const existing = toolUseId ? this.get(this.toolKeyById.get(toolUseId) ?? "") : undefined;
    if (existing && existing.kind === "tool") {
      this.replace({ ...existing, result });
      return;
    }
    if (toolUseId) {
      this.toolKeyById.set(toolUseId, key);
      this.orphanResults.add(key);
    }
    this.push({ kind: "tool", key, toolUseId, tool: "result", input: undefined, result });
  }

  private onTurnCompleted(key: string, frame: StoredEvent, payload: Payload): void {
    const stats = this.stats;
    this.turnOpen = true;
    const turns = num(payload, "num_turns");
    if (turns !== null) stats.turns += turns;
    const usage = record(payload, "usage");
    if (usage) {
      stats.inputTokens += (num(usage, "input_tokens") ?? 0) + (num(usage, "cache_read_input_tokens") ?? 0);
      stats.inputTokens += num(usage, "cache_creation_input_tokens") ?? 0;
      stats.outputTokens += num(usage, "output_tokens") ?? 0;
    }
    const cost = num(payload, "cost_usd");
    if (cost !== null) stats.costByStream[frame.stream_id] = cost;
    stats.activity = "waiting";
    if (!bool(payload, "is_error")) return;
    const subtype = str(payload, "subtype");
    const result = str(payload, "result");
    if (result) {
      this.push({
        kind: "error",
        key,
        title: `Turn ended with an error${subtype ? ` (${subtype})` : ""}`,
        message: result,
      });
      return;
    }
    // No words from the agent: usually a turn cut short by an interrupt or a stop.
    this.note(key, frame.event_type, frame, `Turn ended early${subtype ? ` (${subtype})` : ""}`, "warn");
  }

  /** The settings and MCP servers a session started with, when it had any. */
  private onLoaded(key: string, payload: Payload): void {
    const settings = record(payload, "project_settings");
    const servers = Array.isArray(payload.mcp_servers) ? payload.mcp_servers : [];
    const mcpServers = servers.flatMap((server) => {
      const entry = typeof server === "object" && server !== null ? (server as Payload) : {};
      const name = str(entry, "name");
      return name ? [{ name, status: str(entry, "status") ?? "unknown" }] : [];
    });
    const item = {
      kind: "loaded" as const,
      key,
      files: strings(settings, "files"),
      commands: strings(settings, "commands"),
      agents: strings(settings, "agents"),
      skills: strings(settings, "skills"),
      mcpServers,
    };
    const any =
      item.files.length + item.commands.length + item.agents.length + item.skills.length + mcpServers.length > 0;
    if (any) this.push(item);
  }

  private note(
    key: string,
    eventType: string,
    frame: StoredEvent | null,
    text: string,
    tone: "info" | "success" | "warn" | "danger",
    at?: number,
  ): void {
    this.push({ kind: "note", key, text, tone, eventType, at: at ?? frame?.emitted_at ?? Date.now() });
  }

  private get(key: string): Item | undefined {
    const index = this.indexByKey.get(key);
    return index === undefined ? undefined : this.items[index];
  }

  private push(item: Item): void {
    if (this.indexByKey.has(item.key)) return;
    // One failure often arrives as agent.failed, then sandbox.failed with the same words.
    const previous = this.items.at(-1);
    if (item.kind === "error" && previous?.kind === "error" && previous.message === item.message) return;
    this.indexByKey.set(item.key, this.items.length);
    this.items.push(item);
    if (this.turnOpen) {
      this.turnStarts.push(item.key);
      this.turnOpen = false;
    }
  }

  private replace(item: Item): void {
    const index = this.indexByKey.get(item.key);
    if (index === undefined) return;
    this.items[index] = item;
    this.changed();
  }

  private rekey(from: string, to: string, messageId: string | null): void {
    const index = this.indexByKey.get(from);
    if (index === undefined) return;
    this.indexByKey.delete(from);
    this.indexByKey.set(to, index);
    if (messageId) this.assistantKeyById.set(messageId, to);
    // Only the latest turn can start with a message that is still streaming.
    if (this.turnStarts.at(-1) === from) this.turnStarts[this.turnStarts.length - 1] = to;
  }

  /** Rare (a message the server already showed): one pass over the items. */
  private remove(key: string): void {
    const index = this.indexByKey.get(key);
    if (index === undefined) return;
    this.items.splice(index, 1);
    this.turnStarts = this.turnStarts.filter((start) => start !== key);
    this.reindex();
    this.changed();
  }

  private reindex(): void {
    this.indexByKey.clear();
    for (const [index, item] of this.items.entries()) this.indexByKey.set(item.key, index);
  }

  /**
   * Joins an older page of history (its events ascending, every one older than anything
   * folded so far) on in front. The page is folded on its own, then the seams are mended:
   * a tool call whose result was folded already takes that result in, and a message
   * delivered later shows as delivered. Returns how many items the view gained at its top.
   */
  prepend(frames: StoredEvent[]): number {
    const older = new SessionModel();
    for (const id of this.deliveredIds) older.deliveredIds.add(id);
    for (const frame of frames) older.apply(frame, false);
    const before = this.items.length;
    const orphans = new Set<string>();
    for (const [toolUseId, key] of older.toolKeyById) {
      const orphanKey = this.toolKeyById.get(toolUseId);
      if (!orphanKey || !this.orphanResults.has(orphanKey)) continue;
      const orphan = this.get(orphanKey);
      const call = older.get(key);
      if (orphan?.kind !== "tool" || call?.kind !== "tool" || older.orphanResults.has(key)) continue;
      if (call.result === null) older.replace({ ...call, result: orphan.result });
      this.orphanResults.delete(orphanKey);
      orphans.add(orphanKey);
    }
    const newer = orphans.size ? this.items.filter((item) => !orphans.has(item.key)) : this.items;
    const starts = this.turnStarts.filter((key) => !orphans.has(key));
    // The first loaded item was only taken for a turn's start; the older page says whether it is.
    if (starts[0] === newer[0]?.key && !older.turnOpen) starts.shift();
    this.items = older.items.concat(newer);
    this.turnStarts = [...older.turnStarts, ...starts];
    this.reindex();
    for (const [toolUseId, key] of older.toolKeyById) this.toolKeyById.set(toolUseId, key);
    for (const key of older.orphanResults) this.orphanResults.add(key);
    for (const [id, key] of older.assistantKeyById) {
      if (!this.assistantKeyById.has(id)) this.assistantKeyById.set(id, key);
    }
    for (const [id, key] of older.userKeyByMessageId) {
      if (!this.userKeyByMessageId.has(id)) this.userKeyByMessageId.set(id, key);
    }
    const stats = this.stats;
    stats.eventsReceived += older.stats.eventsReceived;
    stats.turns += older.stats.turns;
    stats.inputTokens += older.stats.inputTokens;
    stats.outputTokens += older.stats.outputTokens;
    for (const [stream, cost] of Object.entries(older.stats.costByStream)) {
      stats.costByStream[stream] ??= cost;
    }
    stats.model ??= older.stats.model;
    stats.cwd ??= older.stats.cwd;
    this.changed();
    return this.items.length - before;
  }

  private changed(): void {
    this.version += 1;
  }
}

const STATUS_ORDER = { sending: 0, failed: 0, queued: 1, delivered: 2 } as const;

function maxStatus(a: UserItem["status"], b: UserItem["status"]): UserItem["status"] {
  return STATUS_ORDER[a] >= STATUS_ORDER[b] ? a : b;
}

function readTodos(value: unknown): Todo[] {
  if (!Array.isArray(value)) return [];
  const todos: Todo[] = [];
  for (const entry of value) {
    if (typeof entry !== "object" || entry === null) continue;
    const todo = entry as Payload;
    const content = str(todo, "content");
    if (!content) continue;
    todos.push({
      content,
      status: str(todo, "status") ?? "pending",
      activeForm: str(todo, "activeForm") ?? undefined,
    });
  }
  return todos;
}

/** The setup log keeps its newest lines; the rest are counted. */
const SETUP_LINES_KEPT = 2000;

function readSetupLines(value: unknown): SetupItem["lines"] {
  if (!Array.isArray(value)) return [];
  const lines: SetupItem["lines"] = [];
  for (const entry of value) {
    if (typeof entry !== "object" || entry === null) continue;
    const text = str(entry as Payload, "text");
    if (text === null) continue;
    lines.push({ stream: str(entry as Payload, "stream") === "stderr" ? "stderr" : "stdout", text });
  }
  return lines;
}
