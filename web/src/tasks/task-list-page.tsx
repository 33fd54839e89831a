import { useState } from "react";
import type { Task } from "../api/types.ts";
import { ConnectionBadge } from "../components/connection-badge.tsx";
import { StatusBadge } from "../components/status-badge.tsx";
import { formatAge, formatCost, formatDuration } from "../format.ts";
import { useTaskFeed } from "../live/task-feed.tsx";
import { useNow } from "../live/use-event-stream.ts";
import { NewTaskForm } from "./new-task-form.tsx";
import { useTasks } from "./use-tasks.ts";

const FILTERS: { label: string; value: string }[] = [
  { label: "All", value: "" },
  { label: "Active", value: "pending,assigned,running" },
  { label: "Completed", value: "completed" },
  { label: "Failed", value: "failed" },
  { label: "Cancelled", value: "cancelled" },
];

export function TaskListPage() {
  const [filter, setFilter] = useState("");
  const { tasks, total, loading, error, refetch } = useTasks(filter);
  const feed = useTaskFeed();
  const now = useNow(1000);

  return (
    <div className="page tasks-page">
      <section className="card new-task-card" aria-labelledby="new-task-heading">
        <h1 id="new-task-heading" className="card-title">
          What should Claude work on?
        </h1>
        <NewTaskForm compact />
      </section>

      <section aria-labelledby="tasks-heading">
        <div className="section-head">
          <h2 id="tasks-heading">
            Tasks <span className="muted">{loading ? "" : total}</span>
          </h2>
          <ConnectionBadge state={feed.state} />
        </div>
        {/* biome-ignore lint/a11y/useSemanticElements: a row of toggle buttons, not a form section. */}
        <div className="filters" role="group" aria-label="Filter by status" data-testid="task-filters">
          {FILTERS.map((option) => (
            <button
              key={option.label}
              type="button"
              className={`chip ${filter === option.value ? "chip-on" : ""}`}
              aria-pressed={filter === option.value}
              data-testid={`task-filter-${option.label.toLowerCase()}`}
              onClick={() => setFilter(option.value)}
            >
              {option.label}
            </button>
          ))}
        </div>

        {error ? (
          <div className="alert alert-danger" role="alert" data-testid="task-list-error">
            {error}{" "}
            <button type="button" className="link-button" onClick={refetch}>
              Try again
            </button>
          </div>
        ) : null}

        {loading && tasks.length === 0 ? (
          <div className="empty muted" data-testid="task-list-loading">
            Loading tasks…
          </div>
        ) : !error && tasks.length === 0 ? (
          <div className="empty" data-testid="task-list-empty">
            <p>{filter ? "No tasks with this status." : "No tasks yet. Describe one above to start."}</p>
          </div>
        ) : (
          <ul className="task-list" data-testid="task-list">
            {tasks.map((task) => (
              <TaskRow key={task.id} task={task} now={now} />
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

function taskDuration(task: Task, now: number): number | null {
  if (!task.started_at) return null;
  return (task.completed_at ?? now) - task.started_at;
}

function TaskRow({ task, now }: { task: Task; now: number }) {
  const duration = taskDuration(task, now);
  return (
    <li>
      <a
        className="task-row"
        href={`#/tasks/${task.id}`}
        data-testid="task-row"
        data-task-id={task.id}
        data-status={task.status}
      >
        <StatusBadge status={task.status} testId="task-status" />
        {/* One cell for the title and its marks, so the row keeps its three columns. */}
        <span className="task-main">
          {task.needs_you ? (
            <span className="needs-you" data-testid="needs-you" title={task.needs_you.summary}>
              Needs you
            </span>
          ) : null}
          <span className="task-title" data-testid="task-title">
            {task.title || task.prompt}
          </span>
          {task.repo ? (
            <span className="task-repo small" data-testid="task-repo">
              {task.repo.changes ? (
                <span>
                  <span className="diff-add-count">+{task.repo.changes.added}</span>{" "}
                  <span className="diff-del-count">−{task.repo.changes.removed}</span>
                </span>
              ) : null}
              {task.repo.pull_request ? (
                <span data-testid="task-pull-request">
                  {" "}
                  PR #{task.repo.pull_request.number} · {task.repo.pull_request.state}
                </span>
              ) : null}
            </span>
          ) : null}
        </span>
        <span className="task-meta">
          <span title={new Date(task.created_at).toLocaleString()}>{formatAge(task.created_at, now)}</span>
          <span title="duration">{duration === null ? "—" : formatDuration(duration)}</span>
          <span title="cost" data-testid="task-cost">
            {formatCost(task.cost_usd)}
          </span>
        </span>
      </a>
    </li>
  );
}
