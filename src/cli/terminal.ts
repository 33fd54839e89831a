import { colorWanted, createStyle, type Style } from "./style.ts";

/** Where the CLI reads and writes: the process's own streams, with colour decided once. */
export interface Terminal {
  stdin: NodeJS.ReadableStream;
  stdinIsTTY: boolean;
  stdout(text: string): void;
  stderr(text: string): void;
  style: Style;
  /** Style for stderr, which may be a terminal when stdout is not. */
  errorStyle: Style;
  columns?: number;
  /** Terminal height, when stdout is one. */
  rows?: number;
}

export function processTerminal(env: NodeJS.ProcessEnv = process.env): Terminal {
  return {
    stdin: process.stdin,
    stdinIsTTY: process.stdin.isTTY === true,
    stdout: (text) => {
      process.stdout.write(text);
    },
    stderr: (text) => {
      process.stderr.write(text);
    },
    style: createStyle(colorWanted(process.stdout, env)),
    errorStyle: createStyle(colorWanted(process.stderr, env)),
    columns: process.stdout.isTTY ? process.stdout.columns : undefined,
    rows: process.stdout.isTTY ? process.stdout.rows : undefined,
  };
}
