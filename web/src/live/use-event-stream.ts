import { useEffect, useRef, useState } from "react";
import type { Cursors, EventFrame } from "../api/types.ts";
import { type ConnectionState, EventStream, type StreamSubscription } from "./event-stream.ts";

/**
 * Opens an `EventStream` for as long as the component lives and `key` stays the same.
 * Handlers are read through a ref, so they may change on every render.
 */
export function useEventStream(
  key: string,
  subscription: StreamSubscription,
  onEvent: (frame: EventFrame, live: boolean) => void,
  onReplayed?: () => void,
  onSubscribed?: (cursors: Cursors) => void,
): { state: ConnectionState; reconnect: () => void } {
  const [state, setState] = useState<ConnectionState>({
    phase: "connecting",
    attempt: 0,
    retryAt: null,
    reason: null,
  });
  const handlers = useRef({ onEvent, onReplayed, onSubscribed });
  handlers.current = { onEvent, onReplayed, onSubscribed };
  const subscriptionRef = useRef(subscription);
  subscriptionRef.current = subscription;
  const streamRef = useRef<EventStream | null>(null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new key means a new subscription, so a new stream.
  useEffect(() => {
    const stream = new EventStream(subscriptionRef.current, {
      onEvent: (frame, live) => handlers.current.onEvent(frame, live),
      onReplayed: () => handlers.current.onReplayed?.(),
      onSubscribed: (cursors) => handlers.current.onSubscribed?.(cursors),
      onState: setState,
    });
    streamRef.current = stream;
    stream.start();
    return () => {
      stream.stop();
      streamRef.current = null;
    };
  }, [key]);

  return { state, reconnect: () => streamRef.current?.reconnectNow("reconnect requested") };
}

/** Re-renders every `intervalMs` and returns the current time. */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
