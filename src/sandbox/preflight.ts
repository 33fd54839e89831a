import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { findProgram } from "./find-program.ts";

/** The programs @anthropic-ai/sandbox-runtime needs on Linux, and the Debian package of each. */
const REQUIRED_PROGRAMS: ReadonlyArray<{ program: string; debianPackage: string }> = [
  { program: "bwrap", debianPackage: "bubblewrap" },
  { program: "socat", debianPackage: "socat" },
  { program: "rg", debianPackage: "ripgrep" },
];

export class SandboxPreflightError extends Error {
  override readonly name = "SandboxPreflightError";
}

/**
 * Checks that the local sandbox can work here: the system programs exist and a trivial
 * command runs under srt (in a child process, so this process's srt state is untouched).
 */
export async function checkSandboxRuntime(): Promise<void> {
  if (process.platform !== "linux") {
    throw new SandboxPreflightError(
      `the local sandbox provider supports Linux only (this is ${process.platform})`,
    );
  }
  const missing = REQUIRED_PROGRAMS.filter(({ program }) => findProgram(program) === null);
  if (missing.length > 0) {
    const packages = missing.map(({ debianPackage }) => debianPackage).join(" ");
    throw new SandboxPreflightError(
      `the local sandbox needs ${missing.map(({ program }) => program).join(", ")} on PATH ` +
        `(Debian/Ubuntu packages: ${packages}). Run \`npm run setup\` or ` +
        `\`apt-get install -y bubblewrap socat ripgrep\`.`,
    );
  }
  const scratch = await mkdtemp(path.join(os.tmpdir(), "omoi-preflight-"));
  try {
    const settings = path.join(scratch, "srt-settings.json");
    await writeFile(
      settings,
      JSON.stringify({
        network: { allowedDomains: [], deniedDomains: [] },
        filesystem: { denyRead: [], allowWrite: [scratch], denyWrite: [] },
      }),
    );
    const cli = fileURLToPath(
      new URL("./cli.js", import.meta.resolve("@anthropic-ai/sandbox-runtime")),
    );
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [
          cli,
          "--settings",
          settings,
          "-c",
          `echo omoi-sandbox-ok > ${scratch}/probe && cat ${scratch}/probe`,
        ],
        { cwd: scratch, timeout: 15_000, env: { PATH: process.env.PATH ?? "", HOME: scratch } },
        (error, stdout, stderr) =>
          error ? reject(new Error(stderr.trim() || error.message)) : resolve(stdout),
      );
    });
    if (!output.includes("omoi-sandbox-ok")) {
      throw new Error(`unexpected output: ${output.trim().slice(0, 200)}`);
    }
  } catch (error) {
    throw new SandboxPreflightError(
      `a trivial command failed under the sandbox runtime (bubblewrap): ${(error as Error).message}. ` +
        "Check that unprivileged user namespaces are allowed and, as root, that CAP_SETFCAP is " +
        "in the bounding set (see node_modules/@anthropic-ai/sandbox-runtime/README.md).",
    );
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
