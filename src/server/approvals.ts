import type { Bus, Unsubscribe } from "../bus/bus.ts";
import { type Ingest, sandboxTarget } from "../ingest/ingest.ts";
import type { Logger } from "../log/logger.ts";
import {
  type Answer,
  type AnswerBody,
  type Approval,
  DEFAULT_PLAN_MODE,
  PermissionMode,
} from "../protocol/approval.ts";
import {
  DECISIONS_BY_KIND,
  kindOfRequestEvent,
  summarizeRequest,
} from "../protocol/approval-requests.ts";
import { badRequest, conflict, notFound, type OmoiError } from "../protocol/error.ts";
import type { StoredEvent } from "../protocol/event.ts";
import { AgentPermissionResolved, SandboxModeRequested } from "../protocol/events.ts";
import { TERMINAL_SANDBOX_STATUSES } from "../protocol/sandbox.ts";
import type { NeedsYou } from "../protocol/task.ts";
import type { Resolution } from "../store/approval-queries.ts";
import type { AppendResult, Store } from "../store/store.ts";
import type { Webhook } from "./webhook.ts";

const SANDBOX_ENDED = new Set(["sandbox.completed", "sandbox.failed", "sandbox.terminated"]);

export interface ApprovalsOptions {
  /** How often open requests are checked against their no-answer deadline. */
  sweepIntervalMs?: number;
  webhook?: Webhook;
  /** The server's own URL, named in webhook notices so a receiver can link to the task. */
  publicUrl?: () => string;
}

/**
 * The server side of approvals. Requests arrive as events from the worker and become rows
 * (before the event is published); a person's answer is taken by the store's conditional
 * update, so exactly one answer wins on any number of replicas; the winning answer is
 * announced as `agent.permission_resolved`, which the worker hub pushes to the worker.
 * Requests close without a person when the task's no-answer policy says so, or when their
 * sandbox ends. Every replica runs the sweeps; the conditional update makes each close once.
 */
