import { useCallback, useEffect, useRef, useState } from "react";
import type { VirtuosoHandle } from "react-virtuoso";
import { isTerminalSandboxStatus, isTerminalTaskStatus } from "../../../src/protocol/status.ts";
import { api, type SessionTarget } from "../api/client.ts";
import { ApprovalDock, ModeSelect } from "../approvals/approval-cards.tsx";
import { MODE_LABELS, MODE_SHORT } from "../approvals/approvals-model.ts";
import { RepoBar } from "../repo/repo-bar.tsx";
import type { SessionModel } from "./session-model.ts";
import { type SessionRecord, useSession } from "./use-session.ts";
import { Composer } from "./view/composer.tsx";
import { Conversation } from "./view/conversation.tsx";
import { type HeaderFigures, SessionHeader } from "./view/session-header.tsx";
import { TimelineNav } from "./view/timeline-nav.tsx";

function figuresOf(model: SessionModel, record: SessionRecord | null): HeaderFigures {
  const stats = model.stats;
  const task = record?.kind === "task" ? record.task : null;
  const status =
    record?.kind === "task"
      ? record.task.status
      : record?.kind === "sandbox"
        ? record.sandbox.status
        : (stats.taskStatus ?? stats.sandboxStatus);
  return {
    status,
    turns: Math.max(stats.turns, task?.num_turns ?? 0),
    inputTokens: Math.max(stats.inputTokens, task?.input_tokens ?? 0),
    outputTokens: Math.max(stats.outputTokens, task?.output_tokens ?? 0),
    costUsd: Math.max(model.totalCost, task?.cost_usd ?? 0),
    eventsReceived: stats.eventsReceived,
    averageLatencyMs: stats.liveEvents > 0 ? stats.latencyTotalMs / stats.liveEvents : null,
    openedAt: stats.openedAt,
    lastEventAt: stats.lastEventAt,
  };
}

/** Resolves after `count` animation frames: the list has rendered what changed before. */
function nextFrames(count: number): Promise<void> {
  return new Promise((resolve) => {
    const tick = (left: number) => requestAnimationFrame(() => (left <= 1 ? resolve() : tick(left - 1)));
    tick(count);
  });
}

