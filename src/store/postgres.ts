import pg from "pg";
import { redactUrl } from "../log/redact-url.ts";
import { conflict } from "../protocol/error.ts";
import type { StoredEvent } from "../protocol/event.ts";
import type { StoredMessage } from "../protocol/message.ts";
import type { RepositoryRecord } from "../protocol/repo.ts";
import type { Sandbox, SandboxStatus } from "../protocol/sandbox.ts";
import type { Task, TaskStatus } from "../protocol/task.ts";
import { ApprovalQueries } from "./approval-queries.ts";
import {
  type Columns,
  newSandboxColumns,
  newTaskColumns,
  repositoryColumns,
  repositoryPatchColumns,
  sandboxPatchColumns,
  taskPatchColumns,
} from "./columns.ts";
import { filtersTypes, toEventQuery } from "./event-query.ts";
import { GroupCommit } from "./group-commit.ts";
import { PostgresEnvironments } from "./postgres-environments.ts";
import { appendArguments, appendCall, appendOnce } from "./postgres-events.ts";
import { POSTGRES_MIGRATIONS } from "./postgres-migrations.ts";
import {
  constraintOf,
  errorCode,
  insertSql,
  retryingRaces,
  UNIQUE_VIOLATION,
} from "./postgres-sql.ts";
import {
  type Row,
  rowToEvent,
  rowToMessage,
  rowToRepository,
  rowToSandbox,
  rowToTask,
  toStoredEvent,
} from "./rows.ts";
import { storableText } from "./storable.ts";
import type {
  AppendResult,
  EventToStore,
  ListEventsOptions,
  NewMessage,
  NewSandbox,
  NewTask,
  RepositoryPatch,
  SandboxPatch,
  Store,
  TaskPatch,
} from "./store.ts";

export interface PostgresStoreOptions {
  /** Schema holding Omoi's tables (created by migrate()); tests use one each to stay apart. */
  schema?: string;
  /** Most connections the pool opens (pg's default is 10). */
  poolSize?: number;
}

/**
 * Append transactions open at once; appends arriving meanwhile share the next one. Two lets
 * one group's statement run while the other waits on its commit's fsync; one, two and four
 * measured alike within the noise of the pipeline benchmark.
 */
const APPENDS_IN_FLIGHT = 2;

// int8 (bigint: timestamps, seqs, counts) is read as a JS number rather than a string.
// Every value Omoi stores fits in 2^53.
const parseTypes = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * The scaled-out store, shared by every server replica. Seq assignment, message delivery
 * and task claiming are safe across connections and across replicas.
 */
export class PostgresStore implements Store {
  readonly kind = "postgres";
  private readonly pool: pg.Pool;
  readonly environments: PostgresEnvironments;
  private readonly schema: string | undefined;
  private closed = false;
  readonly approvals = new ApprovalQueries(async (sql, values) => {
    let index = 0;
    const numbered = sql.replace(/\?/g, () => `$${++index}`);
    return (await this.pool.query<Row>(numbered, values)).rows;
  });
  /** Concurrent appends share transactions; see GroupCommit. */
  private readonly appends = new GroupCommit<EventToStore, AppendResult>(
    (events) => this.appendNow(events),
    { maxInFlight: APPENDS_IN_FLIGHT, maxItems: 1000 },
  );

