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
  {
    version: 2,
    name: "append function",
    // One round trip per append, in its own implicit transaction: the duplicate check, the
    // seq reservation and the insert run as one statement on one snapshot. An id that a
    // concurrent transaction stored after that snapshot makes the insert skip a row whose
    // seq was already reserved; the function then raises serialization_failure, which
    // rolls the reservation back, and the caller retries (and sees the stored event).
    sql: `
      CREATE FUNCTION omoi_append(
        p_ids text[], p_streams text[], p_sandboxes text[], p_tasks text[], p_types text[],
        p_sources text[], p_payloads text[], p_emitted bigint[], p_stored bigint
      ) RETURNS TABLE (id text, seq bigint)
      LANGUAGE plpgsql
      -- A cached generic plan would keep the join strategy chosen while the table was
      -- small; a plan per call follows the table as it grows.
      SET plan_cache_mode = force_custom_plan
      AS $$
      #variable_conflict use_column
      DECLARE
        wanted bigint;
        inserted bigint;
        new_ids text[];
        new_seqs bigint[];
      BEGIN
        WITH input AS (
          SELECT * FROM unnest(p_ids, p_streams, p_sandboxes, p_tasks, p_types, p_sources,
                               p_payloads, p_emitted) WITH ORDINALITY
            AS i(id, stream_id, sandbox_id, task_id, event_type, source, payload, emitted_at, n)
        ),
        fresh AS (
          SELECT DISTINCT ON (i.id) i.* FROM input i
          WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = i.id)
          ORDER BY i.id, i.n
        ),
        counts AS (
          SELECT f.stream_id, count(*) AS c FROM fresh f GROUP BY f.stream_id
        ),
        reserved AS (
          INSERT INTO streams AS s (stream_id, last_seq)
          SELECT c.stream_id, c.c FROM counts c ORDER BY c.stream_id
          ON CONFLICT (stream_id) DO UPDATE SET last_seq = s.last_seq + EXCLUDED.last_seq
          RETURNING s.stream_id, s.last_seq
        ),
        numbered AS (
          SELECT f.*,
                 r.last_seq - c.c + row_number() OVER (PARTITION BY f.stream_id ORDER BY f.n) AS seq
          FROM fresh f JOIN counts c ON c.stream_id = f.stream_id
                       JOIN reserved r ON r.stream_id = f.stream_id
        ),
        stored AS (
          INSERT INTO events AS e
            (id, stream_id, seq, sandbox_id, task_id, event_type, source, payload,
             emitted_at, stored_at)
          SELECT n.id, n.stream_id, n.seq, n.sandbox_id, n.task_id, n.event_type, n.source,
                 n.payload::jsonb, n.emitted_at, p_stored
          FROM numbered n ORDER BY n.id
          ON CONFLICT (id) DO NOTHING
          RETURNING e.id, e.seq
        )
        SELECT (SELECT count(*) FROM fresh), count(*), array_agg(st.id), array_agg(st.seq)
          INTO wanted, inserted, new_ids, new_seqs
          FROM stored st;
        IF inserted <> wanted THEN
          RAISE EXCEPTION 'an event id was stored concurrently; retry the append'
            USING ERRCODE = 'serialization_failure';
        END IF;
        RETURN QUERY SELECT * FROM unnest(new_ids, new_seqs);
      END
      $$;
    `,
  },
  {
    version: 3,
    name: "environments",
    sql: `
      CREATE TABLE environments (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        spec jsonb NOT NULL,
        sealed text,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL
      );
      ALTER TABLE tasks ADD COLUMN environment_id text;
      CREATE INDEX tasks_environment ON tasks (environment_id);
    `,
  },
  {
    version: 4,
    name: "approvals",
    sql: `
      ALTER TABLE tasks ADD COLUMN permission_mode text NOT NULL DEFAULT 'bypassPermissions';
      ALTER TABLE tasks ADD COLUMN deny_unanswered_after_minutes double precision;
      ALTER TABLE sandboxes ADD COLUMN permission_mode text NOT NULL DEFAULT 'bypassPermissions';
      ALTER TABLE sandboxes ADD COLUMN deny_unanswered_after_minutes double precision;

      -- A request waiting for a person. The id is the id of the event that asked; the
      -- answer is taken by a conditional update (status 'open' → 'resolved'): a second
      -- writer blocks on the row lock, re-checks the status and updates nothing.
      CREATE TABLE approvals (
        id text PRIMARY KEY,
        position bigserial NOT NULL,
        sandbox_id text NOT NULL,
        task_id text,
        kind text NOT NULL,
        tool text NOT NULL,
        request jsonb NOT NULL,
        status text NOT NULL,
        answer jsonb,
        answered_by jsonb,
        created_at bigint NOT NULL,
        deadline_at bigint,
        resolved_at bigint,
        delivered_at bigint
      );
      CREATE INDEX approvals_sandbox ON approvals (sandbox_id, status, created_at, position);
      CREATE INDEX approvals_task ON approvals (task_id, status);
      CREATE INDEX approvals_deadline ON approvals (deadline_at) WHERE status = 'open';
    `,
  },
  {
    version: 5,
    name: "repositories",
    sql: `
      ALTER TABLE tasks ADD COLUMN repo jsonb;
      CREATE TABLE repositories (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        url text NOT NULL,
        credential_kind text NOT NULL,
        credential_hint text,
        credential_ciphertext text,
        api_base_url text,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL
      );
    `,
  },
  {
    version: 6,
    name: "sandbox limits",
    sql: `
      ALTER TABLE tasks ADD COLUMN limits jsonb;
      ALTER TABLE sandboxes ADD COLUMN limits jsonb;
    `,
  },
  {
    version: 7,
    name: "repository default environment",
    sql: `
      ALTER TABLE repositories ADD COLUMN environment_id text;
      CREATE INDEX repositories_environment ON repositories (environment_id);
    `,
  },
];
