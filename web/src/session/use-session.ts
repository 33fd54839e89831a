import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, api, type SessionTarget } from "../api/client.ts";
import type { EventFrame, MessageDelivery, Sandbox, TaskWithSandbox } from "../api/types.ts";
import { useEventStream } from "../live/use-event-stream.ts";
import { SessionModel } from "./session-model.ts";

export type SessionRecord = { kind: "task"; task: TaskWithSandbox } | { kind: "sandbox"; sandbox: Sandbox };

const REFRESH_ON = /^(task\.|sandbox\.|agent\.(turn_completed|completed|failed|started))/;

/**
 * Everything one session view needs: the record (task or sandbox, refetched as its
 * lifecycle moves), the conversation model fed by a resumable event stream, and actions.
 */
export function useSession(target: SessionTarget) {
  const [model] = useState(() => new SessionModel());
  const [, setVersion] = useState(0);
  const [record, setRecord] = useState<SessionRecord | null>(null);
  const [loadError, setLoadError] = useState<{ status: number; message: string } | null>(null);
  const [replayed, setReplayed] = useState(false);
  const frame = useRef<number | null>(null);
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const localCounter = useRef(0);

  const render = useCallback(() => {
    if (frame.current !== null) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = null;
      setVersion(model.version);
    });
  }, [model]);

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
      render();
    } catch (error) {
      const status = error instanceof ApiError ? error.status : 0;
      setLoadError({ status, message: error instanceof Error ? error.message : "could not load" });
    }
  }, [target.kind, target.id, model, render]);

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

  const { state: connection, reconnect } = useEventStream(
    `${target.kind}:${target.id}`,
    { entityTypes: [target.kind], entityIds: [target.id], replay: true },
    (event: EventFrame, live: boolean) => {
      model.apply(event, live);
      render();
      if (live && REFRESH_ON.test(event.event_type)) refreshSoon();
    },
    () => {
      setReplayed(true);
      refreshSoon();
    },
  );

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

  return { model, record, loadError, replayed, connection, reconnect, send, reload: loadRecord };
}
