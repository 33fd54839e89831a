import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, api, type SessionTarget } from "../api/client.ts";
import type { Cursors, EventFrame, MessageDelivery, Sandbox, TaskWithSandbox } from "../api/types.ts";
import { ApprovalsModel } from "../approvals/approvals-model.ts";
import { useEventStream } from "../live/use-event-stream.ts";
import { SessionModel } from "./session-model.ts";

export type SessionRecord = { kind: "task"; task: TaskWithSandbox } | { kind: "sandbox"; sandbox: Sandbox };

const REFRESH_ON = /^(task\.|sandbox\.|agent\.(turn_completed|completed|failed|started))/;

/** Events per stream shown when a session opens; earlier ones load as the person scrolls up. */
export const TAIL_EVENTS = 400;
/** Events per page of earlier history. */
const HISTORY_PAGE = 1000;
/** `firstItemIndex` of a fresh view: room to count down as history is joined on in front. */
const FIRST_INDEX = 1_000_000_000;

/** How far back one stream is loaded. */
interface StreamHistory {
  /** Seqs below this are not loaded yet; 1 means the stream is loaded from its start. */
  before: number;
  /** `stored_at` of its oldest loaded event, to page the most recent gap first. */
  oldestAt: number;
}

/**
 * Everything one session view needs: the record (task or sandbox, refetched as its
 * lifecycle moves), the conversation model fed by a resumable event stream, and actions.
 */