export function SessionPage({ target }: { target: SessionTarget }) {
  const session = useSession(target);
  const { model, approvals, record, loadError, connection } = session;
  const [actionError, setActionError] = useState<string | null>(null);
  const [atBottom, setAtBottom] = useState(true);
  const list = useRef<VirtuosoHandle>(null);
  const { loadOlder, loadAll, replayed } = session;
  const onStartReached = useCallback(() => {
    if (replayed) void loadOlder();
  }, [replayed, loadOlder]);
  const scrollToKey = (key: string) => {
    const index = model.items.findIndex((item) => item.key === key);
    if (index >= 0) list.current?.scrollToIndex({ index, align: "start" });
  };
  // Jumping to the start loads all history, lets it render, then scrolls to the first item;
  // meanwhile the list does not follow the live end (history joined on grows the list too).
  const following = useRef(true);
  const jumping = useRef(false);
  const jumpToStart = async () => {
    jumping.current = true;
    following.current = false;
    await loadAll();
    await nextFrames(2);
    list.current?.scrollToIndex({ index: 0, align: "start" });
    await nextFrames(1);
    window.scrollTo({ top: 0 });
    jumping.current = false;
  };
  const jumpToLive = () => {
    following.current = true;
    list.current?.scrollToIndex({ index: "LAST", align: "end" });
    requestAnimationFrame(() => window.scrollTo({ top: document.documentElement.scrollHeight }));
  };
  // The task's repository state (changes, push, pull request) is read again after each repo event.
  const repoEvents = model.repoNotes;
  const reload = session.reload;
  useEffect(() => {
    if (repoEvents > 0) void reload();
  }, [repoEvents, reload]);

  if (loadError && !record) {
    const what = target.kind === "task" ? "task" : "sandbox";
    return (
      <div className="page narrow">
        <div className="alert alert-danger" role="alert" data-testid="session-error">
          {loadError.status === 404
            ? `No ${what} with id ${target.id}.`
            : `Could not load the ${what}: ${loadError.message}`}{" "}
          {loadError.status === 404 ? (
            <a href="#/">Back to tasks</a>
          ) : (
            <button type="button" className="link-button" onClick={() => void session.reload()}>
              Try again
            </button>
          )}
        </div>
      </div>
    );
  }

  const figures = figuresOf(model, record);
  const status = figures.status ?? "pending";
  const terminal = target.kind === "task" ? isTerminalTaskStatus(status) : isTerminalSandboxStatus(status);
  const running = !terminal && (model.stats.activity === "working" || status === "running");
  const isExternal = record?.kind === "sandbox" && record.sandbox.kind === "external";

  async function act(action: () => Promise<unknown>) {
    setActionError(null);
    try {
      await action();
      void session.reload();
    } catch (error) {
      setActionError(error instanceof Error ? error.message : "the request failed");
    }
  }

  // A finished task may keep its sandbox open, idle, waiting for a follow-up (and holding a
  // slot): then the stop button closes that sandbox instead of cancelling the task.
  const taskSandbox = record?.kind === "task" ? record.task.sandbox : null;
  const openSandbox = terminal && taskSandbox && !isTerminalSandboxStatus(taskSandbox.status) ? taskSandbox : null;
  const interrupt = () => act(() => api.postMessage(target, { content: "", message_type: "interrupt" }));
  const stop = () =>
    act(() =>
      openSandbox
        ? api.stopSandbox(openSandbox.id)
        : target.kind === "task"
          ? api.cancelTask(target.id)
          : api.stopSandbox(target.id),
    );
  const retry = () => act(() => api.retryTask(target.id));

  let disabledReason: string | null = null;
  if (target.kind === "sandbox" && terminal) disabledReason = `This sandbox is ${status}; it cannot take messages.`;
  if (!record) disabledReason = "Loading…";

  const title = record?.kind === "task" ? record.task.title || record.task.prompt.slice(0, 80) : `Sandbox ${target.id}`;

  return (
    <div className="page session-page" data-testid="session-page" data-kind={target.kind}>
      <SessionHeader
        kindLabel={target.kind === "task" ? "Task" : isExternal ? "External sandbox" : "Sandbox"}
        title={title}
        subtitle={<Subtitle record={record} />}
        figures={figures}
        connection={connection}
        onReconnect={session.reconnect}
        actions={
          <>
            <ModeBadge mode={approvals.mode ?? recordMode(record)} />
            {record?.kind === "task" && (status === "failed" || status === "cancelled") ? (
              <button type="button" className="button small" data-testid="retry-button" onClick={() => void retry()}>
                Retry
              </button>
            ) : null}
          </>
        }
      />
      {record?.kind === "task" && record.task.repo ? (
        <RepoBar task={record.task} onChanged={() => void session.reload()} />
      ) : null}
      <section className="conversation-wrap" aria-label="Conversation">
        <TimelineNav
          turns={model.turnStarts}
          history={session.historyState}
          atBottom={atBottom}
          onStart={() => void jumpToStart()}
          onTurn={scrollToKey}
          onLive={jumpToLive}
        />
        <Conversation
          ref={list}
          items={model.items}
          version={model.version}
          firstIndex={session.firstIndex}
          prompt={model.prompt}
          history={session.historyState}
          onStartReached={onStartReached}
          onAtBottom={(bottom) => {
            setAtBottom(bottom);
            // Reaching the end by scrolling (not during a jump to the start) follows again.
            if (bottom && !jumping.current) following.current = true;
          }}
          follow={() => following.current}
          activity={terminal ? "ended" : approvals.open().length > 0 ? "needs_you" : model.stats.activity}
          loading={!session.replayed}
          cwd={model.stats.cwd}
        />
      </section>
      <div className="composer-dock">
        <ApprovalDock
          requests={approvals.open()}
          onAnswered={(request, decision) => {
            approvals.settle(request.id, decision);
            session.render();
          }}
        />
        <Composer
          disabledReason={disabledReason}
          running={running}
          canStop={(!terminal || openSandbox !== null) && record !== null}
          stopLabel={target.kind === "task" && !openSandbox ? "Cancel task" : "Stop sandbox"}
          placeholder={terminal ? "Send a follow-up — the agent picks the session back up" : "Message the agent…"}
          onSend={session.send}
          onInterrupt={() => void interrupt()}
          onStop={() => void stop()}
          actionError={actionError}
          extra={
            isExternal || !record ? null : (
              <ModeSelect
                testId="composer-mode"
                value={approvals.mode ?? recordMode(record) ?? "bypassPermissions"}
                disabled={target.kind === "sandbox" && terminal}
                onChange={(mode) => void act(() => api.setMode(target, mode))}
              />
            )
          }
        />
      </div>
    </div>
  );
}

function recordMode(record: SessionRecord | null): string | null {
  if (!record) return null;
  return record.kind === "task" ? record.task.permission_mode : record.sandbox.permission_mode;
}

function ModeBadge({ mode }: { mode: string | null }) {
  if (!mode) return null;
  return (
    <span className="mode-badge" data-testid="session-mode" data-mode={mode} title={MODE_LABELS[mode] ?? mode}>
      {MODE_SHORT[mode] ?? mode}
    </span>
  );
}

function Subtitle({ record }: { record: SessionRecord | null }) {
  if (!record) return <span>Loading…</span>;
  if (record.kind === "sandbox") {
    const sandbox = record.sandbox;
    return (
      <span>
        <code>{sandbox.id}</code> · {sandbox.provider}
        {sandbox.task_id ? (
          <>
            {" "}
            · task <a href={`#/tasks/${sandbox.task_id}`}>{sandbox.task_id}</a>
          </>
        ) : null}
      </span>
    );
  }
  const task = record.task;
  return (
    <span>
      <code>{task.id}</code>
      {task.model ? ` · ${task.model}` : ""} · {task.priority.toLowerCase()}
      {task.attempts > 1 ? ` · attempt ${task.attempts}` : ""}
      {task.sandbox_id ? (
        <>
          {" "}
          · sandbox <a href={`#/sandboxes/${task.sandbox_id}`}>{task.sandbox_id}</a>
        </>
      ) : null}
    </span>
  );
}
