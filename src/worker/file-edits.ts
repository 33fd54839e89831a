import { realpath } from "node:fs/promises";
import { isAbsolute, relative, resolve } from "node:path";
import { createTwoFilesPatch } from "diff";
import { AgentFileEdited } from "../protocol/events.ts";
import { type AgentEvent, agentEvent } from "./agent-event.ts";
import {
  DEFAULT_WORKSPACE_READ_LIMITS,
  isInside,
  readWorkspaceFile,
  realpathOfExisting,
  type WorkspaceReadFailure,
  type WorkspaceReadLimits,
} from "./workspace-file.ts";

/** Tools that change one file; their input names it. */
export const FILE_EDIT_TOOLS = new Set(["Write", "Edit", "MultiEdit", "NotebookEdit"]);

/** The file an edit tool targets, or null for other tools and odd inputs. */
export function editedPath(tool: string, input: unknown): string | null {
  if (!FILE_EDIT_TOOLS.has(tool) || !input || typeof input !== "object") return null;
  const fields = input as { file_path?: unknown; notebook_path?: unknown };
  const path = fields.file_path ?? fields.notebook_path;
  return typeof path === "string" && path.length > 0 ? path : null;
}

/** Unified diff of one file, with workspace-relative names (`a/…`, `b/…` like git). */
export function unifiedDiff(path: string, before: string, after: string): string {
  return createTwoFilesPatch(`a/${path}`, `b/${path}`, before, after, undefined, undefined, {
    context: 3,
  });
}

interface Snapshot {
  /** Path relative to the workspace, as events show it. */
  path: string;
  absolute: string;
  before: string;
}

/**
 * Remembers a file's content before an edit tool runs, and turns it into
 * `agent.file_edited` once the tool has answered. The worker is trusted and the agent
 * is not, so it reads only files inside the workspace (symlinks resolved): an agent
 * naming `/etc/shadow` in an Edit must not get it diffed into the event stream. Every read
 * goes through `readWorkspaceFile`: a named pipe, a device or an oversized file is skipped
 * (no diff), never waited on.
 */
export class FileEditTracker {
  private readonly snapshots = new Map<string, Snapshot>();
  private workspaceReal: string | null = null;

  constructor(
    private readonly workspace: string,
    private readonly limits: WorkspaceReadLimits = DEFAULT_WORKSPACE_READ_LIMITS,
  ) {}

  /** Records the content before the tool runs. The first call per tool use wins. */
  async before(toolUseId: string, tool: string, input: unknown): Promise<void> {
    if (this.snapshots.has(toolUseId)) return;
    const target = editedPath(tool, input);
    if (!target) return;
    const absolute = isAbsolute(target) ? target : resolve(this.workspace, target);
    const inside = await this.insideWorkspace(absolute);
    if (!inside || this.snapshots.has(toolUseId)) return;
    // A pipe or device the tool may replace counts as no file: its contents are never read.
    const before = await this.readText(absolute, ["missing", "not_a_regular_file"]);
    if (before === null || this.snapshots.has(toolUseId)) return;
    this.snapshots.set(toolUseId, { path: relative(this.workspace, absolute), absolute, before });
  }

  /** After the tool answered: the file's diff, or null when nothing changed. */
  async after(toolUseId: string): Promise<AgentEvent | null> {
    const snapshot = this.snapshots.get(toolUseId);
    if (!snapshot) return null;
    this.snapshots.delete(toolUseId);
    if (!(await this.insideWorkspace(snapshot.absolute))) return null;
    const after = await this.readText(snapshot.absolute, ["missing"]);
    if (after === null || after === snapshot.before) return null;
    return agentEvent(AgentFileEdited, {
      path: snapshot.path,
      diff: unifiedDiff(snapshot.path, snapshot.before, after),
    });
  }

  private async workspaceRealPath(): Promise<string> {
    this.workspaceReal ??= await realpath(this.workspace).catch(() => resolve(this.workspace));
    return this.workspaceReal;
  }

  private async insideWorkspace(absolute: string): Promise<boolean> {
    // A file that does not exist yet: judge by its nearest existing parent folder.
    return isInside(await this.workspaceRealPath(), await realpathOfExisting(absolute));
  }

  /** The file's text; "" when the read failed for one of `empty`; null when it must not or cannot be read. */
  private async readText(absolute: string, empty: WorkspaceReadFailure[]): Promise<string | null> {
    const read = await readWorkspaceFile(await this.workspaceRealPath(), absolute, this.limits);
    if (read.ok) return read.text;
    return empty.includes(read.reason) ? "" : null;
  }
}
