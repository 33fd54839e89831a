import { readFile, realpath } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { createTwoFilesPatch } from "diff";
import { AgentFileEdited } from "../protocol/events.ts";
import { type AgentEvent, agentEvent } from "./agent-event.ts";

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
 * naming `/etc/shadow` in an Edit must not get it diffed into the event stream.
 */
export class FileEditTracker {
  private readonly snapshots = new Map<string, Snapshot>();
  private workspaceReal: string | null = null;

  constructor(private readonly workspace: string) {}

  /** Records the content before the tool runs. The first call per tool use wins. */
  async before(toolUseId: string, tool: string, input: unknown): Promise<void> {
    if (this.snapshots.has(toolUseId)) return;
    const target = editedPath(tool, input);
    if (!target) return;
    const absolute = isAbsolute(target) ? target : resolve(this.workspace, target);
    const inside = await this.insideWorkspace(absolute);
    if (!inside || this.snapshots.has(toolUseId)) return;
    const before = await readText(absolute);
    if (this.snapshots.has(toolUseId)) return;
    this.snapshots.set(toolUseId, {
      path: relative(this.workspace, absolute),
      absolute,
      before: before ?? "",
    });
  }

  /** After the tool answered: the file's diff, or null when nothing changed. */
  async after(toolUseId: string): Promise<AgentEvent | null> {
    const snapshot = this.snapshots.get(toolUseId);
    if (!snapshot) return null;
    this.snapshots.delete(toolUseId);
    if (!(await this.insideWorkspace(snapshot.absolute))) return null;
    const after = (await readText(snapshot.absolute)) ?? "";
    if (after === snapshot.before) return null;
    return agentEvent(AgentFileEdited, {
      path: snapshot.path,
      diff: unifiedDiff(snapshot.path, snapshot.before, after),
    });
  }

  private async insideWorkspace(absolute: string): Promise<boolean> {
    this.workspaceReal ??= await realpath(this.workspace).catch(() => resolve(this.workspace));
    // A file that does not exist yet: judge by its nearest existing parent folder.
    const real = await realpathOfExisting(absolute);
    return real === this.workspaceReal || real.startsWith(this.workspaceReal + sep);
  }
}

async function realpathOfExisting(path: string): Promise<string> {
  let current = path;
  const rest: string[] = [];
  for (;;) {
    try {
      return join(await realpath(current), ...rest.reverse());
    } catch {
      const parent = dirname(current);
      if (parent === current) return path;
      rest.push(current.slice(parent.length + (parent.endsWith(sep) ? 0 : 1)));
      current = parent;
    }
  }
}

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return null;
  }
}
