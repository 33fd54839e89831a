import pty from "@lydell/node-pty";
import { stripAnsi } from "../../src/cli/style.ts";
import { cleanEnv, OMOI_BIN, PROJECT_ROOT } from "./cli-process.ts";

/** `omoi` in a real pseudo-terminal (140×50): what it printed, and a way to type. */

export interface Session {
  /** Everything printed so far, colour codes removed. */
  output(): string;
  /** Everything printed so far, as printed. */
  raw(): string;
  /** Resolves once `text` has been printed (after `from`, an index into the output). */
  waitFor(text: string | RegExp, from?: number): Promise<number>;
  type(text: string): void;
  exitCode: Promise<number>;
}

export function runInTerminal(args: string[], color = false): Session {
  const env = { ...cleanEnv(), ...(color ? {} : { NO_COLOR: "1" }) } as Record<string, string>;
  const terminal = pty.spawn(process.execPath, [OMOI_BIN, ...args], {
    cols: 140,
    rows: 50,
    cwd: PROJECT_ROOT,
    env,
  });
  let raw = "";
  const waiters = new Set<() => void>();
  let exited = false;
  terminal.onData((data) => {
    raw += data;
    for (const waiter of waiters) waiter();
  });
  const exitCode = new Promise<number>((resolve) =>
    terminal.onExit(({ exitCode: code }) => {
      exited = true;
      resolve(code);
      for (const waiter of waiters) waiter();
    }),
  );
  const output = () => stripAnsi(raw).replaceAll("\r\n", "\n");
  return {
    output,
    raw: () => raw,
    type: (text) => terminal.write(text),
    exitCode,
    waitFor: (text, from = 0) =>
      new Promise<number>((resolve, reject) => {
        const check = () => {
          const rest = output().slice(from);
          const index = typeof text === "string" ? rest.indexOf(text) : rest.search(text);
          if (index >= 0) {
            waiters.delete(check);
            resolve(from + index);
          } else if (exited) {
            waiters.delete(check);
            reject(new Error(`exited before printing ${String(text)}; output:\n${output()}`));
          }
        };
        waiters.add(check);
        check();
      }),
  };
}
