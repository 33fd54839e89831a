import { createInterface } from "node:readline";
import type { EventFrame } from "../client/viewer-frame.ts";
import { sandboxStatusAfter, taskStatusAfter } from "../protocol/status.ts";
import { ApprovalPrompts } from "./approval-prompt.ts";
import { CatchUpBuffer } from "./catch-up.ts";
import { type OmoiClient, sessionTarget } from "./client.ts";
import { CliError } from "./errors.ts";
import { type FollowTarget, followEvents } from "./event-stream.ts";
import { EventRenderer } from "./render.ts";
import type { Terminal } from "./terminal.ts";

/*
 * A live view of one task or sandbox in the terminal (`omoi run`, `omoi watch`): events
 * as they happen and, when steering, lines typed at the terminal go to the agent and
 * Ctrl-C interrupts the turn (twice: stops the task).
 */

export const EXIT_COMPLETED = 0;
export const EXIT_FAILED = 1;
export const EXIT_CANCELLED = 130;

/** A second Ctrl-C within this window stops the task instead of interrupting the turn. */
const DOUBLE_INTERRUPT_MS = 3_000;
/** Events of each stream a live view starts with, unless it shows everything. */
export const TAIL_EVENTS = 300;

export interface LiveOptions {
  client: OmoiClient;
  target: FollowTarget;
  terminal: Terminal;
  json: boolean;
  /** Read lines from stdin as steering messages; Ctrl-C interrupts, twice stops. */
  steer: boolean;
  /**
   * Print everything from the first event. Otherwise the view starts with the last
   * `TAIL_EVENTS` events and, whenever it catches up (at the start, after a reconnect),
   * prints only the last two screens of what it replayed.
   */
  fromStart?: boolean;
  /** The exit code the status known before following implies (a run that already ended). */
  initialExit?: number;
}

const EXIT_BY_STATUS: Record<string, number> = {
  completed: EXIT_COMPLETED,
  failed: EXIT_FAILED,
  cancelled: EXIT_CANCELLED,
  terminated: EXIT_CANCELLED,
};

/** The exit code a terminal event implies, or undefined while the run goes on. */
export function exitCodeFor(target: FollowTarget, event: EventFrame): number | undefined {
  const status = target.entityType === "task" ? taskStatusAfter(event) : sandboxStatusAfter(event);
  return status === undefined ? undefined : EXIT_BY_STATUS[status];
}

/** The exit code a task's or sandbox's status implies, or undefined while it goes on. */
export const exitCodeForStatus = (status: string): number | undefined => EXIT_BY_STATUS[status];

/** Is this event one that can change whether the run is over? */
function isStatusEvent(target: FollowTarget, event: EventFrame): boolean {
  return event.event_type.startsWith(target.entityType === "task" ? "task." : "sandbox.");
}

