import type { Todo } from "../items.ts";

const MARK: Record<string, string> = { completed: "✓", in_progress: "◐", pending: "○" };

export function TodoList({ todos }: { todos: Todo[] }) {
  const done = todos.filter((todo) => todo.status === "completed").length;
  return (
    <div className="card todo-card" data-testid="todo-list">
      <div className="todo-head">
        <span>Plan</span>
        <span className="muted small">
          {done}/{todos.length} done
        </span>
      </div>
      <ul className="todos">
        {todos.map((todo, index) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: todos have no ids
          <li key={index} className={`todo todo-${todo.status}`} data-status={todo.status}>
            <span className="todo-mark" aria-hidden="true">
              {MARK[todo.status] ?? "○"}
            </span>
            <span className="sr-only">{todo.status.replace("_", " ")}: </span>
            <span>{todo.status === "in_progress" && todo.activeForm ? todo.activeForm : todo.content}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
