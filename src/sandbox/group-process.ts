import type { ChildProcess } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import type { SpawnedProcess } from "@anthropic-ai/claude-agent-sdk";

type ExitListener = (code: number | null, signal: NodeJS.Signals | null) => void;
type ErrorListener = (error: Error) => void;
type ChildListener = (...args: unknown[]) => void;

/**
 * A child spawned as the leader of its own process group, seen through the SDK's
 * `SpawnedProcess` shape. `kill` signals the whole group, so the srt wrapper shell,
 * bubblewrap and everything inside go together.
 */
export class GroupProcess implements SpawnedProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  #killed = false;

  constructor(private readonly child: ChildProcess) {
    if (!child.stdin || !child.stdout) throw new Error("GroupProcess needs piped stdin and stdout");
    this.stdin = child.stdin;
    this.stdout = child.stdout;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
  get killed(): boolean {
    return this.#killed || this.child.killed;
  }
  get exitCode(): number | null {
    return this.child.exitCode;
  }
  get signalCode(): NodeJS.Signals | null {
    return this.child.signalCode;
  }

  kill(signal: NodeJS.Signals): boolean {
    const pid = this.child.pid;
    if (pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) {
      return false;
    }
    try {
      process.kill(-pid, signal);
      this.#killed = true;
      return true;
    } catch {
      return this.child.kill(signal);
    }
  }

  on(event: "exit", listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  on(event: "exit" | "error", listener: ExitListener | ErrorListener): void {
    this.child.on(event, listener as ChildListener);
  }

  once(event: "exit", listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  once(event: "error", listener: (error: Error) => void): void;
  once(event: "exit" | "error", listener: ExitListener | ErrorListener): void {
    this.child.once(event, listener as ChildListener);
  }

  off(event: "exit", listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  off(event: "error", listener: (error: Error) => void): void;
  off(event: "exit" | "error", listener: ExitListener | ErrorListener): void {
    this.child.off(event, listener as ChildListener);
  }
}
