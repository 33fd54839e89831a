/**
 * Postgres schema, as numbered migrations. Never edit a released migration: add the next one.
 * Timestamps are ms epoch `bigint`s (read back as JS numbers); JSON columns are `jsonb`.
 * `position` columns break ties between rows created in the same millisecond.
 */
export const POSTGRES_MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: "initial",
    sql: `
      CREATE TABLE tasks (
        id text PRIMARY KEY,
        position bigserial NOT NULL,
        title text NOT NULL,
        prompt text NOT NULL,
        phase_id text NOT NULL,
        priority text NOT NULL,
        priority_rank integer NOT NULL,
        runtime text NOT NULL,
        model text,
        max_turns integer,
        max_budget_usd double precision,
        depends_on jsonb NOT NULL DEFAULT '[]',
        status text NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        max_retries integer NOT NULL DEFAULT 0,
        sandbox_id text,
        session_id text,
        workspace text,
        result text,
        error text,
        num_turns integer NOT NULL DEFAULT 0,
        input_tokens bigint NOT NULL DEFAULT 0,
        output_tokens bigint NOT NULL DEFAULT 0,
        cost_usd double precision NOT NULL DEFAULT 0,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        started_at bigint,
        completed_at bigint
      );
      CREATE INDEX tasks_queue ON tasks (priority_rank, created_at, position) WHERE status = 'pending';
      CREATE INDEX tasks_created ON tasks (created_at, position);
      CREATE INDEX tasks_status ON tasks (status);

      CREATE TABLE sandboxes (
        id text PRIMARY KEY,
        position bigserial NOT NULL,
        task_id text,
        kind text NOT NULL,
        status text NOT NULL,
        provider text NOT NULL,
        prompt text,
        model text,
        max_turns integer,
        max_budget_usd double precision,
        workspace text,
        session_id text,
        owner text,
        worker_pid integer,
        error text,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        started_at bigint,
        ended_at bigint,
        last_heartbeat_at bigint
      );
      CREATE INDEX sandboxes_task ON sandboxes (task_id);
      CREATE INDEX sandboxes_status ON sandboxes (status);
      CREATE INDEX sandboxes_created ON sandboxes (created_at, position);

      -- One counter row per stream: the seq of its last event. Its row lock serializes
      -- appends to one stream across every replica.
      CREATE TABLE streams (
        stream_id text PRIMARY KEY,
        last_seq bigint NOT NULL
      );

      CREATE TABLE events (
        id text PRIMARY KEY,
        stream_id text NOT NULL,
        seq bigint NOT NULL,
        sandbox_id text,
        task_id text,
        event_type text NOT NULL,
        source text NOT NULL,
        payload jsonb NOT NULL,
        emitted_at bigint NOT NULL,
        stored_at bigint NOT NULL,
        UNIQUE (stream_id, seq)
      );
      CREATE INDEX events_task ON events (task_id, stream_id);

      CREATE TABLE messages (
        id text PRIMARY KEY,
        position bigserial NOT NULL,
        sandbox_id text NOT NULL,
        message_type text NOT NULL,
        delivery text NOT NULL,
        content text NOT NULL,
        status text NOT NULL,
        created_at bigint NOT NULL,
        delivered_at bigint
      );
      CREATE INDEX messages_pending ON messages (sandbox_id, created_at, position) WHERE status = 'pending';
      CREATE INDEX messages_sandbox ON messages (sandbox_id, created_at, position);
    `,
  },
];
