import {
  RepoChanges,
  RepoCloned,
  RepoCommitted,
  RepoPushed,
  RepoPushFailed,
  TaskPullRequestEvent,
} from "../protocol/repo-events.ts";
import { read } from "./render.ts";
import type { Style } from "./style.ts";

/** A task's repository events as a person reads them; undefined for any other event. */
export function repoLines(
  type: string,
  payload: Record<string, unknown>,
  style: Style,
): string[] | undefined {
  switch (type) {
    case RepoCloned.type: {
      const p = read(RepoCloned, payload);
      const how = p?.continued ? "continuing" : "new branch";
      return [
        style.dim(
          `● cloned ${p?.url} · ${p?.base_branch} @ ${p?.base_sha.slice(0, 8)} → ${p?.branch} (${how})`,
        ),
      ];
    }
    case RepoCommitted.type: {
      const p = read(RepoCommitted, payload);
      return [style.dim(`● committed ${p?.sha.slice(0, 8)} ${p?.message.split("\n")[0] ?? ""}`)];
    }
    case RepoChanges.type: {
      const p = read(RepoChanges, payload);
      const files = p?.files.length ?? 0;
      return [
        `${style.dim(`● changes: ${files} file${files === 1 ? "" : "s"}`)} ${style.green(`+${p?.added ?? 0}`)} ${style.red(`−${p?.removed ?? 0}`)}`,
      ];
    }
    case RepoPushed.type: {
      const p = read(RepoPushed, payload);
      return [style.green(`↑ pushed ${p?.branch} @ ${p?.sha.slice(0, 8)} to ${p?.url}`)];
    }
    case RepoPushFailed.type: {
      const p = read(RepoPushFailed, payload);
      return [
        style.red(
          style.bold(`✗ not pushed${p?.code ? ` (${p.code})` : ""}: ${p?.reason ?? "unknown"}`),
        ),
        style.dim("  the workspace and its commits are kept; the next turn tries again"),
      ];
    }
    case TaskPullRequestEvent.type: {
      const p = read(TaskPullRequestEvent, payload);
      return [
        style.green(`● pull request #${p?.number} ${p?.draft ? "draft" : p?.state} ${p?.url}`),
      ];
    }
    default:
      return undefined;
  }
}