export class Approvals {
  private unsubscribe: Unsubscribe | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly ingest: Ingest,
    private readonly logger: Logger,
    private readonly options: ApprovalsOptions = {},
  ) {}

  /** Hooks into the ingest path and the bus, and closes what a crash left open. */
  async start(): Promise<void> {
    this.ingest.afterStore = (results) => this.onStored(results);
    this.unsubscribe = this.bus.subscribe((event) => this.onBusEvent(event));
    await this.expireOrphans();
    this.sweepTimer = setInterval(() => {
      this.sweeping ??= this.sweep().finally(() => {
        this.sweeping = undefined;
      });
    }, this.options.sweepIntervalMs ?? 1_000);
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.sweeping;
  }

  /** Requests of a sandbox (open first is the caller's business), oldest first. */
  list(sandboxId: string, status?: Approval["status"][]): Promise<Approval[]> {
    return this.store.approvals.list({ sandboxId, status });
  }

  /** What each task waits for, for tasks that wait for a person. */
  async needsYou(taskIds: string[]): Promise<Map<string, NeedsYou>> {
    const open = await this.store.approvals.list({ taskIds, status: ["open"] });
    const waiting = new Map<string, NeedsYou>();
    for (const approval of open) {
      if (!approval.task_id || waiting.has(approval.task_id)) continue;
      waiting.set(approval.task_id, needsYouOf(approval));
    }
    return waiting;
  }

  /** A person's answer. Throws 404 (unknown), 409 (already answered, naming the answer) or 400. */
  async answer(
    sandboxId: string,
    requestId: string,
    body: AnswerBody,
    client: string,
  ): Promise<Approval> {
    const approval = await this.store.approvals.get(requestId);
    if (!approval || approval.sandbox_id !== sandboxId) {
      throw notFound("approval request", requestId);
    }
    if (approval.status !== "open") throw alreadyClosed(approval);
    const answer = checkAnswer(approval, body);
    const result = await this.store.approvals.resolve(requestId, {
      status: "resolved",
      answer,
      answered_by: { kind: "person", client },
    });
    if (!result.won || !result.approval) throw alreadyClosed(result.approval ?? approval);
    if (approval.kind === "plan" && answer.decision === "approve") {
      await this.recordMode(
        approval.sandbox_id,
        approval.task_id,
        answer.mode ?? DEFAULT_PLAN_MODE,
      );
    }
    await this.announce(result.approval);
    return result.approval;
  }

  /** Asks a running sandbox's agent to switch modes; the mode is kept for a reconnect. */
  async setMode(sandboxId: string, mode: PermissionMode): Promise<void> {
    const sandbox = await this.store.getSandbox(sandboxId);
    if (!sandbox) throw notFound("sandbox", sandboxId);
    if (sandbox.kind !== "agent") {
      throw badRequest(`sandbox '${sandboxId}' runs no Omoi agent; its mode cannot be set`);
    }
    if (TERMINAL_SANDBOX_STATUSES.includes(sandbox.status)) {
      throw conflict(`sandbox '${sandboxId}' has ended (${sandbox.status})`, {
        status: sandbox.status,
      });
    }
    await this.recordMode(sandbox.id, sandbox.task_id, mode);
    await this.ingest.emit(sandboxTarget(sandbox.id, sandbox.task_id), SandboxModeRequested, {
      mode,
    });
  }

  /** Closes every open request of a sandbox that ended. */
  async expireSandbox(sandboxId: string, why: string): Promise<void> {
    const open = await this.store.approvals.list({ sandboxId, status: ["open"] });
    for (const approval of open) {
      await this.close(approval, {
        status: "expired",
        answer: { decision: "expired", reason: why },
        answered_by: { kind: "system" },
      });
    }
  }

  private async recordMode(sandboxId: string, taskId: string | null, mode: PermissionMode) {
    await this.store.updateSandbox(sandboxId, { permission_mode: mode });
    if (taskId) await this.store.updateTask(taskId, { permission_mode: mode });
  }

  private async onStored(results: AppendResult[]): Promise<void> {
    for (const { event, duplicate } of results) {
      if (!event.sandbox_id) continue;
      const kind = kindOfRequestEvent(event.event_type);
      if (kind) {
        const approval = await this.record(event, kind);
        if (!duplicate && approval) void this.notify(approval);
      } else if (event.event_type === "agent.mode_changed" && !duplicate) {
        // What the agent reports is where it is: a reconnect must not switch it back.
        const mode = PermissionMode.safeParse(event.payload.mode);
        if (mode.success) await this.recordMode(event.sandbox_id, event.task_id, mode.data);
      }
    }
  }

  private async record(event: StoredEvent, kind: Approval["kind"]): Promise<Approval | undefined> {
    const sandboxId = event.sandbox_id;
    if (!sandboxId) return undefined;
    const sandbox = await this.store.getSandbox(sandboxId);
    const minutes = sandbox?.deny_unanswered_after_minutes ?? null;
    const approval = await this.store.approvals.record({
      id: event.id,
      sandbox_id: sandboxId,
      task_id: event.task_id,
      kind,
      tool: typeof event.payload.tool === "string" ? event.payload.tool : kind,
      request: event.payload,
      deadline_at: minutes === null ? null : event.stored_at + Math.round(minutes * 60_000),
    });
    // A request from a sandbox that already ended can never be honoured.
    if (
      sandbox &&
      TERMINAL_SANDBOX_STATUSES.includes(sandbox.status) &&
      approval.status === "open"
    ) {
      await this.close(approval, {
        status: "expired",
        answer: { decision: "expired", reason: `the sandbox had already ${sandbox.status}` },
        answered_by: { kind: "system" },
      });
    }
    return approval;
  }

  private async close(approval: Approval, resolution: Resolution): Promise<void> {
    const result = await this.store.approvals.resolve(approval.id, resolution);
    if (result.won && result.approval) await this.announce(result.approval);
  }

  private async announce(approval: Approval): Promise<void> {
    const answer = approval.answer;
    if (!answer || !approval.answered_by) return;
    await this.ingest.emit(
      sandboxTarget(approval.sandbox_id, approval.task_id),
      AgentPermissionResolved,
      {
        request_id: approval.id,
        kind: approval.kind,
        status: approval.status === "expired" ? "expired" : "resolved",
        ...answer,
        answered_by: approval.answered_by,
      },
    );
  }

  private onBusEvent(event: StoredEvent) {
    if (!event.sandbox_id || !SANDBOX_ENDED.has(event.event_type)) return;
    const status = event.event_type.slice("sandbox.".length);
    void this.expireSandbox(event.sandbox_id, `the sandbox ${status}`).catch((error) =>
      this.logger.error({ err: error, sandbox_id: event.sandbox_id }, "expiring requests failed"),
    );
  }

  /** Denies requests past their no-answer deadline. */
  private async sweep(): Promise<void> {
    try {
      for (const approval of await this.store.approvals.due(Date.now())) {
        const minutes =
          Math.round(((approval.deadline_at ?? 0) - approval.created_at) / 6_000) / 10;
        await this.close(approval, {
          status: "resolved",
          answer: {
            decision: "deny",
            reason: `No one answered within ${minutes} minutes; the task's policy denies unanswered requests.`,
          },
          answered_by: { kind: "policy" },
        });
      }
    } catch (error) {
      this.logger.warn({ err: error }, "approval deadline sweep failed");
    }
  }

  /** Open requests whose sandbox ended while no server watched (a crash) are closed at start. */
  private async expireOrphans(): Promise<void> {
    const open = await this.store.approvals.list({ status: ["open"], limit: 10_000 });
    const sandboxes = new Set(open.map((approval) => approval.sandbox_id));
    for (const sandboxId of sandboxes) {
      const sandbox = await this.store.getSandbox(sandboxId);
      if (sandbox && !TERMINAL_SANDBOX_STATUSES.includes(sandbox.status)) continue;
      await this.expireSandbox(sandboxId, `the sandbox ${sandbox?.status ?? "is gone"}`);
    }
  }

  private async notify(approval: Approval): Promise<void> {
    const webhook = this.options.webhook;
    if (!webhook) return;
    const waiting = needsYouOf(approval);
    const base = this.options.publicUrl?.() ?? "";
    await webhook.post({
      type: "approval.requested",
      ...waiting,
      task_id: approval.task_id,
      request: approval.request,
      ...(base && approval.task_id ? { url: `${base}/tasks/${approval.task_id}` } : {}),
    });
  }
}

