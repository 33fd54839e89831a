/**
 * SQLite schema, as numbered migrations. Never edit a released migration: add the next one.
 * Timestamps are ms epoch integers; JSON columns are text.
 */
export const SQLITE_MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: "initial",
    sql: `
      CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        prompt TEXT NOT NULL,
        phase_id TEXT NOT NULL,
        priority TEXT NOT NULL,
        priority_rank INTEGER NOT NULL,
        runtime TEXT NOT NULL,
        model TEXT,
        max_turns INTEGER,
        max_budget_usd REAL,
        depends_on TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_retries INTEGER NOT NULL DEFAULT 0,
        sandbox_id TEXT,
        session_id TEXT,
        workspace TEXT,
        result TEXT,
        error TEXT,
        num_turns INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        started_at INTEGER,
        completed_at INTEGER
      );
      CREATE INDEX tasks_queue ON tasks (status, priority_rank, created_at);
      CREATE INDEX tasks_created ON tasks (created_at);

      CREATE TABLE sandboxes (
        id TEXT PRIMARY KEY,
        task_id TEXT,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        provider TEXT NOT NULL,
        prompt TEXT,
        model TEXT,
        max_turns INTEGER,
        max_budget_usd REAL,
        workspace TEXT,
        session_id TEXT,
        owner TEXT,
        worker_pid INTEGER,
        error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        started_at INTEGER,
        ended_at INTEGER,
        last_heartbeat_at INTEGER
      );
      CREATE INDEX sandboxes_task ON sandboxes (task_id);
      CREATE INDEX sandboxes_status ON sandboxes (status);
      CREATE INDEX sandboxes_created ON sandboxes (created_at);

      -- One counter row per stream: the seq of its last event.
      CREATE TABLE streams (
        stream_id TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL
      );

      CREATE TABLE events (
        id TEXT PRIMARY KEY,
        stream_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        sandbox_id TEXT,
        task_id TEXT,
        event_type TEXT NOT NULL,
        source TEXT NOT NULL,
        payload TEXT NOT NULL,
        emitted_at INTEGER NOT NULL,
        stored_at INTEGER NOT NULL,
        UNIQUE (stream_id, seq)
      );
      CREATE INDEX events_task ON events (task_id, stream_id);

      CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        sandbox_id TEXT NOT NULL,
        message_type TEXT NOT NULL,
        delivery TEXT NOT NULL,
        content TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        delivered_at INTEGER
      );
      CREATE INDEX messages_sandbox ON messages (sandbox_id, status, created_at);
    `,
  },
  {
    version: 2,
    name: "environments",
    sql: `
      CREATE TABLE environments (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        spec TEXT NOT NULL,
        sealed TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      ALTER TABLE tasks ADD COLUMN environment_id TEXT;
      CREATE INDEX tasks_environment ON tasks (environment_id);
    `,
  },
  {
    version: 3,
    name: "approvals",
    sql: `
      ALTER TABLE tasks ADD COLUMN permission_mode TEXT NOT NULL DEFAULT 'bypassPermissions';
      ALTER TABLE tasks ADD COLUMN deny_unanswered_after_minutes REAL;
      ALTER TABLE sandboxes ADD COLUMN permission_mode TEXT NOT NULL DEFAULT 'bypassPermissions';
      ALTER TABLE sandboxes ADD COLUMN deny_unanswered_after_minutes REAL;

      -- A request waiting for a person. The id is the id of the event that asked; the
      -- answer is taken by a conditional update (status 'open' → 'resolved'), so exactly
      -- one answer is ever stored.
      CREATE TABLE approvals (
        id TEXT PRIMARY KEY,
        sandbox_id TEXT NOT NULL,
        task_id TEXT,
        kind TEXT NOT NULL,
        tool TEXT NOT NULL,
        request TEXT NOT NULL,
        status TEXT NOT NULL,
        answer TEXT,
        answered_by TEXT,
        created_at INTEGER NOT NULL,
        deadline_at INTEGER,
        resolved_at INTEGER,
        delivered_at INTEGER
      );
      CREATE INDEX approvals_sandbox ON approvals (sandbox_id, status, created_at);
      CREATE INDEX approvals_task ON approvals (task_id, status);
      CREATE INDEX approvals_deadline ON approvals (status, deadline_at);
    `,
  },
  {
    version: 4,
    name: "repositories",
    sql: `
      ALTER TABLE tasks ADD COLUMN repo TEXT;
      CREATE TABLE repositories (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        url TEXT NOT NULL,
        credential_kind TEXT NOT NULL,
        credential_hint TEXT,
        credential_ciphertext TEXT,
        api_base_url TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: "sandbox limits",
    sql: `
      ALTER TABLE tasks ADD COLUMN limits TEXT;
      ALTER TABLE sandboxes ADD COLUMN limits TEXT;
    `,
  },
  {
    version: 6,
    name: "repository default environment",
    sql: `
      ALTER TABLE repositories ADD COLUMN environment_id TEXT;
      CREATE INDEX repositories_environment ON repositories (environment_id);
    `,
  },
];
