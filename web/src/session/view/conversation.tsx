import { memo } from "react";
import { Markdown } from "../../components/markdown.tsx";
import { formatClock } from "../../format.ts";
import type { Item, UserItem } from "../items.ts";
import type { AgentActivity } from "../session-model.ts";
import { DiffView } from "./diff-view.tsx";
import { TodoList } from "./todo-list.tsx";
import { ToolCard } from "./tool-card.tsx";

const STATUS_LABEL: Record<UserItem["status"], string> = {
  sending: "sending…",
  queued: "queued",
  delivered: "delivered",
  failed: "not sent",
};

const UserBubble = memo(function UserBubble({ item }: { item: UserItem }) {
  const isPrompt = item.key === "prompt";
  return (
    <div className="user-row">
      <div
        className={`bubble user-bubble ${item.status === "failed" ? "bubble-failed" : ""}`}
        data-testid="user-message"
      >
        <div className="bubble-text">{item.content}</div>
        <div className="bubble-meta">
          {item.messageType !== "user_message" ? <span className="tag">{item.messageType}</span> : null}
          {item.delivery === "queue" ? <span className="tag">after this turn</span> : null}
          {isPrompt ? (
            <span>task prompt</span>
          ) : (
            <span
              className={`message-status status-${item.status}`}
              data-testid="message-status"
              data-status={item.status}
              data-message-id={item.messageId ?? undefined}
            >
              {STATUS_LABEL[item.status]}
            </span>
          )}
          <time dateTime={new Date(item.at).toISOString()}>{formatClock(item.at)}</time>
        </div>
        {item.error ? (
          <div className="bubble-error" role="alert">
            {item.error}
          </div>
        ) : null}
      </div>
    </div>
  );
});

function ItemView({ item, cwd }: { item: Item; cwd: string | null }) {
  switch (item.kind) {
    case "user":
      return <UserBubble item={item} />;
    case "assistant":
      return (
        <div className={`assistant ${item.streaming ? "streaming" : ""}`} data-testid="assistant-message">
          <Markdown text={item.text} />
          {item.streaming ? <span className="caret" aria-hidden="true" /> : null}
        </div>
      );
    case "thinking":
      return (
        <details className="thinking" data-testid="thinking">
          <summary>
            <span className="thinking-label">Thinking</span>
            <span className="thinking-preview">{item.text.trim().split("\n")[0]}</span>
          </summary>
          <div className="thinking-text">{item.text}</div>
        </details>
      );
    case "tool":
      return <ToolCard item={item} cwd={cwd} />;
    case "file_edit":
      return <DiffView path={item.path} diff={item.diff} />;
    case "todos":
      return <TodoList todos={item.todos} />;
    case "error":
      return (
        <div className="alert alert-danger error-item" role="alert" data-testid="error-item">
          <strong>{item.title}</strong>
          <div className="error-text">{item.message}</div>
        </div>
      );
    case "note":
      return (
        <div className={`note note-${item.tone}`} data-testid="note" data-event-type={item.eventType}>
          <span>{item.text}</span>
          <time dateTime={new Date(item.at).toISOString()}>{formatClock(item.at)}</time>
        </div>
      );
  }
}

const ItemRow = memo(function ItemRow({ item, cwd }: { item: Item; cwd: string | null }) {
  return (
    <li className={`item item-${item.kind}`} data-testid="event-item" data-kind={item.kind} data-key={item.key}>
      <ItemView item={item} cwd={cwd} />
    </li>
  );
});

export function Conversation({
  items,
  activity,
  loading,
  cwd,
}: {
  items: Item[];
  activity: AgentActivity;
  loading: boolean;
  cwd: string | null;
}) {
  if (items.length === 0) {
    return (
      <div className="empty muted" data-testid="conversation-empty">
        {loading ? "Loading the session…" : "No events yet. The agent's work will appear here as it happens."}
      </div>
    );
  }
  return (
    <>
      <ol className="conversation" data-testid="conversation" aria-live="polite" aria-relevant="additions">
        {items.map((item) => (
          <ItemRow key={item.key} item={item} cwd={cwd} />
        ))}
      </ol>
      <ActivityLine activity={activity} />
    </>
  );
}

function ActivityLine({ activity }: { activity: AgentActivity }) {
  if (activity === "working") {
    return (
      <div className="activity" data-testid="agent-activity" data-activity="working">
        <span className="dots" aria-hidden="true">
          <span />
          <span />
          <span />
        </span>
        Claude is working…
      </div>
    );
  }
  if (activity === "waiting") {
    return (
      <div className="activity muted" data-testid="agent-activity" data-activity="waiting">
        Waiting for your next message.
      </div>
    );
  }
  return null;
}
