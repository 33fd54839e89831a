import { sandboxStatusAfter, taskStatusAfter } from "../../../src/protocol/status.ts";
import type { MessageDelivery, MessageType, StoredEvent } from "../api/types.ts";
import { loadedItem, noteItem, standaloneItem } from "./event-items.ts";
import { ItemList } from "./item-list.ts";
import type { Item, ToolItem, UserItem } from "./items.ts";
import { bool, type Payload, str } from "./payload.ts";
import { addOlder, addTurn, newStats, type SessionStats, totalCost } from "./session-stats.ts";
import { foldSetup } from "./setup-log.ts";

export type { AgentActivity, SessionStats } from "./session-stats.ts";

/** Notes after which the task's repository state (changes, push, pull request) is read again. */
const REPO_NOTE = /^(repo\.|task\.pull_request$)/;

/**
 * Folds a session's events into conversation items, one event at a time, in O(1) work per
 * event (see item-list.ts); `version` counts changes, and the view re-renders once per
 * animation frame, never per event. What joins several events lives here: streamed text and
 * its finished message, a tool call and its result, a person's message from sending to
 * delivered, the setup log. Events that show on their own are in event-items.ts, the header's
 * figures in session-stats.ts. Older history is folded separately and joined on in front
 * (`prepend`), one page at a time.
 */
export class SessionModel {
  version = 0;
  /** The person's original prompt, shown above the first item once history is complete. */
  prompt: UserItem | null = null;
  /** Notes of repository events folded so far (the view refreshes the repository on a new one). */
  repoNotes = 0;
  readonly stats: SessionStats = newStats(Date.now());
  private readonly list = new ItemList();
  private readonly toolKeyById = new Map<string, string>();
  private readonly assistantKeyById = new Map<string, string>();
  private readonly userKeyByMessageId = new Map<string, string>();
  private readonly deliveredIds = new Set<string>();
  /** Results whose tool call was not folded (it lies in history not loaded yet). */
  private readonly orphanResults = new Set<string>();
  /** Our own messages whose POST has not answered yet. */
  private readonly sendingKeys = new Set<string>();
  /** Assistant items receiving deltas right now. */
  private openStreams: string[] = [];
  /** The setup log being written, if any. */
  private setupKey: string | null = null;
  /** Streamed items that no full message has replaced yet, oldest first. */
  private pendingStreams: string[] = [];

  /** The conversation, oldest first (grows in place; a changed item is a new object). */
  get items(): Item[] {
    return this.list.items;
  }

  /** Keys of the items that begin a turn (the first item, and the first after each turn's end). */
  get turnStarts(): string[] {
    return this.list.turnStarts;
  }

