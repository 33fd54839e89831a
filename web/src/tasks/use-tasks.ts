import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../api/client.ts";
import type { Task } from "../api/types.ts";
import { useTaskEvents, useTaskFeed } from "../live/task-feed.tsx";

export interface TasksState {
  tasks: Task[];
  total: number;
  loading: boolean;
  error: string | null;
}

const ACTIVE_POLL_MS = 10_000;

/**
 * The task list for a status filter, refetched whenever a `task.*` event arrives (batched),
 * whenever the live feed reconnects, and now and then while tasks are active (their
 * cost and turns change without a task event).
 */
export function useTasks(status: string): TasksState & { refetch: () => void } {
  const [state, setState] = useState<TasksState>({ tasks: [], total: 0, loading: true, error: null });
  const generation = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = useCallback(() => {
    const current = ++generation.current;
    api
      .listTasks(status || undefined)
      .then((result) => {
        if (current !== generation.current) return;
        setState({ tasks: result.tasks, total: result.total, loading: false, error: null });
      })
      .catch((error: unknown) => {
        if (current !== generation.current) return;
        const message = error instanceof Error ? error.message : "could not load tasks";
        setState((previous) => ({ ...previous, loading: false, error: message }));
      });
  }, [status]);

  const refetchSoon = useCallback(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      load();
    }, 150);
  }, [load]);

  useEffect(() => {
    setState((previous) => ({ ...previous, loading: true }));
    load();
    return () => {
      if (timer.current) clearTimeout(timer.current);
      timer.current = null;
    };
  }, [load]);

  useTaskEvents(() => refetchSoon());

  const { state: feedState } = useTaskFeed();
  const wasLive = useRef(false);
  useEffect(() => {
    const live = feedState.phase === "live";
    if (live && !wasLive.current) refetchSoon();
    wasLive.current = live;
  }, [feedState.phase, refetchSoon]);

  const hasActive = state.tasks.some((task) => ["pending", "assigned", "running"].includes(task.status));
  useEffect(() => {
    if (!hasActive) return;
    const interval = setInterval(refetchSoon, ACTIVE_POLL_MS);
    return () => clearInterval(interval);
  }, [hasActive, refetchSoon]);

  return { ...state, refetch: load };
}
