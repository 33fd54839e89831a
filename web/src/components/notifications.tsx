import { useState } from "react";
import { kindOfRequestEvent, summarizeRequest } from "../../../src/protocol/approval-requests.ts";
import { api } from "../api/client.ts";
import { useTaskEvents } from "../live/task-feed.tsx";

const supported = typeof window !== "undefined" && "Notification" in window;

const ENDINGS: Record<string, string> = {
  "task.completed": "Task completed",
  "task.failed": "Task failed",
  "task.cancelled": "Task cancelled",
};

/** Asks for permission on a click, then notifies when a task ends (live events only). */
export function NotificationButton() {
  const [permission, setPermission] = useState<NotificationPermission | "unsupported">(
    supported ? Notification.permission : "unsupported",
  );

  useTaskEvents((frame, live) => {
    const kind = kindOfRequestEvent(frame.event_type);
    if (kind && live && supported && Notification.permission === "granted") {
      // Names what the task waits for, so a person can decide from the notification alone.
      const taskId = frame.task_id ?? frame.stream_id;
      const tool = typeof frame.payload.tool === "string" ? frame.payload.tool : kind;
      show("Task needs you", summarizeRequest(kind, tool, frame.payload), taskId);
      return;
    }
    const title = ENDINGS[frame.event_type];
    if (!live || !title || !supported || Notification.permission !== "granted") return;
    if (Date.now() - frame.stored_at > 60_000) return; // an old ending replayed, not news
    const taskId = frame.task_id ?? frame.stream_id;
    if (frame.event_type === "task.failed" && frame.payload.will_retry === true) return;
    api
      .getTask(taskId)
      .then((task) => show(title, task.title || task.prompt.slice(0, 80), taskId))
      .catch(() => show(title, taskId, taskId));
  });

  if (permission === "unsupported" || permission === "granted") return null;
  if (permission === "denied") {
    return (
      <span className="muted small" title="Allow notifications for this site in the browser settings">
        Notifications blocked
      </span>
    );
  }
  return (
    <button
      type="button"
      className="button ghost small"
      data-testid="enable-notifications"
      title="Get a browser notification when a task finishes"
      aria-label="Notify me when tasks finish"
      onClick={() => {
        void Notification.requestPermission().then(setPermission);
      }}
    >
      <svg
        width="14"
        height="14"
        viewBox="0 0 24 24"
        aria-hidden="true"
        fill="none"
        stroke="currentColor"
        strokeWidth="2"
        strokeLinecap="round"
        strokeLinejoin="round"
      >
        <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
        <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
      </svg>
      <span className="button-label">Notify me</span>
    </button>
  );
}

function show(title: string, body: string, taskId: string): void {
  try {
    const notification = new Notification(title, { body, tag: `omoi-${taskId}` });
    notification.onclick = () => {
      window.focus();
      location.hash = `#/tasks/${taskId}`;
      notification.close();
    };
  } catch {
    // some browsers only allow notifications from a service worker; nothing to do
  }
}
