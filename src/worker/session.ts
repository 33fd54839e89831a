import {
  type HookCallback,
  type Options,
  type Query,
  query,
  type SDKMessage,
  type SDKResultMessage,
} from "@anthropic-ai/claude-agent-sdk";
import type { AnswerFrame, PermissionMode, PermissionRule } from "../protocol/approval.ts";
import {
  AgentError,
  AgentInterrupted,
  AgentMessageInjected,
  AgentModeChanged,
  AgentWaiting,
} from "../protocol/events.ts";
import { type AgentEvent, agentEvent } from "./agent-event.ts";
import { ApprovalGate, ruleSetting } from "./approvals.ts";
import {
  type Failure,
  failureOfError,
  failureOfResult,
  type ModelTrouble,
  modelFailure,
} from "./failure.ts";
import { FILE_EDIT_TOOLS, FileEditTracker } from "./file-edits.ts";
import { InputQueue, userMessage } from "./input-queue.ts";
import { log as defaultLog, type Logger } from "./log.ts";
import { createMappingState, mapSdkMessage } from "./mapping.ts";
import type { ProjectSettings } from "./project-settings.ts";
import type { IncomingMessage } from "./transport.ts";

export interface SessionOptions {
  workspace: string;
  model: string | null;
  maxTurns: number | null;
  maxBudgetUsd: number | null;
  resumeSessionId: string | null;
  /** Named in errors ("model endpoint … unreachable"). */
  modelBaseUrl: string;
  /** Stream partial text as `agent.message_delta`; default on. */
  partialMessages?: boolean;
  /** The agent's complete environment (the SDK does not merge it with the worker's). */
  env: Record<string, string>;
  /** Runs the CLI inside the sandbox; absent = unconfined (tests, machines without srt). */
  spawnClaudeCodeProcess?: Options["spawnClaudeCodeProcess"];
  /** Whether the model endpoint is Omoi's scripted model, once known. */
  scriptedModel?: Promise<boolean | undefined>;
  /** The permission mode to start in; default `bypassPermissions`. */
  permissionMode?: PermissionMode;
  /** Rules a person chose "Always allow" for earlier in the task (a resumed session). */
  allowRules?: PermissionRule[];
  /** How long `stop()` lets the CLI wind down before killing it. */
  stopGraceMs?: number;
  /** The repository's Claude Code settings, reported with `agent.started`. */
  projectSettings?: Promise<ProjectSettings | undefined>;
  /** The environment's MCP servers, as the SDK takes them. */
  mcpServers?: Options["mcpServers"];
  /** Runs when a turn has ended, before its result is reported (ends background processes). */
  onTurnEnd?: () => Promise<void>;
  logger?: Logger;
}

export interface SessionCallbacks {
  emit(event: AgentEvent): void;
  /** The SDK has this person's message (or the interrupt it asked for was carried out). */
  delivered(message: IncomingMessage): void;
}

export type SessionEnd =
  | {
      status: "completed";
      reason: string;
      result?: string;
      num_turns?: number;
      cost_usd?: number;
    }
  | ({ status: "failed" } & Failure);

/**
 * One Claude Agent SDK session in streaming-input mode, alive across turns until stopped.
 * Routes a person's messages: `steer` goes to the SDK at once (folded into the running
 * turn), `queue` waits for the turn's result, `interrupt` stops the turn and keeps the
 * session. Every SDK message becomes events through `mapSdkMessage`.
 */
export class AgentSession {
  readonly ended: Promise<SessionEnd>;
  sessionId: string | null = null;
  private readonly input = new InputQueue();
  private readonly mapping = createMappingState();
  private readonly edits: FileEditTracker;
  private readonly log: Logger;
  private readonly held: IncomingMessage[] = [];
  private query: Query | null = null;
  private resolveEnd!: (end: SessionEnd) => void;
  private busy = false;
  private interruptedTurn = false;
  private stopReason: string | null = null;
  private failure: Failure | null = null;
  private trouble: ModelTrouble | null = null;
  private sawInit = false;
  private lastResult: SDKResultMessage | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  private readonly gate: ApprovalGate;
  private mode: string;
  /** Tool inputs as the model sent them, by tool_use id, and calls waiting for one. */
  private readonly toolInputs = new Map<string, Record<string, unknown>>();
  private readonly inputWaiters = new Map<string, (input: Record<string, unknown>) => void>();

