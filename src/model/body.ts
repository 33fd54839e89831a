import type { IncomingMessage } from "node:http";

export const maxBodyBytes = 32 * 1024 * 1024;

export type BodyResult = { ok: true; text: string } | { ok: false; status: number; error: string };

/** Reads a request body as UTF-8 text, refusing bodies over `maxBodyBytes`. Never throws. */
export function readBody(req: IncomingMessage): Promise<BodyResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: BodyResult): void => {
      if (done) return;
      done = true;
      resolve(result);
    };
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        finish({ ok: false, status: 413, error: `request body is over ${maxBodyBytes} bytes` });
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => finish({ ok: true, text: Buffer.concat(chunks).toString("utf8") }));
    req.on("error", (error) => finish({ ok: false, status: 400, error: error.message }));
    req.on("aborted", () => finish({ ok: false, status: 400, error: "request aborted" }));
  });
}