export function useSession(target: SessionTarget) {
  const [model] = useState(() => new SessionModel());
  const [approvals] = useState(() => new ApprovalsModel());
  const [, setVersion] = useState(0);
  const [record, setRecord] = useState<SessionRecord | null>(null);
  const [loadError, setLoadError] = useState<{ status: number; message: string } | null>(null);
  const [replayed, setReplayed] = useState(false);
  const frame = useRef<number | null>(null);
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const localCounter = useRef(0);
  const history = useRef(new Map<string, StreamHistory>());
  const [firstIndex, setFirstIndex] = useState(FIRST_INDEX);
  const [historyState, setHistoryState] = useState<"partial" | "loading" | "complete">("partial");
  const loadingOlder = useRef<Promise<boolean> | null>(null);

  const render = useCallback(() => {
    if (frame.current !== null) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = null;
      // A counter, not the model's version: approval cards change without the timeline.
      setVersion((version) => version + 1);
    });
  }, []);

  const loadRecord = useCallback(async () => {
    try {
      const next: SessionRecord =
        target.kind === "task"
          ? { kind: "task", task: await api.getTask(target.id) }
          : { kind: "sandbox", sandbox: await api.getSandbox(target.id) };
      setRecord(next);
      setLoadError(null);
      const prompt = next.kind === "task" ? next.task.prompt : next.sandbox.prompt;
      const at = next.kind === "task" ? next.task.created_at : next.sandbox.created_at;
      model.setPrompt(prompt, at);
      // Open requests older than the replayed tail still need an answer: fetch them.
      const sandboxId = next.kind === "task" ? next.task.sandbox_id : next.sandbox.id;
      if (sandboxId) approvals.seed(sandboxId, await api.openRequests(sandboxId).catch(() => []));
      render();
    } catch (error) {
      const status = error instanceof ApiError ? error.status : 0;
      setLoadError({ status, message: error instanceof Error ? error.message : "could not load" });
    }
  }, [target.kind, target.id, model, approvals, render]);

  const refreshSoon = useCallback(() => {
    if (refreshTimer.current) return;
    refreshTimer.current = setTimeout(() => {
      refreshTimer.current = null;
      void loadRecord();
    }, 200);
  }, [loadRecord]);

  useEffect(() => {
    void loadRecord();
    return () => {
      if (refreshTimer.current) clearTimeout(refreshTimer.current);
      if (frame.current !== null) cancelAnimationFrame(frame.current);
    };
  }, [loadRecord]);

  const hasOlder = useCallback(() => [...history.current.values()].some((stream) => stream.before > 1), []);

  const { state: connection, reconnect } = useEventStream(
    `${target.kind}:${target.id}`,
    {
      entityTypes: [target.kind],
      entityIds: [target.id],
      replay: true,
      tail: TAIL_EVENTS,
      compact: true,
    },
    {
      onEvent: (event: EventFrame, live: boolean) => {
        // A stream first seen here (not announced by `subscribed`) is sent from its start.
        const known = history.current.get(event.stream_id);
        if (!known) history.current.set(event.stream_id, { before: 1, oldestAt: event.stored_at });
        else if (known.oldestAt === Number.POSITIVE_INFINITY) known.oldestAt = event.stored_at;
        model.apply(event, live);
        approvals.apply(event);
        render();
        if (live && REFRESH_ON.test(event.event_type)) refreshSoon();
      },
      onSkipped: (_stream: string, count: number) => {
        model.passOver(count);
        render();
      },
      onReplayed: () => {
        setReplayed(true);
        setHistoryState(hasOlder() ? "partial" : "complete");
        refreshSoon();
      },
      onSubscribed: (cursors: Cursors) => {
        // Where each stream's replay starts is where its unloaded history ends (first connect
        // only: after a reconnect these are our own cursors).
        for (const [stream, cursor] of Object.entries(cursors)) {
          if (history.current.has(stream)) continue;
          history.current.set(stream, { before: cursor + 1, oldestAt: Number.POSITIVE_INFINITY });
        }
      },
    },
  );

  /**
   * Joins the next page of earlier history on in front: from the stream whose gap is newest.
   * Resolves false when nothing was loaded (none left, or the request failed: the next
   * scroll to the top tries again).
   */
  const loadOlder = useCallback((): Promise<boolean> => {
    if (loadingOlder.current) return loadingOlder.current;
    let next: [string, StreamHistory] | undefined;
    for (const entry of history.current) {
      if (entry[1].before <= 1) continue;
      if (!next || entry[1].oldestAt > next[1].oldestAt) next = entry;
    }
    if (!next) {
      setHistoryState("complete");
      return Promise.resolve(false);
    }
    const [stream, state] = next;
    setHistoryState("loading");
    const load = (async () => {
      try {
        const page = await api.eventsBefore(stream, state.before, HISTORY_PAGE);
        const added = model.prepend(page.events);
        // The page covers first_seq..last_seq; compaction left its superseded deltas out.
        model.passOver(page.last_seq - page.first_seq + 1 - page.events.length);
        state.before = page.has_more ? page.first_seq : 1;
        if (page.events[0]) state.oldestAt = page.events[0].stored_at;
        setFirstIndex((index) => index - added);
        render();
        return true;
      } catch {
        return false;
      } finally {
        loadingOlder.current = null;
        setHistoryState(hasOlder() ? "partial" : "complete");
      }
    })();
    loadingOlder.current = load;
    return load;
  }, [model, render, hasOlder]);

  /** Loads every page of earlier history (jump to the start, or to an early turn). */
  const loadAll = useCallback(async () => {
    let loaded = true;
    while (loaded && hasOlder()) loaded = await loadOlder();
  }, [loadOlder, hasOlder]);

  const send = useCallback(
    async (content: string, delivery: MessageDelivery): Promise<boolean> => {
      localCounter.current += 1;
      const localKey = `local-${localCounter.current}`;
      model.addLocalMessage(localKey, content, "user_message", delivery);
      render();
      try {
        const response = await api.postMessage(target, { content, message_type: "user_message", delivery });
        model.resolveLocalMessage(localKey, response.message_id);
        render();
        return true;
      } catch (error) {
        model.failLocalMessage(localKey, error instanceof Error ? error.message : "not sent");
        render();
        return false;
      }
    },
    [model, render, target],
  );

  return {
    model,
    approvals,
    record,
    loadError,
    replayed,
    connection,
    reconnect,
    send,
    reload: loadRecord,
    firstIndex,
    historyState,
    loadOlder,
    loadAll,
    render,
  };
}