function needsYouOf(approval: Approval): NeedsYou {
  return {
    request_id: approval.id,
    sandbox_id: approval.sandbox_id,
    kind: approval.kind,
    tool: approval.tool,
    summary: summarizeRequest(approval.kind, approval.tool, approval.request),
    since: approval.created_at,
  };
}

function alreadyClosed(approval: Approval): OmoiError {
  const answer = approval.answer;
  const by = approval.answered_by;
  const who = by?.kind === "person" ? `a person (${by.client ?? "api"})` : (by?.kind ?? "someone");
  const what =
    approval.status === "expired"
      ? `expired (${answer?.reason ?? "its sandbox ended"})`
      : `already answered '${answer?.decision}' by ${who}`;
  return conflict(`request '${approval.id}' was ${what}; only the first answer counts`, {
    request_id: approval.id,
    status: approval.status,
    answer,
    answered_by: by,
    resolved_at: approval.resolved_at,
  });
}

/** Turns a body into the answer for this kind of request, or a 400 saying what is wrong. */
function checkAnswer(approval: Approval, body: AnswerBody): Answer {
  const accepted = DECISIONS_BY_KIND[approval.kind];
  if (!accepted.includes(body.decision)) {
    throw badRequest(
      `decision '${body.decision}' does not fit a ${approval.kind} request; use one of: ${accepted.join(", ")}`,
      { accepted },
    );
  }
  if (body.remember && body.decision !== "allow") {
    throw badRequest("remember applies only to decision 'allow'");
  }
  if (body.mode && body.decision !== "approve") {
    throw badRequest("mode applies only to decision 'approve' (a plan)");
  }
  if (body.answers && body.decision !== "answer") {
    throw badRequest("answers apply only to decision 'answer' (a question)");
  }
  if (body.decision === "approve" && body.mode === "plan") {
    throw badRequest("approving a plan continues in a working mode, not 'plan'");
  }
  if (body.decision === "answer") {
    const questions = Array.isArray(approval.request.questions) ? approval.request.questions : [];
    if (body.answers?.length !== questions.length) {
      throw badRequest(
        `answers: give exactly ${questions.length} (one per question, in order); got ${body.answers?.length ?? 0}`,
      );
    }
  }
  return {
    decision: body.decision,
    ...(body.reason ? { reason: body.reason } : {}),
    ...(body.remember ? { remember: true } : {}),
    ...(body.mode ? { mode: body.mode } : {}),
    ...(body.answers ? { answers: body.answers } : {}),
  };
}
