import { type FormEvent, type KeyboardEvent, type ReactNode, useId, useRef, useState } from "react";
import type { MessageDelivery } from "../../api/types.ts";

export interface ComposerProps {
  /** Why sending is impossible right now (shown instead of the input), or null. */
  disabledReason: string | null;
  /** The agent is mid-run: interrupt and stop make sense, and delivery matters. */
  running: boolean;
  canStop: boolean;
  placeholder: string;
  stopLabel: string;
  onSend: (content: string, delivery: MessageDelivery) => Promise<boolean>;
  onInterrupt: () => void;
  onStop: () => void;
  actionError: string | null;
  /** More controls for the bar (the permission mode selector). */
  extra?: ReactNode;
}

/** Enter sends, Shift+Enter adds a line. "Steer now" folds into the running turn. */
export function Composer(props: ComposerProps) {
  const id = useId();
  const [text, setText] = useState("");
  const [delivery, setDelivery] = useState<MessageDelivery>("steer");
  const [sending, setSending] = useState(false);
  const input = useRef<HTMLTextAreaElement>(null);
  const disabled = props.disabledReason !== null;

  async function send(event?: FormEvent) {
    event?.preventDefault();
    const content = text.trim();
    if (!content || sending || disabled) return;
    setSending(true);
    setText("");
    const ok = await props.onSend(content, delivery);
    setSending(false);
    if (!ok) setText((current) => current || content);
    input.current?.focus();
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void send();
    }
  }

  return (
    <form className="composer" onSubmit={send} data-testid="composer-form">
      {props.actionError ? (
        <div className="alert alert-danger composer-error" role="alert" data-testid="composer-error">
          {props.actionError}
        </div>
      ) : null}
      <label htmlFor={`${id}-input`} className="sr-only">
        Message to the agent
      </label>
      <textarea
        ref={input}
        id={`${id}-input`}
        className="input composer-input"
        data-testid="composer"
        rows={2}
        value={text}
        disabled={disabled}
        placeholder={props.disabledReason ?? props.placeholder}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
      />
      <div className="composer-bar">
        <fieldset className="delivery" disabled={disabled}>
          <legend className="sr-only">When should the agent get it?</legend>
          <label className={`segment ${delivery === "steer" ? "segment-on" : ""}`}>
            <input
              type="radio"
              name={`${id}-delivery`}
              value="steer"
              data-testid="delivery-steer"
              checked={delivery === "steer"}
              onChange={() => setDelivery("steer")}
            />
            Steer now
          </label>
          <label className={`segment ${delivery === "queue" ? "segment-on" : ""}`}>
            <input
              type="radio"
              name={`${id}-delivery`}
              value="queue"
              data-testid="delivery-queue"
              checked={delivery === "queue"}
              onChange={() => setDelivery("queue")}
            />
            Queue after this turn
          </label>
        </fieldset>
        {props.extra}
        <span className="composer-hint muted small">Enter to send · Shift+Enter for a new line</span>
        <div className="composer-actions">
          <button
            type="button"
            className="button"
            data-testid="interrupt-button"
            disabled={!props.running}
            onClick={props.onInterrupt}
            title="Stop the current turn; the session stays open"
          >
            Interrupt
          </button>
          <button
            type="button"
            className="button danger"
            data-testid="stop-button"
            disabled={!props.canStop}
            onClick={props.onStop}
          >
            {props.stopLabel}
          </button>
          <button
            type="submit"
            className="button primary"
            data-testid="send-button"
            disabled={disabled || sending || !text.trim()}
          >
            Send
          </button>
        </div>
      </div>
    </form>
  );
}