  constructor(
    private readonly options: SessionOptions,
    private readonly callbacks: SessionCallbacks,
  ) {
    this.edits = new FileEditTracker(options.workspace);
    this.log = (options.logger ?? defaultLog).child({ component: "session" });
    this.mode = options.permissionMode ?? "bypassPermissions";
    this.gate = new ApprovalGate(
      {
        emit: (event) => this.callbacks.emit(event),
        mode: () => this.mode,
        modeChanged: (mode, reason) => this.modeObserved(mode, reason),
        toolInput: (toolUseId) => this.toolInput(toolUseId),
        log: this.log,
      },
      options.allowRules,
    );
    this.ended = new Promise((resolve) => {
      this.resolveEnd = resolve;
    });
  }

  /** Starts the CLI; with a prompt the first turn begins, without one it waits for a message. */
  start(prompt: string | null): void {
    if (this.query) throw new Error("session already started");
    if (prompt !== null) this.pushTurn(prompt);
    this.query = query({ prompt: this.input, options: this.sdkOptions() });
    void this.consume(this.query);
  }

  /** Resolves once the CLI has answered the SDK's initialize request: it waits for a prompt. */
  async started(): Promise<void> {
    if (!this.query) throw new Error("session not started");
    await this.query.initializationResult();
  }

  /**
   * A warm session's first prompt: switch the started CLI to the task's model and permission
   * mode, then begin the turn. The mode is the task's from the start, not a change a person
   * asked for, so no `agent.mode_changed` is reported.
   */
  async begin(prompt: string, settings: { model: string | null; mode: PermissionMode }) {
    const running = this.query;
    if (!running) throw new Error("session not started");
    if (settings.mode !== this.mode) {
      this.mode = settings.mode;
      await running.setPermissionMode(settings.mode);
    }
    if (settings.model) await running.setModel(settings.model);
    this.pushTurn(prompt);
  }

  /** A person's message, already de-duplicated by the transport. */
  receive(message: IncomingMessage): void {
    if (this.stopReason !== null || this.failure) {
      this.log.info({ messageId: message.id }, "message arrived while ending; left for the server");
      return;
    }
    if (message.message_type === "interrupt") {
      void this.interrupt(message);
      return;
    }
    // While an interrupted turn winds down, a steer would land in the dying turn and be lost:
    // hold it, like a queued message, until the turn's result.
    if ((message.delivery === "queue" || this.interruptedTurn) && this.busy) {
      this.held.push(message);
      return;
    }
    this.inject(message);
  }

  /** Stops the current turn; the session lives on and answers the next message. */
  async interrupt(message?: IncomingMessage): Promise<void> {
    if (message) this.announceInjected(message);
    const wasBusy = this.busy;
    if (wasBusy) this.interruptedTurn = true;
    try {
      if (wasBusy) await this.query?.interrupt();
    } catch (error) {
      this.log.warn({ err: String(error) }, "interrupt failed");
    }
    this.callbacks.emit(
      agentEvent(AgentInterrupted, {
        ...(message ? { message_id: message.id } : {}),
        was_running: wasBusy,
      }),
    );
  }

  /** A person's answer to an approval request. False when no tool call waits for it. */
  answer(frame: AnswerFrame): boolean {
    return this.gate.answer(frame);
  }

  /** Switches the permission mode; it applies from the next tool call on. */
  async setMode(mode: PermissionMode, reason = "requested"): Promise<void> {
    if (!this.query || mode === this.mode) return;
    try {
      const response = await this.query.setPermissionMode(mode);
      this.modeObserved(response?.mode ?? mode, reason);
    } catch (error) {
      this.log.warn({ err: String(error), mode }, "mode switch refused");
      this.callbacks.emit(
        agentEvent(AgentError, { error: `could not switch to ${mode}: ${String(error)}` }),
      );
    }
  }

  /** Ends the session as failed for a reason found outside it (a limit the sandbox passed). */
  fail(failure: Failure): Promise<SessionEnd> {
    if (this.failure === null) {
      this.failure = failure;
      this.windDown();
    }
    return this.ended;
  }

  /** Ends the session: stops a running turn, lets the CLI exit, kills it after a grace. */
  stop(reason: string): Promise<SessionEnd> {
    if (this.stopReason === null) {
      this.stopReason = reason;
      this.windDown();
    }
    return this.ended;
  }

