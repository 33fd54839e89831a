import { createContext, type ReactNode, useContext, useEffect, useMemo, useRef, useState } from "react";
import { REQUEST_EVENT_TYPES, RESOLVED_EVENT_TYPE } from "../../../src/protocol/approval-requests.ts";
import type { EventFrame } from "../api/types.ts";
import type { ConnectionState } from "./event-stream.ts";
import { useEventStream } from "./use-event-stream.ts";

type Listener = (frame: EventFrame, live: boolean) => void;

interface TaskFeed {
  state: ConnectionState;
  /** Calls `listener` for every `task.*` and approval event of every task; returns the unsubscribe. */
  subscribe: (listener: Listener) => () => void;
}

/** Lifecycle events, and approval requests and answers (a task that waits for a person). */
const FEED_EVENT_TYPES = ["task.*", ...Object.values(REQUEST_EVENT_TYPES), RESOLVED_EVENT_TYPE];

const TaskFeedContext = createContext<TaskFeed | null>(null);

/** One app-wide socket for `task.*` events: the task list and notifications share it. */
export function TaskFeedProvider({ children }: { children: ReactNode }) {
  const listeners = useRef(new Set<Listener>());
  const { state } = useEventStream(
    "task-feed",
    { entityTypes: ["task"], eventTypes: FEED_EVENT_TYPES, replay: false, resume: false },
    {
      onEvent: (frame, live) => {
        for (const listener of listeners.current) listener(frame, live);
      },
    },
  );
  const [subscribe] = useState(() => (listener: Listener) => {
    listeners.current.add(listener);
    return () => {
      listeners.current.delete(listener);
    };
  });
  const value = useMemo(() => ({ state, subscribe }), [state, subscribe]);
  return <TaskFeedContext.Provider value={value}>{children}</TaskFeedContext.Provider>;
}

export function useTaskFeed(): TaskFeed {
  const feed = useContext(TaskFeedContext);
  if (!feed) throw new Error("useTaskFeed needs a TaskFeedProvider");
  return feed;
}

/** Runs `listener` for each task event while the component lives. */
export function useTaskEvents(listener: Listener): void {
  const { subscribe } = useTaskFeed();
  const ref = useRef(listener);
  ref.current = listener;
  useEffect(() => subscribe((frame, live) => ref.current(frame, live)), [subscribe]);
}
