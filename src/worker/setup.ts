import { realpath, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { type LaunchEnvironment, phaseVariables } from "../environment/launch.ts";
import {
  EnvironmentSetupFinished,
  EnvironmentSetupOutput,
  EnvironmentSetupStarted,
} from "../protocol/events.ts";
import type { Confinement } from "../sandbox/confine.ts";
import { type AgentEvent, agentEvent } from "./agent-event.ts";
import {
  restoreSnapshot,
  type SnapshotStoreConfig,
  saveSnapshot,
  snapshotKey,
  workspaceEntries,
} from "./snapshots.ts";
import { readWorkspaceFile } from "./workspace-file.ts";

/** The repository's own setup script, run when the environment names none. */
export const REPOSITORY_SETUP_SCRIPT = ".omoi/setup.sh";
/** Output lines are sent in batches: at most this many, or after this long. */
const BATCH_LINES = 200;
const BATCH_MS = 100;
/** A line longer than this is cut (a progress bar with no newline must not grow forever). */
const MAX_LINE_CHARS = 4000;
/** How many last lines a failure reports. */
const TAIL_LINES = 40;

export interface SetupOptions {
  environment: LaunchEnvironment;
  workspace: string;
  /** A folder inside the sandbox's view (the agent's TMPDIR) where the script is written. */
  scriptDir: string;
  confinement: Pick<Confinement, "spawnInSandbox" | "setNetwork">;
  /** Masks secret values in every line before it leaves the worker. */
  mask: (text: string) => string;
  emit: (event: AgentEvent) => void;
  timeoutMs: number;
  /** Where prepared sandboxes are kept, and the sandbox's home to keep and restore. */
  snapshots?: { store: SnapshotStoreConfig; home: string };
}

export type SetupOutcome = { ok: true; ran: boolean } | { ok: false; error: string };

/**
 * Prepares the sandbox before the agent starts: runs the setup script (the environment's, or
 * the repository's `.omoi/setup.sh`) inside the sandbox, in the workspace, with the setup
 * phase's network and every secret; streams its output as events; then switches the network
 * to the agent phase's level. A failure says why, with the tail of the output.
 */
export async function runSetup(options: SetupOptions): Promise<SetupOutcome> {
  const { environment, confinement } = options;
  const script = await setupScript(environment, options.workspace);
  if (script === null) {
    confinement.setNetwork(environment.network.agent);
    return { ok: true, ran: false };
  }
  if ("error" in script) return { ok: false, error: script.error };

  const snapshots = options.snapshots;
  // Only a stored environment has snapshots: an id-less one has nothing to key them on.
  const key =
    snapshots && environment.id
      ? await snapshotKey(
          snapshotOwner(environment.id, environment),
          script.text,
          options.workspace,
        ).catch(() => null)
      : null;
  if (snapshots && key) {
    const started = Date.now();
    const target = { workspace: options.workspace, home: snapshots.home };
    if (await restoreSnapshot(snapshots.store, key, target)) {
      options.emit(
        agentEvent(EnvironmentSetupStarted, {
          environment: environment.name,
          source: script.source,
          network: environment.network.setup.level,
          snapshot: true,
        }),
      );
      options.emit(
        agentEvent(EnvironmentSetupFinished, {
          exit_code: 0,
          duration_ms: Date.now() - started,
          cached: true,
        }),
      );
      confinement.setNetwork(environment.network.agent);
      return { ok: true, ran: false };
    }
  }
  const before = await workspaceEntries(options.workspace);

  options.emit(
    agentEvent(EnvironmentSetupStarted, {
      environment: environment.name,
      source: script.source,
      network: environment.network.setup.level,
      snapshot: false,
    }),
  );
  confinement.setNetwork(environment.network.setup);
  const scriptPath = path.join(options.scriptDir, "omoi-setup.sh");
  await writeFile(scriptPath, script.text, { mode: 0o600 });
  const started = Date.now();
  const output = new OutputBatcher(options.emit, options.mask);
  const {
    process: child,
    stdout,
    stderr,
  } = confinement.spawnInSandbox(["bash", "-e", scriptPath], {
    env: phaseVariables(environment, "setup"),
    cwd: options.workspace,
  });
  output.follow(stdout, "stdout");
  output.follow(stderr, "stderr");
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, options.timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code as number | null));
  });
  clearTimeout(timer);
  await output.drained();
  const duration = Date.now() - started;
  const failed = timedOut || exitCode !== 0;
  const error = timedOut
    ? `the setup script ran longer than ${Math.round(options.timeoutMs / 1000)} s and was stopped`
    : `the setup script exited with code ${exitCode ?? "(killed)"}`;
  options.emit(
    agentEvent(EnvironmentSetupFinished, {
      exit_code: exitCode,
      duration_ms: duration,
      cached: false,
      ...(failed ? { error, tail: output.tail() } : {}),
    }),
  );
  if (failed) {
    const tail = output.tail().slice(-10).join("\n");
    return { ok: false, error: tail ? `${error}; last output:\n${tail}` : error };
  }
  confinement.setNetwork(environment.network.agent);
  if (snapshots && key) {
    // A snapshot that cannot be kept (full disk, too large) only means the next task pays again.
    await saveSnapshot(snapshots.store, key, {
      workspace: options.workspace,
      home: snapshots.home,
      before,
    }).catch(() => undefined);
  }
  return { ok: true, ran: true };
}

