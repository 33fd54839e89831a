import { readFileSync } from "node:fs";
import { killProcessTree, processTree, readProcessStat } from "./process-tree.ts";

/**
 * Finds what the agent left running when a turn ends. A sandbox's tree holds the launcher,
 * bubblewrap, srt's helpers, the agent's CLI — all started before or as the CLI — and then
 * whatever the agent's tools started. Anything in the tree that started after the CLI and
 * is not the CLI itself was started by a tool: a background process once the turn is over
 * (`cmd &`, `nohup`, `setsid`: inside the sandbox's pid namespace it cannot leave the tree).
 */
export function backgroundProcesses(rootPid: number, cliArgv: readonly string[]): number[] {
  const tree = processTree(rootPid);
  const cli = tree.find((pid) => sameArgv(pid, cliArgv));
  if (cli === undefined) return [];
  const cliStart = Number(readProcessStat(cli)?.startTime ?? Number.NaN);
  if (!Number.isFinite(cliStart)) return [];
  return tree.filter((pid) => {
    if (pid === cli) return false;
    const start = Number(readProcessStat(pid)?.startTime ?? Number.NaN);
    return Number.isFinite(start) && start > cliStart;
  });
}

/** Ends every background process of the tree; resolves with how many there were. */
export async function endBackgroundProcesses(
  rootPid: number,
  cliArgv: readonly string[],
): Promise<number> {
  const found = backgroundProcesses(rootPid, cliArgv);
  await Promise.all(
    found.map((pid) => killProcessTree(pid, { graceMs: 0 }).catch(() => undefined)),
  );
  return found.length;
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
