import type { HistoryState } from "./conversation.tsx";

/**
 * One click each: to the start of the session (loading earlier history first), to a turn,
 * and back to the live end.
 */
export function TimelineNav({
  turns,
  history,
  atBottom,
  onStart,
  onTurn,
  onLive,
}: {
  /** Keys of the items that begin each loaded turn (all turns once history is complete). */
  turns: string[];
  history: HistoryState;
  atBottom: boolean;
  onStart: () => void;
  onTurn: (key: string) => void;
  onLive: () => void;
}) {
  const complete = history === "complete";
  return (
    <>
      <nav className="timeline-nav" aria-label="Timeline">
        <button type="button" className="button small ghost" data-testid="jump-start" onClick={onStart}>
          ⤒ Start
        </button>
        <select
          className="turn-select"
          data-testid="jump-turn"
          aria-label="Go to turn"
          value=""
          onChange={(event) => {
            if (event.target.value) onTurn(event.target.value);
          }}
        >
          <option value="">Go to turn…</option>
          {turns.map((key, index) => (
            <option key={key} value={key}>
              {turnLabel(index, turns.length, complete)}
            </option>
          ))}
        </select>
      </nav>
      {atBottom ? null : (
        <button type="button" className="button small jump-live" data-testid="jump-live" onClick={onLive}>
          ⤓ Back to live
        </button>
      )}
    </>
  );
}

/** Turns are numbered from the start once it is loaded; before that, counted back from now. */
function turnLabel(index: number, count: number, complete: boolean): string {
  if (complete) return `Turn ${index + 1}`;
  const back = count - 1 - index;
  return back === 0 ? "Latest turn" : `${back} turn${back === 1 ? "" : "s"} back`;
}