  private sdkOptions(): Options {
    const options = this.options;
    const allow = (options.allowRules ?? []).map(ruleSetting);
    const snapshot: HookCallback = async (input) => {
      if (input.hook_event_name === "PreToolUse") {
        await this.edits.before(input.tool_use_id, input.tool_name, input.tool_input);
      }
      return {};
    };
    return {
      cwd: options.workspace,
      permissionMode: options.permissionMode ?? "bypassPermissions",
      // Lets a person switch to bypassPermissions mid-run; the starting mode is the one above.
      allowDangerouslySkipPermissions: true,
      canUseTool: this.gate.canUseTool,
      // "Always allow" of earlier sandboxes of the task, as the CLI's own allow rules (the
      // flag layer, so no file in the workspace is involved).
      ...(allow.length > 0 ? { settings: { permissions: { allow } } } : {}),
      // The repository's own Claude Code settings apply as in a checkout: CLAUDE.md,
      // .claude/settings.json, commands, agents, skills. They run inside the sandbox.
      settingSources: ["project", "local"],
      includePartialMessages: options.partialMessages ?? true,
      env: options.env,
      ...(options.model ? { model: options.model } : {}),
      ...(options.maxTurns ? { maxTurns: options.maxTurns } : {}),
      ...(options.maxBudgetUsd !== null ? { maxBudgetUsd: options.maxBudgetUsd } : {}),
      // Over stdin, not `--mcp-config` on the CLI's command line, which every user of the
      // machine can read (/proc/<pid>/cmdline): a server's env holds the secrets it references.
      ...(options.mcpServers && Object.keys(options.mcpServers).length > 0
        ? { mcpServers: options.mcpServers, mcpServersDelivery: "initialize" as const }
        : {}),
      ...(options.resumeSessionId ? { resume: options.resumeSessionId } : {}),
      ...(options.spawnClaudeCodeProcess
        ? { spawnClaudeCodeProcess: options.spawnClaudeCodeProcess }
        : {}),
      // The hook runs before the tool does (the CLI waits for it), so the "before" snapshot
      // of an edited file is never late, however far behind the message stream is.
      hooks: { PreToolUse: [{ matcher: [...FILE_EDIT_TOOLS].join("|"), hooks: [snapshot] }] },
      stderr: (text) => this.log.debug({ stderr: text.trimEnd() }, "cli stderr"),
    };
  }

  private pushTurn(content: string, message?: IncomingMessage) {
    this.busy = true;
    this.input.push(
      userMessage(content),
      message ? () => this.announceInjected(message) : undefined,
    );
  }

  private inject(message: IncomingMessage) {
    this.pushTurn(message.content, message);
  }

  private announceInjected(message: IncomingMessage) {
    this.callbacks.emit(
      agentEvent(AgentMessageInjected, {
        message_id: message.id,
        message_type: message.message_type,
        content: message.content,
        delivery: message.delivery,
      }),
    );
    this.callbacks.delivered(message);
  }

  private async consume(running: Query) {
    try {
      for await (const message of running) await this.handle(message);
      this.finish();
    } catch (error) {
      if (this.stopReason !== null || this.failure) this.finish();
      else {
        this.failure = failureOfError(error, this.sawInit);
        this.finish();
      }
    }
  }

  private async handle(message: SDKMessage) {
    if (message.type === "system" && message.subtype === "init") {
      this.sawInit = true;
      this.sessionId = message.session_id;
    }
    const scriptedModel = await this.options.scriptedModel;
    if (message.type === "result" && (message.queued_turn_count ?? 0) === 0) {
      await this.options
        .onTurnEnd?.()
        .catch((error) =>
          this.log.warn({ err: String(error) }, "ending the turn's background processes failed"),
        );
    }
    const projectSettings =
      message.type === "system" && message.subtype === "init"
        ? await this.options.projectSettings
        : undefined;
    const events = mapSdkMessage(message, this.mapping, { scriptedModel, projectSettings });
    if (message.type === "system" && message.subtype === "status" && message.permissionMode) {
      this.modeObserved(message.permissionMode, "agent");
    }
    if (message.type === "assistant") {
      for (const block of message.message.content) {
        if (block.type === "tool_use") this.rememberInput(block.id, block.input);
        // Fallback when the hook did not run; the first snapshot per tool use wins.
        if (block.type === "tool_use") await this.edits.before(block.id, block.name, block.input);
      }
      if (message.error) this.trouble ??= { status: null, detail: message.error };
    }
    for (const event of events) this.callbacks.emit(event);
    if (message.type === "user" && typeof message.message.content !== "string") {
      for (const block of message.message.content) {
        if (block.type !== "tool_result") continue;
        const edited = await this.edits.after(block.tool_use_id);
        if (edited) this.callbacks.emit(edited);
      }
    }
    if (message.type === "system" && message.subtype === "api_retry") this.modelRetry(message);
    if (message.type === "result") this.turnEnded(message);
  }

