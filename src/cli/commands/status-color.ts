import type { Style } from "../style.ts";

/** Colours a task or sandbox status the same way everywhere. */
export function paintStatus(status: string, style: Style): string {
  switch (status) {
    case "completed":
      return style.green(status);
    case "failed":
      return style.red(status);
    case "cancelled":
    case "terminated":
      return style.yellow(status);
    case "running":
    case "starting":
    case "assigned":
      return style.cyan(status);
    default:
      return style.dim(status);
  }
}