  get totalCost(): number {
    return totalCost(this.stats);
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
    const local = this.list.get(localKey);
    if (local?.kind !== "user") return;
    const existingKey = this.userKeyByMessageId.get(messageId);
    if (existingKey && existingKey !== localKey) {
      // Rare (a message the server already showed): one pass over the items.
      if (this.list.remove(localKey)) this.changed();
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
    const local = this.list.get(localKey);
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
      case "environment.setup_finished": {
        const open = this.list.get(this.setupKey);
        const { item, isNew } = foldSetup(open?.kind === "setup" ? open : null, key, type, payload);
        if (isNew) {
          this.setupKey = key;
          this.push(item);
        } else this.replace(item);
        break;
      }
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
      case "agent.tool_use":
        this.onToolUse(key, payload);
        stats.activity = "working";
        break;
      case "agent.tool_result":
        this.onToolResult(key, payload);
        break;
      case "agent.turn_completed":
        this.onTurnCompleted(key, frame, payload);
        break;
      case "agent.started": {
        stats.activity = "working";
        stats.model = str(payload, "model") ?? stats.model;
        stats.cwd = str(payload, "cwd") ?? stats.cwd;
        const text = `Agent started${stats.model ? ` · ${stats.model}` : ""}`;
        this.push(noteItem(key, type, text, "info", frame.emitted_at));
        const loaded = loadedItem(`${key}:loaded`, payload);
        if (loaded) this.push(loaded);
        break;
      }
      default: {
        const shown = standaloneItem(key, frame, payload);
        if (shown.activity) stats.activity = shown.activity;
        if (shown.item) this.push(shown.item);
      }
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

  private onQueued(key: string, payload: Payload, at: number): void {
    const messageId = str(payload, "message_id");
    const content = str(payload, "content") ?? "";
    const messageType = (str(payload, "message_type") ?? "user_message") as MessageType;
    const delivery = (str(payload, "delivery") as MessageDelivery | null) ?? null;
    if (messageType === "interrupt") {
      this.push(noteItem(key, "message.queued", "Interrupt requested", "warn", at));
      return;
    }
    const status = messageId && this.deliveredIds.has(messageId) ? "delivered" : "queued";
    if (messageId) {
      const existing = this.list.get(this.userKeyByMessageId.get(messageId));
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
      const item = this.list.get(key);
      if (item?.kind === "user" && item.messageId === null && item.content === content) return item;
    }
    return undefined;
  }

  private onInjected(payload: Payload): void {
    const messageId = str(payload, "message_id");
    if (!messageId) return;
    this.deliveredIds.add(messageId);
    const item = this.list.get(this.userKeyByMessageId.get(messageId));
    if (item && item.kind === "user") this.replace({ ...item, status: "delivered", error: null });
    this.stats.activity = "working";
  }

  private onDelta(key: string, payload: Payload): void {
    const delta = str(payload, "delta") ?? "";
    const messageId = str(payload, "message_id");
    const existingKey = messageId ? this.assistantKeyById.get(messageId) : this.openStreams.at(-1);
    const existing = this.list.get(existingKey);
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
    const target = this.list.get(targetKey);
    if (target && target.kind === "assistant") {
      const streamed = this.pendingStreams.includes(target.key);
      this.pendingStreams = this.pendingStreams.filter((pending) => pending !== target.key);
      // A streamed message takes its finished message's key, the key it has when replayed
      // compactly (without its deltas), so the view is the same however it was received.
      const finished = { ...target, text: text || target.text, streaming: false };
      if (streamed) {
        this.list.rekey(target.key, key);
        if (messageId) this.assistantKeyById.set(messageId, key);
      }
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
      const item = this.list.get(key);
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
    const existing = toolUseId ? this.list.get(this.toolKeyById.get(toolUseId)) : undefined;
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
    this.list.turnOpen = true;
    addTurn(this.stats, frame.stream_id, payload);
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
    const text = `Turn ended early${subtype ? ` (${subtype})` : ""}`;
    this.push(noteItem(key, frame.event_type, text, "warn", frame.emitted_at));
  }

  private push(item: Item): void {
    if (!this.list.push(item)) return;
    if (item.kind === "note" && REPO_NOTE.test(item.eventType)) this.repoNotes += 1;
  }

  private replace(item: Item): void {
    if (this.list.replace(item)) this.changed();
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
    const orphans = new Set<string>();
    for (const [toolUseId, key] of older.toolKeyById) {
      const orphanKey = this.toolKeyById.get(toolUseId);
      if (!orphanKey || !this.orphanResults.has(orphanKey)) continue;
      const orphan = this.list.get(orphanKey);
      const call = older.list.get(key);
      if (orphan?.kind !== "tool" || call?.kind !== "tool" || older.orphanResults.has(key)) continue;
      if (call.result === null) older.list.replace({ ...call, result: orphan.result });
      this.orphanResults.delete(orphanKey);
      orphans.add(orphanKey);
    }
    const added = this.list.joinFront(older.list, orphans);
    for (const [toolUseId, key] of older.toolKeyById) this.toolKeyById.set(toolUseId, key);
    for (const key of older.orphanResults) this.orphanResults.add(key);
    for (const [id, key] of older.assistantKeyById) {
      if (!this.assistantKeyById.has(id)) this.assistantKeyById.set(id, key);
    }
    for (const [id, key] of older.userKeyByMessageId) {
      if (!this.userKeyByMessageId.has(id)) this.userKeyByMessageId.set(id, key);
    }
    addOlder(this.stats, older.stats);
    this.repoNotes += older.repoNotes;
    this.changed();
    return added;
  }

  private changed(): void {
    this.version += 1;
  }
}

const STATUS_ORDER = { sending: 0, failed: 0, queued: 1, delivered: 2 } as const;

function maxStatus(a: UserItem["status"], b: UserItem["status"]): UserItem["status"] {
  return STATUS_ORDER[a] >= STATUS_ORDER[b] ? a : b;
}