  private modeObserved(mode: string, reason: string) {
    if (mode === this.mode) return;
    const previous = this.mode;
    this.mode = mode;
    this.callbacks.emit(agentEvent(AgentModeChanged, { mode, previous, reason }));
  }

  private rememberInput(toolUseId: string, input: unknown) {
    if (typeof input !== "object" || input === null) return;
    const value = input as Record<string, unknown>;
    // Only plan proposals look their input up; keep a bounded few.
    if (this.toolInputs.size > 100) this.toolInputs.clear();
    this.toolInputs.set(toolUseId, value);
    this.inputWaiters.get(toolUseId)?.(value);
    this.inputWaiters.delete(toolUseId);
  }

  /**
   * The SDK may call `canUseTool` before this session has read the assistant message that
   * made the call (both come on one stream, but the message waits in the SDK's queue), so
   * wait for it a little.
   */
  private toolInput(toolUseId: string): Promise<Record<string, unknown> | undefined> {
    const known = this.toolInputs.get(toolUseId);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.inputWaiters.delete(toolUseId);
        resolve(undefined);
      }, 5_000);
      this.inputWaiters.set(toolUseId, (input) => {
        clearTimeout(timer);
        resolve(input);
      });
    });
  }

  /** The CLI is retrying the model: say so at once, so nobody waits on a silent agent. */
  private modelRetry(message: Extract<SDKMessage, { subtype: "api_retry" }>) {
    this.trouble = { status: message.error_status, detail: message.error };
    const failure = modelFailure(message.error_status, message.error, this.options.modelBaseUrl);
    this.callbacks.emit(
      agentEvent(AgentError, {
        error: `${failure.error} (retry ${message.attempt} of ${message.max_retries})`,
        code: failure.reason,
        retryable: true,
      }),
    );
  }

  private turnEnded(result: SDKResultMessage) {
    this.lastResult = result;
    const interrupted = this.interruptedTurn;
    const trouble = this.trouble;
    this.interruptedTurn = false;
    this.trouble = null;
    const failure = interrupted
      ? null
      : failureOfResult(result, trouble, this.options.modelBaseUrl);
    if (failure) {
      this.callbacks.emit(agentEvent(AgentError, { error: failure.error, code: failure.reason }));
      this.failure = failure;
      this.windDown();
      return;
    }
    if ((result.queued_turn_count ?? 0) > 0) return;
    this.busy = false;
    if (this.stopReason !== null) return;
    if (this.held.length > 0) {
      for (const message of this.held.splice(0)) this.inject(message);
      return;
    }
    this.callbacks.emit(
      agentEvent(AgentWaiting, { reason: interrupted ? "interrupted" : "turn_completed" }),
    );
  }

  /** Closes the input so the CLI exits on its own; kills it if it does not in time. */
  private windDown() {
    if (this.busy && this.stopReason !== null && !this.failure)
      void this.query?.interrupt().catch(() => {});
    this.input.close();
    this.killTimer ??= setTimeout(() => {
      this.log.warn("agent CLI did not exit in time; closing it");
      this.query?.close();
    }, this.options.stopGraceMs ?? 5_000);
  }

  private finish() {
    if (this.killTimer) clearTimeout(this.killTimer);
    if (this.failure) {
      this.resolveEnd({ status: "failed", ...this.failure });
      return;
    }
    const last = this.lastResult;
    this.resolveEnd({
      status: "completed",
      reason: this.stopReason ?? "session ended",
      ...(last?.subtype === "success" ? { result: last.result } : {}),
      ...(last ? { num_turns: last.num_turns, cost_usd: last.total_cost_usd } : {}),
    });
  }
}