  constructor(
    private readonly url: string,
    options: PostgresStoreOptions = {},
  ) {
    if (options.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(options.schema)) {
      throw new Error(
        `invalid Postgres schema name '${options.schema}': use lowercase letters, digits and '_'`,
      );
    }
    this.schema = options.schema;
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize,
      types: parseTypes,
      // A peer that vanished without a FIN is noticed, not waited on forever.
      keepAlive: true,
      // Set at connection start-up, so every pooled connection resolves names in our schema.
      options: options.schema ? `-c search_path=${options.schema}` : undefined,
    });
    // An idle connection that drops is replaced on next use; without a listener pg would throw.
    this.pool.on("error", () => {});
    this.environments = new PostgresEnvironments(this.pool);
  }

  async migrate(): Promise<void> {
    const client = await this.pool.connect().catch((error: Error) => {
      throw new Error(`could not connect to Postgres at ${redactUrl(this.url)}: ${error.message}`, {
        cause: error,
      });
    });
    const lockKey = `omoi:migrate:${this.schema ?? "public"}`;
    try {
      // Replicas starting together take turns; the second finds everything applied.
      await client.query("SELECT pg_advisory_lock(hashtext($1))", [lockKey]);
      try {
        if (this.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
        await client.query(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)",
        );
        const applied = await client.query<{ version: number }>(
          "SELECT version FROM schema_migrations",
        );
        const done = new Set(applied.rows.map((row) => row.version));
        for (const migration of POSTGRES_MIGRATIONS) {
          if (done.has(migration.version)) continue;
          await client.query("BEGIN");
          try {
            await client.query(migration.sql);
            await client.query(
              "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
              [migration.version, migration.name, Date.now()],
            );
            await client.query("COMMIT");
          } catch (error) {
            await client.query("ROLLBACK");
            throw error;
          }
        }
      } finally {
        await client.query("SELECT pg_advisory_unlock(hashtext($1))", [lockKey]);
      }
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  // events

  appendEvents(events: EventToStore[]): Promise<AppendResult[]> {
    return this.appends.add(events);
  }

  private appendNow(events: EventToStore[]): Promise<AppendResult[]> {
    return retryingRaces(() => appendOnce(this.pool, events, Date.now()));
  }

  async listEvents(streamId: string, options?: ListEventsOptions): Promise<StoredEvent[]> {
    const query = toEventQuery(options);
    if (query.limit === 0) return [];
    const values: unknown[] = [streamId, query.afterSeq, query.limit];
    let filter = "";
    if (filtersTypes(query)) {
      filter = ` AND (event_type = ANY($${values.length + 1}::text[]) OR event_type ^@ ANY($${values.length + 2}::text[]))`;
      values.push(query.exact, query.prefixes);
    }
    if (query.beforeSeq !== undefined) {
      filter += ` AND seq < $${values.length + 1}`;
      values.push(query.beforeSeq);
    }
    const order = query.beforeSeq === undefined ? "ASC" : "DESC";
    const result = await this.pool.query<Row>(
      `SELECT * FROM events WHERE stream_id = $1 AND seq > $2${filter} ORDER BY seq ${order} LIMIT $3`,
      values,
    );
    const events = result.rows.map(rowToEvent);
    return order === "DESC" ? events.reverse() : events;
  }

  async listTaskStreams(taskId: string): Promise<string[]> {
    const result = await this.pool.query<{ stream_id: string }>(
      `SELECT stream_id FROM events WHERE task_id = $1 OR stream_id = $1
       GROUP BY stream_id ORDER BY stream_id = $1 DESC, MIN(stored_at), stream_id`,
      [taskId],
    );
    return result.rows.map((row) => row.stream_id);
  }

  async lastSeq(streamId: string): Promise<number> {
    const result = await this.pool.query<{ last_seq: number }>(
      "SELECT last_seq FROM streams WHERE stream_id = $1",
      [streamId],
    );
    return result.rows[0]?.last_seq ?? 0;
  }

  // messages

  async insertMessage(
    message: NewMessage,
    announce?: EventToStore,
  ): Promise<{ message: StoredMessage; event: StoredEvent | undefined }> {
    const insert = `INSERT INTO messages (id, sandbox_id, message_type, delivery, content, status, created_at)
       VALUES ($1, $2, $3, $4, $5, 'pending', $6) RETURNING *`;
    const columns = [
      message.id,
      message.sandbox_id,
      message.message_type,
      message.delivery,
      storableText(message.content),
      Date.now(),
    ];
    if (!announce) {
      const row = await this.insertUnique("message", message.id, insert, columns);
      return { message: rowToMessage(row), event: undefined };
    }
    // One statement, so one implicit transaction: the message and its event, or neither.
    return retryingRaces(async () => {
      const storedAt = Date.now();
      const { values, payloads } = appendArguments([announce], storedAt);
      const row = await this.insertUnique(
        "message",
        message.id,
        `WITH m AS (${insert}) SELECT m.*, a.seq AS event_seq FROM m, ${appendCall(columns.length + 1)} a`,
        [...columns, ...values],
      );
      // A freshly minted event id is always stored; a missing row would mean it was not.
      if (!row) throw new Error(`event ${announce.id} of message ${message.id} was not stored`);
      return {
        message: rowToMessage(row),
        event: toStoredEvent(announce, Number(row.event_seq), payloads[0].payload, storedAt),
      };
    });
  }

  async getMessage(id: string): Promise<StoredMessage | undefined> {
    const result = await this.pool.query<Row>("SELECT * FROM messages WHERE id = $1", [id]);
    return result.rows[0] ? rowToMessage(result.rows[0]) : undefined;
  }

  async pendingMessages(sandboxId: string): Promise<StoredMessage[]> {
    const result = await this.pool.query<Row>(
      "SELECT * FROM messages WHERE sandbox_id = $1 AND status = 'pending' ORDER BY created_at, position",
      [sandboxId],
    );
    return result.rows.map(rowToMessage);
  }

  async takePendingMessages(sandboxId: string): Promise<StoredMessage[]> {
    // A concurrent caller blocks on the row locks, then re-checks `status` and skips the rows
    // this statement delivered: each message is returned once.
    const result = await this.pool.query<Row>(
      `UPDATE messages SET status = 'delivered', delivered_at = $2
       WHERE sandbox_id = $1 AND status = 'pending' RETURNING *`,
      [sandboxId, Date.now()],
    );
    return result.rows
      .sort(
        (a, b) =>
          Number(a.created_at) - Number(b.created_at) || Number(a.position) - Number(b.position),
      )
      .map(rowToMessage);
  }

  async markDelivered(sandboxId: string, ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const result = await this.pool.query<{ id: string }>(
      `UPDATE messages SET status = 'delivered', delivered_at = $3
       WHERE sandbox_id = $1 AND status = 'pending' AND id = ANY($2::text[]) RETURNING id`,
      [sandboxId, ids, Date.now()],
    );
    return result.rows.map((row) => row.id);
  }

  async listMessages(sandboxId: string): Promise<StoredMessage[]> {
    const result = await this.pool.query<Row>(
      "SELECT * FROM messages WHERE sandbox_id = $1 ORDER BY created_at, position",
      [sandboxId],
    );
    return result.rows.map(rowToMessage);
  }

  // tasks

  async createTask(task: NewTask): Promise<Task> {
    const [sql, values] = insertSql("tasks", newTaskColumns(task, Date.now()));
    return rowToTask(await this.insertUnique("task", task.id, sql, values));
  }

  async getTask(id: string): Promise<Task | undefined> {
    const result = await this.pool.query<Row>("SELECT * FROM tasks WHERE id = $1", [id]);
    return result.rows[0] ? rowToTask(result.rows[0]) : undefined;
  }

  async listTasks(options: {
    status?: TaskStatus[];
    limit: number;
    offset: number;
  }): Promise<{ tasks: Task[]; total: number }> {
    const where = options.status ? " WHERE status = ANY($1::text[])" : "";
    const filter = options.status ? [options.status] : [];
    const total = await this.pool.query<{ total: number }>(
      `SELECT count(*) AS total FROM tasks${where}`,
      filter,
    );
    const next = filter.length + 1;
    const rows = await this.pool.query<Row>(
      `SELECT * FROM tasks${where} ORDER BY created_at DESC, position DESC LIMIT $${next} OFFSET $${next + 1}`,
      [...filter, options.limit, options.offset],
    );
    return { tasks: rows.rows.map(rowToTask), total: total.rows[0]?.total ?? 0 };
  }

  async updateTask(
    id: string,
    patch: TaskPatch,
    expected?: TaskStatus[],
  ): Promise<Task | undefined> {
    const row = await this.update("tasks", id, taskPatchColumns(patch, Date.now()), expected);
    return row ? rowToTask(row) : undefined;
  }

  async claimNextTask(): Promise<Task | undefined> {
    // SKIP LOCKED: a replica passes over the row another replica is claiming right now, and
    // the outer `status = 'pending'` re-check drops a row claimed since our snapshot.
    const result = await this.pool.query<Row>(
      `UPDATE tasks SET status = 'assigned', attempts = attempts + 1, updated_at = $1
       WHERE status = 'pending' AND id = (
         SELECT t.id FROM tasks t
         WHERE t.status = 'pending'
           AND NOT EXISTS (
             SELECT 1 FROM jsonb_array_elements_text(t.depends_on) AS dependency(id)
             WHERE NOT EXISTS (
               SELECT 1 FROM tasks d WHERE d.id = dependency.id AND d.status = 'completed'))
         ORDER BY t.priority_rank, t.created_at, t.position
         LIMIT 1
         FOR UPDATE OF t SKIP LOCKED)
       RETURNING *`,
      [Date.now()],
    );
    return result.rows[0] ? rowToTask(result.rows[0]) : undefined;
  }

  // sandboxes

  async createRepository(repository: RepositoryRecord): Promise<RepositoryRecord> {
    const [sql, values] = insertSql("repositories", repositoryColumns(repository));
    return rowToRepository(await this.insertUnique("repository", repository.name, sql, values));
  }

  async getRepository(idOrName: string): Promise<RepositoryRecord | undefined> {
    const result = await this.pool.query<Row>(
      "SELECT * FROM repositories WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1",
      [idOrName],
    );
    return result.rows[0] ? rowToRepository(result.rows[0]) : undefined;
  }

  async updateRepository(
    id: string,
    patch: RepositoryPatch,
  ): Promise<RepositoryRecord | undefined> {
    const columns = repositoryPatchColumns(patch, Date.now());
    const values: unknown[] = columns.map(([, value]) => value);
    const assignments = columns.map(([column], index) => `${column} = $${index + 1}`).join(", ");
    values.push(id, patch.environment_id ?? null);
    const [idParameter, environmentParameter] = [values.length - 1, values.length];
    // The environment is checked in the same statement, so a deleted one is never named.
    const sql = `UPDATE repositories SET ${assignments}
       WHERE id = $${idParameter} AND ($${environmentParameter}::text IS NULL
         OR EXISTS (SELECT 1 FROM environments WHERE id = $${environmentParameter}))
       RETURNING *`;
    try {
      const result = await this.pool.query<Row>(sql, values);
      return result.rows[0] ? rowToRepository(result.rows[0]) : undefined;
    } catch (error) {
      if (
        errorCode(error) === UNIQUE_VIOLATION &&
        constraintOf(error) === PRIMARY_KEYS.repository
      ) {
        throw conflict(`a repository named '${patch.name}' is already registered`, {
          name: patch.name,
        });
      }
      throw error;
    }
  }

  async listRepositories(): Promise<RepositoryRecord[]> {
    const result = await this.pool.query<Row>("SELECT * FROM repositories ORDER BY name");
    return result.rows.map(rowToRepository);
  }

  async deleteRepository(id: string): Promise<boolean> {
    const result = await this.pool.query("DELETE FROM repositories WHERE id = $1", [id]);
    return (result.rowCount ?? 0) > 0;
  }

  async createSandbox(sandbox: NewSandbox): Promise<Sandbox> {
    const [sql, values] = insertSql("sandboxes", newSandboxColumns(sandbox, Date.now()));
    return rowToSandbox(await this.insertUnique("sandbox", sandbox.id, sql, values));
  }

  async getSandbox(id: string): Promise<Sandbox | undefined> {
    const result = await this.pool.query<Row>("SELECT * FROM sandboxes WHERE id = $1", [id]);
    return result.rows[0] ? rowToSandbox(result.rows[0]) : undefined;
  }

  async listSandboxes(options: {
    status?: SandboxStatus[];
    taskId?: string;
    owner?: string;
    limit: number;
    offset: number;
  }): Promise<{ sandboxes: Sandbox[]; total: number }> {
    const conditions: string[] = [];
    const values: unknown[] = [];
    if (options.status) {
      values.push(options.status);
      conditions.push(`status = ANY($${values.length}::text[])`);
    }
    if (options.taskId !== undefined) {
      values.push(options.taskId);
      conditions.push(`task_id = $${values.length}`);
    }
    if (options.owner !== undefined) {
      values.push(options.owner);
      conditions.push(`owner = $${values.length}`);
    }
    const where = conditions.length ? ` WHERE ${conditions.join(" AND ")}` : "";
    const total = await this.pool.query<{ total: number }>(
      `SELECT count(*) AS total FROM sandboxes${where}`,
      values,
    );
    const next = values.length + 1;
    const rows = await this.pool.query<Row>(
      `SELECT * FROM sandboxes${where} ORDER BY created_at DESC, position DESC LIMIT $${next} OFFSET $${next + 1}`,
      [...values, options.limit, options.offset],
    );
    return { sandboxes: rows.rows.map(rowToSandbox), total: total.rows[0]?.total ?? 0 };
  }

  async updateSandbox(
    id: string,
    patch: SandboxPatch,
    expected?: SandboxStatus[],
  ): Promise<Sandbox | undefined> {
    const row = await this.update(
      "sandboxes",
      id,
      sandboxPatchColumns(patch, Date.now()),
      expected,
    );
    return row ? rowToSandbox(row) : undefined;
  }

  // helpers

  /** Compare-and-set update: applies only when the status is one of `expected`. */
  private async update(
    table: "tasks" | "sandboxes",
    id: string,
    columns: Columns,
    expected: string[] | undefined,
  ): Promise<Row | undefined> {
    const values: unknown[] = columns.map(([, value]) => value);
    const assignments = columns.map(([column], index) => `${column} = $${index + 1}`).join(", ");
    values.push(id);
    let sql = `UPDATE ${table} SET ${assignments} WHERE id = $${values.length}`;
    if (expected) {
      values.push(expected);
      sql += ` AND status = ANY($${values.length}::text[])`;
    }
    const result = await this.pool.query<Row>(`${sql} RETURNING *`, values);
    return result.rows[0];
  }

  private async insertUnique(
    what: keyof typeof PRIMARY_KEYS,
    id: string,
    sql: string,
    values: unknown[],
  ): Promise<Row> {
    try {
      const result = await this.pool.query<Row>(sql, values);
      return result.rows[0];
    } catch (error) {
      // Only the row's own id is the caller's conflict; any other is a bug to surface as is.
      if (errorCode(error) === UNIQUE_VIOLATION && constraintOf(error) === PRIMARY_KEYS[what]) {
        throw conflict(`${what} '${id}' already exists`, { id });
      }
      throw error;
    }
  }
}

const PRIMARY_KEYS = {
  repository: "repositories_name_key",
  message: "messages_pkey",
  task: "tasks_pkey",
  sandbox: "sandboxes_pkey",
} as const;
