import { constants, type Dirent } from "node:fs";
import { open, readdir, readlink, realpath } from "node:fs/promises";
import { join } from "node:path";
import { isInside } from "./workspace-file.ts";

/** The repository's own Claude Code settings, as the workspace holds them when the agent starts. */
export interface ProjectSettings {
  /** Memory and settings files Claude Code reads with the project and local setting sources. */
  files: string[];
  /** `.claude/commands/*.md` (and one folder down): the slash commands they define. */
  commands: string[];
  /** `.claude/agents/*.md`. */
  agents: string[];
  /** `.claude/skills/<name>/SKILL.md`. */
  skills: string[];
}

const SETTINGS_FILES = [
  "CLAUDE.md",
  "CLAUDE.local.md",
  ".claude/CLAUDE.md",
  ".claude/settings.json",
  ".claude/settings.local.json",
];
/** A listing is bounded: names past this many are not reported, nor names longer than this. */
const MAX_NAMES = 100;
const MAX_NAME_CHARS = 200;
const DIR_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_DIRECTORY;

/**
 * Which Claude Code settings the repository brings, for the session view. The workspace is
 * the agent's (or the setup script's) to shape, so this only ever lists names: a folder is
 * opened without following a symlink and read through its descriptor, and where it really
 * is gets checked, so no name from outside the workspace is ever reported.
 */
export async function projectSettings(workspace: string): Promise<ProjectSettings> {
  const root = await realpath(workspace);
  const claude = await list(root, ".claude");
  const files: string[] = [];
  for (const file of SETTINGS_FILES) {
    const parent = file.includes("/") ? claude : await list(root, ".");
    const name = file.split("/").pop() ?? file;
    if (parent.some((entry) => entry.name === name && entry.isFile())) files.push(file);
  }
  const commandEntries = await list(root, ".claude/commands");
  const commands = markdownNames(commandEntries);
  for (const folder of commandEntries.filter((entry) => entry.isDirectory())) {
    commands.push(...markdownNames(await list(root, `.claude/commands/${folder.name}`)));
  }
  const agents = markdownNames(await list(root, ".claude/agents"));
  const skills: string[] = [];
  for (const folder of (await list(root, ".claude/skills")).filter((entry) =>
    entry.isDirectory(),
  )) {
    const inside = await list(root, `.claude/skills/${folder.name}`);
    if (inside.some((entry) => entry.name === "SKILL.md" && entry.isFile()))
      skills.push(folder.name);
  }
  return { files, commands: bound(commands), agents: bound(agents), skills: bound(skills) };
}

function markdownNames(entries: Dirent[]): string[] {
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(".md"))
    .map((entry) => entry.name.slice(0, -3));
}

function bound(names: string[]): string[] {
  return names
    .filter((name) => name.length > 0 && name.length <= MAX_NAME_CHARS)
    .sort()
    .slice(0, MAX_NAMES);
}

/** The entries of a workspace folder, or none when it is missing, not a folder, or leads out. */
async function list(root: string, relative: string): Promise<Dirent[]> {
  // Each step down is opened with O_NOFOLLOW, so a symlinked folder on the way is refused.
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(join(root, relative), DIR_FLAGS);
    const opened = await readlink(`/proc/self/fd/${handle.fd}`);
    if (!isInside(root, opened)) return [];
    const entries = await readdir(`/proc/self/fd/${handle.fd}`, { withFileTypes: true });
    return entries.slice(0, MAX_NAMES * 4);
  } catch {
    return [];
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
