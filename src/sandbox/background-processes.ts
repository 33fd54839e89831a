import { readFileSync } from "node:fs";
import { killProcessTree, processTree, readProcessStat } from "./process-tree.ts";

/**
 * Finds what the agent left running when a turn ends. A sandbox's tree holds the launcher,
 * bubblewrap, srt's helpers, the agent's CLI — all started before or as the CLI — and then
 * whatever the agent's tools started. Anything in the tree that started after the CLI and
 * is not the CLI itself was started by a tool: a background process once the turn is over
 * (`cmd &`, `nohup`, `setsid`: inside the sandbox's pid namespace it cannot leave the tree).
 */
export function backgroundProcesses(
  rootPid: number,
  cliArgv: readonly string[],
  keep: readonly (readonly string[])[] = [],
): number[] {
  const tree = processTree(rootPid);
  const cli = tree.find((pid) => sameArgv(pid, cliArgv));
  if (cli === undefined) return [];
  const cliStart = Number(readProcessStat(cli)?.startTime ?? Number.NaN);
  if (!Number.isFinite(cliStart)) return [];
  const kept = keptProcesses(tree, cli, keep);
  return tree.filter((pid) => {
    if (pid === cli || kept.has(pid)) return false;
    const start = Number(readProcessStat(pid)?.startTime ?? Number.NaN);
    return Number.isFinite(start) && start > cliStart;
  });
}

/** Ends every background process of the tree; resolves with how many there were. */
export async function endBackgroundProcesses(
  rootPid: number,
  cliArgv: readonly string[],
  keep: readonly (readonly string[])[] = [],
): Promise<number> {
  const found = backgroundProcesses(rootPid, cliArgv, keep);
  await Promise.all(
    found.map((pid) => killProcessTree(pid, { graceMs: 0 }).catch(() => undefined)),
  );
  return found.length;
}

/**
 * The CLI's own children started exactly as one of `keep` (the session's stdio MCP servers,
 * which the CLI starts itself and needs for every turn), with their descendants.
 */
function keptProcesses(
  tree: readonly number[],
  cli: number,
  keep: readonly (readonly string[])[],
): Set<number> {
  const kept = new Set<number>();
  if (keep.length === 0) return kept;
  const parents = new Map(tree.map((pid) => [pid, readProcessStat(pid)?.parentPid]));
  for (const pid of tree) {
    if (parents.get(pid) === cli && keep.some((argv) => sameArgv(pid, argv))) kept.add(pid);
  }
  // Descendants: walk up from each process until a kept one, the CLI, or the tree's edge.
  for (const pid of tree) {
    for (let up = parents.get(pid); up !== undefined && up !== cli; up = parents.get(up)) {
      if (kept.has(up)) {
        kept.add(pid);
        break;
      }
    }
  }
  return kept;
}

function sameArgv(pid: number, argv: readonly string[]): boolean {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return false;
  }
  const words = text.split("\0");
  if (words.at(-1) === "") words.pop();
  return words.length === argv.length && words.every((word, index) => word === argv[index]);
}