export function runLive(options: LiveOptions): Promise<number> {
  const { client, target, terminal, json, steer } = options;
  // JSON is for programs: every event from the first, nothing left out.
  const everything = json || options.fromStart === true;
  const catchUp = everything
    ? undefined
    : new CatchUpBuffer(Math.max(40, (terminal.rows ?? 50) * 2));
  let catchingUp = true;
  /** Events before where the view started (with a tail), counted once. */
  let earlier = 0;
  const renderer = new EventRenderer({
    style: terminal.style,
    width: terminal.columns,
    interactive: steer && terminal.stdinIsTTY,
  });
  const out = (text: string) => {
    if (!text) return;
    if (catchUp && catchingUp) catchUp.add(text);
    else terminal.stdout(text);
  };
  /** Caught up: print the last of what was replayed, saying what was left out. */
  const caughtUp = () => {
    catchingUp = false;
    if (!catchUp) return;
    const { text, dropped } = catchUp.flush();
    const left = [
      earlier > 0 ? `${earlier} earlier events` : "",
      dropped > 0 ? `${dropped} lines of catch-up` : "",
    ].filter(Boolean);
    earlier = 0;
    if (left.length > 0) {
      const hint = `\`omoi watch --from-start ${target.id}\` shows everything`;
      terminal.stdout(`${terminal.style.dim(`… ${left.join(" and ")} not shown (${hint})`)}\n`);
    }
    if (text) terminal.stdout(text);
  };
  const note = (text: string, tone: "info" | "warn" | "error" = "info") => {
    if (json) terminal.stderr(`${text}\n`);
    else out(renderer.notice(text, tone));
  };

  return new Promise<number>((resolve, reject) => {
    const controller = new AbortController();
    let finished = false;
    let replayed = false;
    /** Exit code of the latest status event, while replay has not caught up yet. */
    let pendingExit: number | undefined = options.initialExit;
    let lastInterruptAt = 0;
    let stopping = false;
    /** The person interrupted a turn since the task last started. */
    let interrupted = false;
    /** The task finished after an interrupt; the exit code to leave with, while we wait for the person. */
    let lingering: number | undefined;
    const prompts = new ApprovalPrompts();
    const lines = steer
      ? createInterface({
          input: terminal.stdin,
          terminal: false,
          crlfDelay: Number.POSITIVE_INFINITY,
        })
      : undefined;

    /** Ends the live view once: stops the stream, input and Ctrl-C handler, then settles. */
    const settle = (end: () => void) => {
      if (finished) return;
      if (catchingUp) caughtUp();
      finished = true;
      controller.abort();
      lines?.close();
      process.off("SIGINT", onSigint);
      out(renderer.breakLine());
      end();
    };
    const finish = (code: number) => settle(() => resolve(code));
    const fail = (error: unknown) => settle(() => reject(error));

    const onEvent = (event: EventFrame) => {
      if (finished) return;
      if (json) terminal.stdout(`${JSON.stringify(event)}\n`);
      else out(renderer.render(event));
      if (steer) {
        const prompt = prompts.observe(event);
        if (prompt && !json) out(renderer.notice(prompt, "warn"));
      }
      if (!isStatusEvent(target, event)) return;
      const code = exitCodeFor(target, event);
      if (code === undefined && event.event_type.endsWith(".started")) {
        // Resumed by a message: a new stretch of work, so the next ending ends the run.
        interrupted = false;
        lingering = undefined;
      }
      // A finished task can be resumed by a message, so during replay only the latest
      // status counts; once live, a terminal status ends the run.
      if (!replayed) pendingExit = code;
      else if (code !== undefined) end(code);
    };

    /**
     * Ends the run, except when the person interrupted the turn it ended on: they meant to
     * redirect the agent, so stay and let them (a message resumes the task).
     */
    const end = (code: number) => {
      if (!(steer && interrupted && !stopping && code === EXIT_COMPLETED)) return finish(code);
      lingering = code;
      note(
        "the agent stopped after your interrupt — type a message to continue, or press Ctrl-C or Ctrl-D to leave",
        "warn",
      );
    };

    const onReplayed = () => {
      if (catchingUp) caughtUp();
      if (replayed) return;
      replayed = true;
      if (pendingExit !== undefined) finish(pendingExit);
    };

    const send = async (content: string) => {
      try {
        const accepted = await client.sendMessage(sessionTarget(target.id), {
          content,
          message_type: "user_message",
          delivery: "steer",
        });
        if (!json && !finished) {
          out(renderer.queued({ message_id: accepted.message_id, content }));
        }
      } catch (error) {
        if (!finished) note(`could not send the message: ${(error as Error).message}`, "error");
      }
    };

    const stop = async () => {
      stopping = true;
      note("stopping…", "warn");
      try {
        if (target.entityType === "task") await client.cancelTask(target.id);
        else await client.terminateSandbox(target.id);
      } catch (error) {
        note(`could not stop it: ${(error as Error).message}`, "error");
        finish(EXIT_CANCELLED);
      }
    };

    const interrupt = async () => {
      note("interrupting the current turn… press Ctrl-C again to stop", "warn");
      try {
        await client.sendMessage(sessionTarget(target.id), {
          content: "interrupt",
          message_type: "interrupt",
          delivery: "steer",
        });
      } catch (error) {
        note(`could not interrupt: ${(error as Error).message}`, "error");
      }
    };

    function onSigint() {
      if (finished) return;
      // The terminal echoed "^C" mid-line; start what follows on a line of its own.
      if (terminal.stdinIsTTY && !json) terminal.stdout("\n");
      if (!steer) {
        const stopHint = `omoi stop ${target.id}`;
        note(`stopped watching; it keeps running (\`${stopHint}\` stops it)`);
        finish(EXIT_CANCELLED);
        return;
      }
      if (stopping) {
        finish(EXIT_CANCELLED);
        return;
      }
      if (lingering !== undefined) {
        finish(lingering);
        return;
      }
      const now = Date.now();
      if (now - lastInterruptAt <= DOUBLE_INTERRUPT_MS) {
        void stop();
        return;
      }
      lastInterruptAt = now;
      interrupted = true;
      void interrupt();
    }
    process.on("SIGINT", onSigint);

    const answer = async (line: string) => {
      const reading = prompts.answer(line);
      if ("say" in reading) return note(reading.say, "warn");
      const { sandboxId, requestId, body } = reading.post;
      try {
        await client.answerRequest(sandboxId, requestId, body);
      } catch (error) {
        if (!finished) note(`the answer was not taken: ${(error as Error).message}`, "error");
      }
    };

    lines?.on("line", (line) => {
      const content = line.trim();
      if (!content || finished) return;
      // While the agent waits for a person, a line answers it.
      if (prompts.waiting()) void answer(content);
      else void send(content);
    });
    lines?.on("close", () => {
      if (lingering !== undefined) finish(lingering);
    });

    followEvents({
      client,
      target,
      signal: controller.signal,
      onEvent,
      onReplayed,
      tail: everything ? undefined : TAIL_EVENTS,
      compact: !json,
      onStart: (cursors) => {
        earlier = Object.values(cursors).reduce((sum, cursor) => sum + cursor, 0);
      },
      onReconnecting: ({ attempt, delayMs, reason }) => {
        catchingUp = true;
        out(renderer.breakLine());
        const wait = (delayMs / 1000).toFixed(1);
        const text = `reconnecting… (${reason}; attempt ${attempt}, next try in ${wait}s)`;
        terminal.stderr(`${terminal.errorStyle.yellow(text)}\n`);
      },
      onReconnected: () => {
        out(renderer.breakLine());
        terminal.stderr(`${terminal.errorStyle.green("reconnected")}\n`);
      },
    }).then(() => {
      if (!finished) fail(new CliError("the event stream ended unexpectedly", 1));
    }, fail);
  });
}
