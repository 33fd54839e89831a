import type {
  Answer,
  AnsweredBy,
  Approval,
  ApprovalKind,
  ApprovalStatus,
  PermissionRule,
} from "../protocol/approval.ts";
import type { SqlValue } from "./columns.ts";
import type { Row } from "./rows.ts";
import { storablePayload } from "./storable.ts";

/** Runs one statement (`?` placeholders) and returns its rows; each adapter supplies one. */
export type RunSql = (sql: string, values: SqlValue[]) => Promise<Row[]>;

export type NewApproval = Pick<
  Approval,
  "id" | "sandbox_id" | "task_id" | "kind" | "tool" | "request" | "deadline_at"
>;

export interface Resolution {
  status: "resolved" | "expired";
  answer: Answer;
  answered_by: AnsweredBy;
}

export interface ListApprovalsOptions {
  sandboxId?: string;
  taskIds?: string[];
  status?: ApprovalStatus[];
  limit?: number;
}

/** The outcome of an answer: `won` is true for exactly one answer per request. */
export interface ResolveResult {
  won: boolean;
  approval: Approval | undefined;
}

/**
 * Approval requests in SQL both adapters speak (SQLite ≥ 3.35 and Postgres: `RETURNING`,
 * `ON CONFLICT DO NOTHING`). The one-answer guarantee is the conditional update in
 * `resolve`: it changes a row only while its status is `open`, and both databases apply
 * concurrent updates of one row one after the other (SQLite one writer at a time; Postgres
 * re-checks the WHERE clause after waiting for the row lock), so a second answer changes
 * nothing and sees the first.
 */
export class ApprovalQueries {
  constructor(private readonly run: RunSql) {}

  /** Stores a request; storing the same id again keeps the first (a resent event). */
  async record(approval: NewApproval): Promise<Approval> {
    const inserted = await this.run(
      `INSERT INTO approvals (id, sandbox_id, task_id, kind, tool, request, status, created_at, deadline_at)
       VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?) ON CONFLICT (id) DO NOTHING RETURNING *`,
      [
        approval.id,
        approval.sandbox_id,
        approval.task_id,
        approval.kind,
        approval.tool,
        storablePayload(approval.request).json,
        Date.now(),
        approval.deadline_at,
      ],
    );
    if (inserted[0]) return rowToApproval(inserted[0]);
    const existing = await this.get(approval.id);
    if (!existing) throw new Error(`approval ${approval.id} vanished while being recorded`);
    return existing;
  }

  async get(id: string): Promise<Approval | undefined> {
    const rows = await this.run("SELECT * FROM approvals WHERE id = ?", [id]);
    return rows[0] ? rowToApproval(rows[0]) : undefined;
  }

  async list(options: ListApprovalsOptions): Promise<Approval[]> {
    const clauses: string[] = [];
    const values: SqlValue[] = [];
    if (options.sandboxId !== undefined) {
      clauses.push("sandbox_id = ?");
      values.push(options.sandboxId);
    }
    if (options.taskIds !== undefined) {
      if (options.taskIds.length === 0) return [];
      clauses.push(`task_id IN (${options.taskIds.map(() => "?").join(", ")})`);
      values.push(...options.taskIds);
    }
    if (options.status !== undefined) {
      if (options.status.length === 0) return [];
      clauses.push(`status IN (${options.status.map(() => "?").join(", ")})`);
      values.push(...options.status);
    }
    const where = clauses.length ? ` WHERE ${clauses.join(" AND ")}` : "";
    values.push(options.limit ?? 500);
    const rows = await this.run(
      `SELECT * FROM approvals${where} ORDER BY created_at, id LIMIT ?`,
      values,
    );
    return rows.map(rowToApproval);
  }

  /** Takes the answer if the request is still open. */
  async resolve(id: string, resolution: Resolution): Promise<ResolveResult> {
    const rows = await this.run(
      `UPDATE approvals SET status = ?, answer = ?, answered_by = ?, resolved_at = ?
       WHERE id = ? AND status = 'open' RETURNING *`,
      [
        resolution.status,
        storablePayload({ ...resolution.answer }).json,
        JSON.stringify(resolution.answered_by),
        Date.now(),
        id,
      ],
    );
    if (rows[0]) return { won: true, approval: rowToApproval(rows[0]) };
    return { won: false, approval: await this.get(id) };
  }

  /** Answers the worker of this sandbox has not confirmed yet. */
  async undelivered(sandboxId: string): Promise<Approval[]> {
    const rows = await this.run(
      `SELECT * FROM approvals WHERE sandbox_id = ? AND status <> 'open' AND delivered_at IS NULL
       ORDER BY resolved_at, id LIMIT 500`,
      [sandboxId],
    );
    return rows.map(rowToApproval);
  }

  async markDelivered(sandboxId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.run(
      `UPDATE approvals SET delivered_at = ? WHERE sandbox_id = ? AND delivered_at IS NULL
       AND id IN (${ids.map(() => "?").join(", ")}) RETURNING id`,
      [Date.now(), sandboxId, ...ids],
    );
  }

  /**
   * The rules a person chose "Always allow" for in a task (each answered request's `rules`),
   * oldest first, without repeats: a sandbox that resumes the task starts with them.
   */
  async remembered(taskId: string): Promise<PermissionRule[]> {
    const rows = await this.run(
      `SELECT request, answer FROM approvals WHERE task_id = ? AND kind = 'permission'
       AND status = 'resolved' ORDER BY created_at, id LIMIT 1000`,
      [taskId],
    );
    const rules = new Map<string, PermissionRule>();
    for (const row of rows) {
      const answer = json<Answer>(row.answer);
      if (answer?.decision !== "allow" || answer.remember !== true) continue;
      const request = json<{ rules?: unknown }>(row.request);
      for (const rule of Array.isArray(request?.rules) ? request.rules : []) {
        const { toolName, ruleContent } = (rule ?? {}) as Record<string, unknown>;
        if (typeof toolName !== "string" || toolName === "") continue;
        const content = typeof ruleContent === "string" && ruleContent ? ruleContent : undefined;
        rules.set(`${toolName}(${content ?? ""})`, {
          toolName,
          ...(content ? { ruleContent: content } : {}),
        });
      }
    }
    return [...rules.values()];
  }

  /** Open requests whose no-answer deadline has passed. */
  async due(now: number): Promise<Approval[]> {
    const rows = await this.run(
      `SELECT * FROM approvals WHERE status = 'open' AND deadline_at IS NOT NULL AND deadline_at <= ?
       ORDER BY deadline_at LIMIT 500`,
      [now],
    );
    return rows.map(rowToApproval);
  }
}

const numberOrNull = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);

/** A JSON column: text in SQLite, already parsed (jsonb) in Postgres; written by the store itself. */
function json<T>(value: unknown): T | null {
  if (value === null || value === undefined) return null;
  return (typeof value === "string" ? JSON.parse(value) : value) as T;
}

export function rowToApproval(row: Row): Approval {
  return {
    id: String(row.id),
    sandbox_id: String(row.sandbox_id),
    task_id: row.task_id === null || row.task_id === undefined ? null : String(row.task_id),
    kind: String(row.kind) as ApprovalKind,
    tool: String(row.tool),
    request: json<Record<string, unknown>>(row.request) ?? {},
    status: String(row.status) as ApprovalStatus,
    answer: json<Answer>(row.answer),
    answered_by: json<AnsweredBy>(row.answered_by),
    created_at: Number(row.created_at),
    deadline_at: numberOrNull(row.deadline_at),
    resolved_at: numberOrNull(row.resolved_at),
    delivered_at: numberOrNull(row.delivered_at),
  };
}
