import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { z } from "zod";
import {
  type AnswerCheck,
  type AnswerKind,
  ApiClient,
  apiErrorFrom,
  type ApiError as RequestError,
  type SessionTarget,
} from "../client/api.ts";
import { Approval, ApprovalList, SandboxModeAnswer, TaskModeAnswer } from "../protocol/approval.ts";
import { Environment, EnvironmentList } from "../protocol/environment.ts";
import { ErrorName } from "../protocol/error.ts";
import { EventPage } from "../protocol/event.ts";
import { Health } from "../protocol/health.ts";
import { safeJsonParse } from "../protocol/json.ts";
import { PostMessageResponse } from "../protocol/message.ts";
import {
  BranchList,
  PullRequestResult,
  Repository,
  RepositoryList,
  TaskChanges,
  UploadedRepository,
} from "../protocol/repo.ts";
import { Sandbox, SandboxList, TaskWithSandbox } from "../protocol/sandbox.ts";
import { Task, TaskList } from "../protocol/task.ts";
import { isTaskId } from "./args.ts";
import { ApiError, CliError, ServerUnreachableError } from "./errors.ts";

/*
 * The CLI's client of the Omoi HTTP API: the shared typed client (src/client/api.ts), with
 * every answer checked against the protocol's schema of its kind (a server of another
 * version is told apart, not misread) and failures turned into messages that say what to
 * do next. event-stream.ts follows the viewer WebSocket.
 */

const ANSWER_SCHEMAS = {
  health: Health,
  task: Task,
  taskWithSandbox: TaskWithSandbox,
  taskList: TaskList,
  sandbox: Sandbox,
  sandboxList: SandboxList,
  taskChanges: TaskChanges,
  pullRequestResult: PullRequestResult,
  environment: Environment,
  environmentList: EnvironmentList,
  repository: Repository,
  repositoryList: RepositoryList,
  branchList: BranchList,
  uploadedRepository: UploadedRepository,
  postMessageResponse: PostMessageResponse,
  approval: Approval,
  approvalList: ApprovalList,
  sandboxModeAnswer: SandboxModeAnswer,
  taskModeAnswer: TaskModeAnswer,
  eventPage: EventPage,
  noContent: z.null(),
} satisfies Record<AnswerKind, z.ZodType>;

const checkAnswer: AnswerCheck = (kind, value) => {
  const parsed = ANSWER_SCHEMAS[kind].safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data as never };
  return { ok: false, error: z.prettifyError(parsed.error).split("\n")[0] ?? "bad answer" };
};

/** Who a message or a mode goes to: a task (`task_…`) or a sandbox (any other id). */
export const sessionTarget = (id: string): SessionTarget => ({
  kind: isTaskId(id) ? "task" : "sandbox",
  id,
});

/** The typed API client, failing with messages for the terminal. */
export class OmoiClient extends ApiClient {
  constructor(
    readonly serverUrl: string,
    readonly token?: string,
    readonly timeoutMs = 30_000,
  ) {
    super({
      baseUrl: serverUrl,
      clientName: "cli",
      token: () => token,
      timeoutMs,
      check: checkAnswer,
      failure: (error) => explain(error, serverUrl, timeoutMs),
    });
  }

  /** Sends a git bundle file; answers the `repo` a task names it by. */
  async uploadBundle(file: string, branch: string): Promise<UploadedRepository> {
    const { size } = await stat(file);
    const path = `/api/v1/bundles?branch=${encodeURIComponent(branch)}`;
    const response = await this.raw("POST", path, {
      headers: { "content-type": "application/x-git-bundle", "content-length": String(size) },
      body: Readable.toWeb(createReadStream(file)) as ReadableStream,
      duplex: "half",
    });
    const text = await response.text();
    if (!response.ok) throw this.explain(apiErrorFrom(response.status, text));
    const checked = checkAnswer("uploadedRepository", safeJson(text));
    if (!checked.ok) {
      throw new CliError(`unexpected answer to the bundle upload (${checked.error})`, 1);
    }
    return checked.value;
  }

  /** Downloads a task's result as a git bundle into `file`; answers its ref and branch. */
  async downloadBundle(id: string, file: string): Promise<{ ref: string; branch: string }> {
    const response = await this.raw("GET", `/api/v1/tasks/${encodeURIComponent(id)}/bundle`, {});
    if (!response.ok || !response.body) {
      throw this.explain(apiErrorFrom(response.status, await response.text()));
    }
    await pipeline(Readable.fromWeb(response.body as never), createWriteStream(file));
    return {
      ref: response.headers.get("x-omoi-ref") ?? "",
      branch: response.headers.get("x-omoi-branch") ?? "",
    };
  }

  private explain(error: RequestError): Error {
    return explain(error, this.serverUrl, this.timeoutMs);
  }

  /** A request whose body or answer is not JSON (bundles), with no overall timeout. */
  private async raw(
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: ReadableStream; duplex?: "half" },
  ): Promise<Response> {
    const headers: Record<string, string> = { "x-omoi-client": "cli", ...init.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    try {
      return await fetch(new URL(path, this.serverUrl), {
        method,
        headers,
        body: init.body,
        ...(init.duplex ? { duplex: init.duplex } : {}),
      } as RequestInit);
    } catch {
      throw new ServerUnreachableError(this.serverUrl);
    }
  }
}

function safeJson(text: string): unknown {
  const parsed = safeJsonParse(text);
  return parsed.ok ? parsed.value : undefined;
}

function explain(error: RequestError, serverUrl: string, timeoutMs: number): Error {
  const { status, errorName, message } = error;
  const server = `the server at ${serverUrl}`;
  switch (errorName) {
    case "Timeout":
      return new CliError(`${server} did not answer within ${timeoutMs / 1000}s`, 1);
    case "NetworkError":
      return new ServerUnreachableError(serverUrl);
    case "BadAnswer":
      return new CliError(
        `${server} gave ${message}; is it an Omoi server of the same version?`,
        1,
      );
    case "HttpError":
      return new ApiError(
        status,
        errorName,
        `${server} answered HTTP ${status}; is it an Omoi server?`,
      );
  }
  if (status === 401) {
    return new ApiError(status, errorName, `${message} (pass --token or set OMOI_API_TOKEN)`);
  }
  const unknown = errorName === ErrorName.NotFound ? UNKNOWN_ID.exec(message) : null;
  if (unknown) return new ApiError(status, errorName, unknownIdMessage(unknown[1], unknown[2]));
  return new ApiError(status, errorName, message);
}

/** The server's NotFound for a task or sandbox id (protocol/error.ts `notFound`). */
const UNKNOWN_ID = /^(task|sandbox) '(.+)' not found$/;

/**
 * Every command that takes a task or sandbox id (task, watch, send, mode, stop, diff, pr,
 * checkout) fails here on an id the server does not know; say where the ids are. An id that
 * does not start with task_ was looked up as a sandbox, so it is neither.
 */
function unknownIdMessage(kind: string | undefined, id: string | undefined): string {
  if (kind === "task") return `task '${id}' not found — run \`omoi tasks\` to see task ids`;
  return `task or sandbox '${id}' not found — run \`omoi tasks\` to see task ids (\`omoi sandboxes\` for sandbox ids)`;
}
