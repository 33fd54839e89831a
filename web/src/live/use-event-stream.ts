import { useEffect, useRef, useState } from "react";
import { type ConnectionState, EventStream, type StreamHandlers, type StreamSubscription } from "./event-stream.ts";

/**
 * Opens an `EventStream` for as long as the component lives and `key` stays the same.
 * Handlers are read through a ref, so they may change on every render.
 */
export function useEventStream(
  key: string,
  subscription: StreamSubscription,
  handlers: Omit<StreamHandlers, "onState">,
): { state: ConnectionState; reconnect: () => void } {
  const [state, setState] = useState<ConnectionState>({
    phase: "connecting",
    attempt: 0,
    retryAt: null,
    reason: null,
  });
  const current = useRef(handlers);
  current.current = handlers;
  const subscriptionRef = useRef(subscription);
  subscriptionRef.current = subscription;
  const streamRef = useRef<EventStream | null>(null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new key means a new subscription, so a new stream.
  useEffect(() => {
    const stream = new EventStream(subscriptionRef.current, {
      onEvent: (frame, live) => current.current.onEvent(frame, live),
      onReplayed: () => current.current.onReplayed?.(),
      onSubscribed: (cursors) => current.current.onSubscribed?.(cursors),
      onSkipped: (stream, count) => current.current.onSkipped?.(stream, count),
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
