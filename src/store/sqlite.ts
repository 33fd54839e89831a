import { chmodSync, closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
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
  type SqlValue,
  sandboxPatchColumns,
  taskPatchColumns,
} from "./columns.ts";
import { filtersTypes, toEventQuery } from "./event-query.ts";
import { GroupCommit } from "./group-commit.ts";
import {
  type Row,
  rowToEvent,
  rowToMessage,
  rowToRepository,
  rowToSandbox,
  rowToTask,
  toStoredEvent,
} from "./rows.ts";
import { SqliteCheckpointer } from "./sqlite-checkpointer.ts";
import { SqliteEnvironments } from "./sqlite-environments.ts";
import { SQLITE_MIGRATIONS } from "./sqlite-migrations.ts";
import { storablePayload, storableText } from "./storable.ts";
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

type Statement = Database.Statement<SqlValue[], Row>;

/** Statements built from varying column lists are cached up to this many. */
const STATEMENT_CACHE_LIMIT = 256;

/**
 * The embedded store: one SQLite file in WAL mode. better-sqlite3 is synchronous, so every
 * method runs to completion without yielding; write transactions are IMMEDIATE so that
 * another process on the same file waits (busy_timeout) instead of failing mid-transaction.
 */
export class SqliteStore implements Store {
  readonly kind = "sqlite";
  private database: Database.Database | undefined;
  private readonly statements = new Map<string, Statement>();
  private checkpointer: SqliteCheckpointer | undefined;
  readonly environments = new SqliteEnvironments(() => this.db());
  readonly approvals = new ApprovalQueries(async (sql, values) =>
    this.statement(sql).all(...values),
  );
  /**
   * Appends from one turn of the event loop (every worker frame and request read in it) share
   * one transaction; see GroupCommit. Its commit is the cost of an append that grows least
   * with the events in it.
   */
  private readonly appends = new GroupCommit<EventToStore, AppendResult>(
    async (events) =>
      this.db()
        .transaction(() => this.appendInTransaction(events))
        .immediate(),
    { maxInFlight: 1, maxItems: 1000, gatherTurn: true },
  );

  /** `path` is a file path (its folder is created by migrate()) or `:memory:`. */
  constructor(readonly path = "./data/omoi.db") {}