/** Whose snapshots these are: the environment, as of its last rebuild request. */
function snapshotOwner(id: string, environment: LaunchEnvironment): string {
  const reset = environment.snapshotsResetAt;
  return reset === null ? id : `${id}@${reset}`;
}

async function setupScript(
  environment: LaunchEnvironment,
  workspace: string,
): Promise<{ text: string; source: "environment" | "repository" } | { error: string } | null> {
  if (environment.setupScript?.trim()) {
    return { text: environment.setupScript, source: "environment" };
  }
  // The repository's script is data from the workspace: read as a bounded regular file only.
  const workspaceReal = await realpath(workspace);
  const read = await readWorkspaceFile(
    workspaceReal,
    path.join(workspaceReal, REPOSITORY_SETUP_SCRIPT),
    {
      maxBytes: 64 * 1024,
      timeoutMs: 2_000,
    },
  );
  if (read.ok) return read.text.trim() ? { text: read.text, source: "repository" } : null;
  if (read.reason === "missing") return null;
  return {
    error: `${REPOSITORY_SETUP_SCRIPT} cannot be used: ${read.reason.replaceAll("_", " ")}`,
  };
}

type Stream = "stdout" | "stderr";

/** Collects output lines and sends them in small batches, masked. */
class OutputBatcher {
  private pending: { stream: Stream; text: string }[] = [];
  private readonly last: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private open = 0;
  private finished: (() => void) | undefined;

  constructor(
    private readonly emit: (event: AgentEvent) => void,
    private readonly mask: (text: string) => string,
  ) {}

  follow(source: Readable, stream: Stream) {
    this.open++;
    let partial = "";
    source.setEncoding("utf8");
    source.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      while (partial.length > MAX_LINE_CHARS) {
        lines.push(partial.slice(0, MAX_LINE_CHARS));
        partial = partial.slice(MAX_LINE_CHARS);
      }
      for (const line of lines) this.add(stream, line);
    });
    source.once("close", () => {
      if (partial) this.add(stream, partial);
      if (--this.open === 0) {
        this.flush();
        this.finished?.();
      }
    });
  }

  drained(): Promise<void> {
    if (this.open === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.finished = resolve;
    });
  }

  tail(): string[] {
    return [...this.last];
  }

  private add(stream: Stream, line: string) {
    const text = this.mask(line.replace(/\r$/, ""));
    this.pending.push({ stream, text });
    this.last.push(text);
    if (this.last.length > TAIL_LINES) this.last.shift();
    if (this.pending.length >= BATCH_LINES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), BATCH_MS);
  }

  private flush() {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.emit(agentEvent(EnvironmentSetupOutput, { lines }));
  }
}
