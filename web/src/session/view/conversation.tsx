import { type ComponentPropsWithoutRef, forwardRef, memo, useCallback, useLayoutEffect, useMemo, useRef } from "react";
import { Virtuoso, type VirtuosoHandle } from "react-virtuoso";
import { Markdown } from "../../components/markdown.tsx";
import { formatClock } from "../../format.ts";
import type { Item, UserItem } from "../items.ts";
import type { AgentActivity } from "../session-model.ts";
import { DiffView } from "./diff-view.tsx";
import { LoadedSettings } from "./loaded-settings.tsx";
import { SetupLog } from "./setup-log.tsx";
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
    case "setup":
      return <SetupLog item={item} />;
    case "loaded":
      return <LoadedSettings item={item} />;
    case "note":
      return (
        <div className={`note note-${item.tone}`} data-testid="note" data-event-type={item.eventType}>
          <span>{item.text}</span>
          <time dateTime={new Date(item.at).toISOString()}>{formatClock(item.at)}</time>
        </div>
      );
  }
}

/** One conversation item; the virtualized list wraps it in its own list element. */
const ItemRow = memo(function ItemRow({ item, cwd }: { item: Item; cwd: string | null }) {
  return (
    <div className={`item item-${item.kind}`} data-testid="event-item" data-kind={item.kind} data-key={item.key}>
      <ItemView item={item} cwd={cwd} />
    </div>
  );
});

export type HistoryState = "partial" | "loading" | "complete";

interface HeadContext {
  prompt: UserItem | null;
  history: HistoryState;
  cwd: string | null;
  version: number;
}

interface ConversationProps {
  items: Item[];
  /** Bumped on every change of the items (they change in place). */
  version: number;
  /** Virtuoso's index of `items[0]`; it counts down as earlier history is joined on. */
  firstIndex: number;
  prompt: UserItem | null;
  history: HistoryState;
  onStartReached: () => void;
  onAtBottom: (atBottom: boolean) => void;
  /** Keep the newest item in view as items arrive, while the reader is at the bottom. */
  follow: () => boolean;
  /** `needs_you`: a request waits for the person's answer (the cards below the conversation). */
  activity: AgentActivity | "needs_you";
  loading: boolean;
  cwd: string | null;
}

const ListElement = forwardRef<HTMLOListElement, ComponentPropsWithoutRef<"ol">>(function ListElement(props, ref) {
  return (
    <ol
      {...props}
      ref={ref}
      className="conversation"
      data-testid="conversation"
      aria-live="polite"
      aria-relevant="additions"
    />
  );
});

function ListItem({
  children,
  item: _item,
  context: _context,
  ...props
}: ComponentPropsWithoutRef<"li"> & { item?: unknown; context?: unknown }) {
  return <li {...props}>{children}</li>;
}

/** How near the end (px) the reader still counts as there. */
const AT_END_PX = 160;

/**
 * The conversation, virtualized: only the items near the viewport are in the DOM, however
 * long the session. It opens at its end, follows new items while the reader is at the
 * bottom, and asks for earlier history when the reader reaches the top.
 */
export const Conversation = forwardRef<VirtuosoHandle, ConversationProps>(function Conversation(
  { items, version, firstIndex, prompt, history, onStartReached, onAtBottom, follow, activity, loading, cwd },
  ref,
) {
  // A new context re-renders the rows and the header: on every change of the items.
  const context = useMemo(() => ({ prompt, history, cwd, version }), [prompt, history, cwd, version]);
  const handle = useRef<VirtuosoHandle | null>(null);
  const setHandle = useCallback(
    (value: VirtuosoHandle | null) => {
      handle.current = value;
      if (typeof ref === "function") ref(value);
      else if (ref) ref.current = value;
    },
    [ref],
  );
  // The list is laid out once, with the whole tail, when replay has caught up (not once per
  // frame while the tail arrives), and opens at its end: scrolled there before the first paint,
  // rather than through the list's own initial-item pass, which hides it for several frames.
  // While the reader follows, the page stays scrolled to the very end of the document as the
  // conversation grows, not only to the end of the list: the composer docked at the bottom of
  // the window would otherwise cover the newest items.
  const shown = items.length > 0 && !loading;
  const wrap = useRef<HTMLDivElement | null>(null);
  const followRef = useRef(follow);
  followRef.current = follow;
  useLayoutEffect(() => {
    if (!shown) return;
    const toEnd = () => window.scrollTo({ top: document.documentElement.scrollHeight });
    handle.current?.scrollToIndex({ index: "LAST", align: "end" });
    toEnd();
    const element = wrap.current;
    if (!element) return;
    // The reader leaves the end by scrolling up, never because the page grew: items measured
    // taller than estimated, or a new step, push the end away without the reader moving, and
    // the view must still follow them down. Back near the end, it follows again.
    let atEnd = true;
    let lastY = window.scrollY;
    const onScroll = () => {
      const y = window.scrollY;
      const end = document.documentElement.scrollHeight - window.innerHeight;
      if (y >= end - AT_END_PX) atEnd = true;
      else if (y < lastY) atEnd = false;
      lastY = y;
    };
    window.addEventListener("scroll", onScroll, { passive: true });
    const observer = new ResizeObserver(() => {
      if (atEnd && followRef.current()) toEnd();
    });
    // The page below the list (the space kept for the docked composer, cards) grows too.
    observer.observe(element);
    observer.observe(document.body);
    return () => {
      observer.disconnect();
      window.removeEventListener("scroll", onScroll);
    };
  }, [shown]);
  if (!shown) {
    return (
      <>
        {prompt ? <ItemRow item={prompt} cwd={cwd} /> : null}
        <div className="empty muted" data-testid="conversation-empty">
          {loading ? "Loading the session…" : "No events yet. The agent's work will appear here as it happens."}
        </div>
      </>
    );
  }
  return (
    <div ref={wrap}>
      <Virtuoso
        ref={setHandle}
        useWindowScroll
        totalCount={items.length}
        firstItemIndex={firstIndex}
        computeItemKey={(index) => items[index - firstIndex]?.key ?? index}
        itemContent={(index) => {
          const item = items[index - firstIndex];
          return item ? <ItemRow item={item} cwd={cwd} /> : null;
        }}
        context={context}
        components={COMPONENTS}
        atBottomStateChange={onAtBottom}
        atBottomThreshold={AT_END_PX}
        startReached={onStartReached}
        increaseViewportBy={{ top: 800, bottom: 400 }}
        defaultItemHeight={80}
      />
      <ActivityLine activity={activity} />
    </div>
  );
});

/** Above the first loaded item: the prompt once history is complete, or where history stands. */
function HistoryHead({ context }: { context: HeadContext }) {
  const { prompt, history, cwd } = context;
  if (history === "complete") return prompt ? <ItemRow item={prompt} cwd={cwd} /> : null;
  return (
    <div className="history-head muted small" data-testid="history-state" data-state={history}>
      {history === "loading" ? "Loading earlier events…" : "Scroll up for earlier events"}
    </div>
  );
}

const COMPONENTS = { List: ListElement, Item: ListItem, Header: HistoryHead };

function ActivityLine({ activity }: { activity: AgentActivity | "needs_you" }) {
  if (activity === "needs_you") {
    return (
      <div className="activity needs-answer" data-testid="agent-activity" data-activity="needs_you">
        Claude is waiting for your answer below.
      </div>
    );
  }
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