  async migrate(): Promise<void> {
    if (this.database) return;
    if (this.path !== ":memory:") {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      // Readable by this user only; SQLite gives the -wal and -shm files the database's mode.
      closeSync(openSync(this.path, "a", 0o600));
      chmodSync(this.path, 0o600);
    }
    const database = new Database(this.path);
    database.pragma("journal_mode = WAL");
    database.pragma("busy_timeout = 5000");
    // NORMAL in WAL mode survives a killed process; only a power loss can drop the last commits.
    database.pragma("synchronous = NORMAL");
    if (this.path !== ":memory:") {
      // Checkpoints run off the server's thread (see sqlite-checkpointer.ts); the server's own
      // connection only checkpoints if that thread falls far behind, bounding the log.
      database.pragma("wal_autocheckpoint = 16384");
      database.pragma("journal_size_limit = 67108864");
      this.checkpointer = new SqliteCheckpointer(this.path);
      this.checkpointer.start();
    }
    database.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    );
    const apply = database.transaction(() => {
      const applied = new Set(
        database
          .prepare<[], { version: number }>("SELECT version FROM schema_migrations")
          .all()
          .map((row) => row.version),
      );
      for (const migration of SQLITE_MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        database.exec(migration.sql);
        database
          .prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
          .run(migration.version, migration.name, Date.now());
      }
    });
    apply.immediate();
    this.database = database;
  }

  async close(): Promise<void> {
    if (this.database) await this.appends.flush();
    await this.checkpointer?.stop();
    this.checkpointer = undefined;
    this.statements.clear();
    this.database?.close();
    this.database = undefined;
  }

  // events

  appendEvents(events: EventToStore[]): Promise<AppendResult[]> {
    return this.appends.add(events);
  }

  /** Stores events inside the caller's transaction. */
  private appendInTransaction(events: EventToStore[]): AppendResult[] {
    const byId = this.statement("SELECT * FROM events WHERE id = ?");
    const bump = this.statement(
      "INSERT INTO streams (stream_id, last_seq) VALUES (?, 1) ON CONFLICT (stream_id) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
    );
    const insert = this.statement(
      "INSERT INTO events (id, stream_id, seq, sandbox_id, task_id, event_type, source, payload, emitted_at, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    const storedAt = Date.now();
    return events.map((event) => {
      // Also catches an id repeated within this batch: the first copy is already inserted.
      const existing = byId.get(event.id);
      if (existing) return { event: rowToEvent(existing), duplicate: true };
      const seq = Number(bump.get(event.stream_id)?.last_seq);
      const { json, payload } = storablePayload(event.payload);
      const stored = toStoredEvent(event, seq, payload, storedAt);
      insert.run(
        stored.id,
        stored.stream_id,
        seq,
        stored.sandbox_id,
        stored.task_id,
        stored.event_type,
        stored.source,
        json,
        stored.emitted_at,
        storedAt,
      );
      return { event: stored, duplicate: false };
    });
  }

  async listEvents(streamId: string, options?: ListEventsOptions): Promise<StoredEvent[]> {
    const query = toEventQuery(options);
    if (query.limit === 0) return [];
    const parameters: SqlValue[] = [streamId, query.afterSeq];
    let typeFilter = "";
    if (filtersTypes(query)) {
      const clauses = [
        ...query.exact.map(() => "event_type = ?"),
        ...query.prefixes.map(() => "substr(event_type, 1, ?) = ?"),
      ];
      typeFilter = ` AND (${clauses.join(" OR ")})`;
      parameters.push(...query.exact);
      for (const prefix of query.prefixes) parameters.push(prefix.length, prefix);
    }
    let window = "";
    if (query.beforeSeq !== undefined) {
      window = " AND seq < ?";
      parameters.push(query.beforeSeq);
    }
    parameters.push(query.limit);
    const order = query.beforeSeq === undefined ? "ASC" : "DESC";
    const sql = `SELECT * FROM events WHERE stream_id = ? AND seq > ?${typeFilter}${window} ORDER BY seq ${order} LIMIT ?`;
    const events = this.statement(sql)
      .all(...parameters)
      .map(rowToEvent);
    return order === "DESC" ? events.reverse() : events;
  }

  async listTaskStreams(taskId: string): Promise<string[]> {
    const rows = this.statement(
      `SELECT stream_id FROM events WHERE task_id = ? OR stream_id = ?
       GROUP BY stream_id ORDER BY stream_id = ? DESC, MIN(stored_at), stream_id`,
    ).all(taskId, taskId, taskId);
    return rows.map((row) => String(row.stream_id));
  }

  async lastSeq(streamId: string): Promise<number> {
    const row = this.statement("SELECT last_seq FROM streams WHERE stream_id = ?").get(streamId);
    return row ? Number(row.last_seq) : 0;
  }

  // messages

  async insertMessage(
    message: NewMessage,
    announce?: EventToStore,
  ): Promise<{ message: StoredMessage; event: StoredEvent | undefined }> {
    const stored: StoredMessage = {
      id: message.id,
      sandbox_id: message.sandbox_id,
      message_type: message.message_type,
      delivery: message.delivery,
      content: storableText(message.content),
      status: "pending",
      created_at: Date.now(),
      delivered_at: null,
    };
    const insert = () =>
      this.insertUnique(
        "message",
        stored.id,
        "INSERT INTO messages (id, sandbox_id, message_type, delivery, content, status, created_at, delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
          stored.id,
          stored.sandbox_id,
          stored.message_type,
          stored.delivery,
          stored.content,
          stored.status,
          stored.created_at,
          null,
        ],
      );
    if (!announce) {
      insert();
      return { message: stored, event: undefined };
    }
    // One transaction: the message and its event, or neither.
    const [appended] = this.db()
      .transaction(() => {
        insert();
        return this.appendInTransaction([announce]);
      })
      .immediate();
    return { message: stored, event: appended.event };
  }

  async getMessage(id: string): Promise<StoredMessage | undefined> {
    const row = this.statement("SELECT * FROM messages WHERE id = ?").get(id);
    return row ? rowToMessage(row) : undefined;
  }

  async pendingMessages(sandboxId: string): Promise<StoredMessage[]> {
    return this.statement(
      "SELECT * FROM messages WHERE sandbox_id = ? AND status = 'pending' ORDER BY created_at, rowid",
    )
      .all(sandboxId)
      .map(rowToMessage);
  }

  async takePendingMessages(sandboxId: string): Promise<StoredMessage[]> {
    const select = this.statement(
      "SELECT * FROM messages WHERE sandbox_id = ? AND status = 'pending' ORDER BY created_at, rowid",
    );
    const update = this.statement(
      "UPDATE messages SET status = 'delivered', delivered_at = ? WHERE sandbox_id = ? AND status = 'pending'",
    );
    const take = this.db().transaction((): StoredMessage[] => {
      const now = Date.now();
      const pending = select.all(sandboxId).map(rowToMessage);
      if (pending.length === 0) return [];
      update.run(now, sandboxId);
      return pending.map((message) => ({ ...message, status: "delivered", delivered_at: now }));
    });
    return take.immediate();
  }

  async markDelivered(sandboxId: string, ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    return this.statement(
      `UPDATE messages SET status = 'delivered', delivered_at = ?
       WHERE sandbox_id = ? AND status = 'pending' AND id IN (SELECT value FROM json_each(?))
       RETURNING id`,
    )
      .all(Date.now(), sandboxId, JSON.stringify(ids))
      .map((row) => String(row.id));
  }

  async listMessages(sandboxId: string): Promise<StoredMessage[]> {
    return this.statement("SELECT * FROM messages WHERE sandbox_id = ? ORDER BY created_at, rowid")
      .all(sandboxId)
      .map(rowToMessage);
  }

  // tasks

  async createTask(task: NewTask): Promise<Task> {
    const columns = newTaskColumns(task, Date.now());
    const [sql, values] = insertSql("tasks", columns);
    this.insertUnique("task", task.id, sql, values);
    return (await this.getTask(task.id))!;
  }

  async getTask(id: string): Promise<Task | undefined> {
    const row = this.statement("SELECT * FROM tasks WHERE id = ?").get(id);
    return row ? rowToTask(row) : undefined;
  }

  async listTasks(options: {
    status?: TaskStatus[];
    limit: number;
    offset: number;
  }): Promise<{ tasks: Task[]; total: number }> {
    const { where, values } = statusFilter(options.status);
    const total = this.statement(`SELECT count(*) AS total FROM tasks${where}`).get(...values);
    const rows = this.statement(
      `SELECT * FROM tasks${where} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`,
    ).all(...values, options.limit, options.offset);
    return { tasks: rows.map(rowToTask), total: Number(total?.total ?? 0) };
  }

  async updateTask(
    id: string,
    patch: TaskPatch,
    expected?: TaskStatus[],
  ): Promise<Task | undefined> {
    const row = this.update("tasks", id, taskPatchColumns(patch, Date.now()), expected);
    return row ? rowToTask(row) : undefined;
  }

  async claimNextTask(): Promise<Task | undefined> {
    // One statement, so the pick and the move to `assigned` cannot be split by another writer.
    const row = this.statement(
      `UPDATE tasks SET status = 'assigned', attempts = attempts + 1, updated_at = ?
       WHERE status = 'pending' AND id = (
         SELECT t.id FROM tasks t
         WHERE t.status = 'pending'
           AND NOT EXISTS (
             SELECT 1 FROM json_each(t.depends_on) dependency
             WHERE NOT EXISTS (
               SELECT 1 FROM tasks d WHERE d.id = dependency.value AND d.status = 'completed'))
         ORDER BY t.priority_rank, t.created_at, t.rowid
         LIMIT 1)
       RETURNING *`,
    ).get(Date.now());
    return row ? rowToTask(row) : undefined;
  }

  // sandboxes

  async createRepository(repository: RepositoryRecord): Promise<RepositoryRecord> {
    const [sql, values] = insertSql("repositories", repositoryColumns(repository));
    this.insertUnique("repository", repository.name, sql, values);
    return (await this.getRepository(repository.id))!;
  }

  async getRepository(idOrName: string): Promise<RepositoryRecord | undefined> {
    const row =
      this.statement("SELECT * FROM repositories WHERE id = ?").get(idOrName) ??
      this.statement("SELECT * FROM repositories WHERE name = ?").get(idOrName);
    return row ? rowToRepository(row) : undefined;
  }

  async listRepositories(): Promise<RepositoryRecord[]> {
    return this.statement("SELECT * FROM repositories ORDER BY name").all().map(rowToRepository);
  }

  async updateRepository(
    id: string,
    patch: RepositoryPatch,
  ): Promise<RepositoryRecord | undefined> {
    const columns = repositoryPatchColumns(patch, Date.now());
    const assignments = columns.map(([column]) => `${column} = ?`).join(", ");
    // The environment is checked in the same statement, so a deleted one is never named.
    const environmentId = patch.environment_id ?? null;
    const sql = `UPDATE repositories SET ${assignments}
       WHERE id = ? AND (? IS NULL OR EXISTS (SELECT 1 FROM environments WHERE id = ?))
       RETURNING *`;
    const values = [...columns.map(([, value]) => value), id, environmentId, environmentId];
    try {
      const row = this.statement(sql).get(...values);
      return row ? rowToRepository(row) : undefined;
    } catch (error) {
      if (error instanceof Database.SqliteError && error.code === "SQLITE_CONSTRAINT_UNIQUE") {
        throw conflict(`a repository named '${patch.name}' is already registered`, {
          name: patch.name,
        });
      }
      throw error;
    }
  }

  async deleteRepository(id: string): Promise<boolean> {
    return this.statement("DELETE FROM repositories WHERE id = ?").run(id).changes > 0;
  }

  async createSandbox(sandbox: NewSandbox): Promise<Sandbox> {
    const [sql, values] = insertSql("sandboxes", newSandboxColumns(sandbox, Date.now()));
    this.insertUnique("sandbox", sandbox.id, sql, values);
    return (await this.getSandbox(sandbox.id))!;
  }

  async getSandbox(id: string): Promise<Sandbox | undefined> {
    const row = this.statement("SELECT * FROM sandboxes WHERE id = ?").get(id);
    return row ? rowToSandbox(row) : undefined;
  }

  async listSandboxes(options: {
    status?: SandboxStatus[];
    taskId?: string;
    owner?: string;
    limit: number;
    offset: number;
  }): Promise<{ sandboxes: Sandbox[]; total: number }> {
    const conditions: string[] = [];
    const values: SqlValue[] = [];
    if (options.status) {
      conditions.push("status IN (SELECT value FROM json_each(?))");
      values.push(JSON.stringify(options.status));
    }
    if (options.taskId !== undefined) {
      conditions.push("task_id = ?");
      values.push(options.taskId);
    }
    if (options.owner !== undefined) {
      conditions.push("owner = ?");
      values.push(options.owner);
    }
    const where = conditions.length ? ` WHERE ${conditions.join(" AND ")}` : "";
    const total = this.statement(`SELECT count(*) AS total FROM sandboxes${where}`).get(...values);
    const rows = this.statement(
      `SELECT * FROM sandboxes${where} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`,
    ).all(...values, options.limit, options.offset);
    return { sandboxes: rows.map(rowToSandbox), total: Number(total?.total ?? 0) };
  }

  async updateSandbox(
    id: string,
    patch: SandboxPatch,
    expected?: SandboxStatus[],
  ): Promise<Sandbox | undefined> {
    const row = this.update("sandboxes", id, sandboxPatchColumns(patch, Date.now()), expected);
    return row ? rowToSandbox(row) : undefined;
  }

  // helpers

  private db(): Database.Database {
    if (!this.database) throw new Error("SqliteStore is not open: call migrate() first");
    return this.database;
  }

  private statement(sql: string): Statement {
    const cached = this.statements.get(sql);
    if (cached) return cached;
    if (this.statements.size >= STATEMENT_CACHE_LIMIT) this.statements.clear();
    const statement = this.db().prepare<SqlValue[], Row>(sql);
    this.statements.set(sql, statement);
    return statement;
  }

  /** Compare-and-set update: applies only when the status is one of `expected`. */
  private update(
    table: "tasks" | "sandboxes",
    id: string,
    columns: Columns,
    expected: string[] | undefined,
  ): Row | undefined {
    const assignments = columns.map(([column]) => `${column} = ?`).join(", ");
    const values = columns.map(([, value]) => value);
    let sql = `UPDATE ${table} SET ${assignments} WHERE id = ?`;
    values.push(id);
    if (expected) {
      sql += " AND status IN (SELECT value FROM json_each(?))";
      values.push(JSON.stringify(expected));
    }
    return this.statement(`${sql} RETURNING *`).get(...values);
  }

  private insertUnique(what: string, id: string, sql: string, values: SqlValue[]): void {
    try {
      this.statement(sql).run(...values);
    } catch (error) {
      if (error instanceof Database.SqliteError && error.code.startsWith("SQLITE_CONSTRAINT")) {
        throw conflict(`${what} '${id}' already exists`, { id });
      }
      throw error;
    }
  }
}

function insertSql(table: string, columns: Columns): [string, SqlValue[]] {
  const names = columns.map(([column]) => column).join(", ");
  const placeholders = columns.map(() => "?").join(", ");
  return [
    `INSERT INTO ${table} (${names}) VALUES (${placeholders})`,
    columns.map(([, value]) => value),
  ];
}

function statusFilter(status: string[] | undefined): { where: string; values: SqlValue[] } {
  if (!status) return { where: "", values: [] };
  return {
    where: " WHERE status IN (SELECT value FROM json_each(?))",
    values: [JSON.stringify(status)],
  };
}
