import { DemoBanner } from "./components/demo-banner.tsx";
import { NotificationButton } from "./components/notifications.tsx";
import { EnvironmentsPage } from "./environments/environments-page.tsx";
import { TaskFeedProvider } from "./live/task-feed.tsx";
import { RepositoriesPage } from "./repositories/repositories-page.tsx";
import { type Route, useRoute } from "./route.ts";
import { SessionPage } from "./session/session-page.tsx";
import { NewTaskPage } from "./tasks/new-task-form.tsx";
import { TaskListPage } from "./tasks/task-list-page.tsx";

export function App() {
  const route = useRoute();
  return (
    <TaskFeedProvider>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <a className="brand" href="#/" aria-label="Omoi home">
          <span className="brand-mark" aria-hidden="true" />
          <span className="brand-name">Omoi</span>
        </a>
        <nav className="topnav" aria-label="Main">
          <a href="#/" aria-current={route.name === "tasks" ? "page" : undefined}>
            Tasks
          </a>
          <a
            href="#/environments"
            data-testid="environments-link"
            aria-current={route.name === "environments" ? "page" : undefined}
          >
            Environments
          </a>
          <a
            href="#/repositories"
            data-testid="repositories-link"
            aria-current={route.name === "repositories" ? "page" : undefined}
          >
            Repositories
          </a>
          <a
            href="#/new"
            className="button primary small"
            data-testid="new-task-link"
            aria-current={route.name === "new-task" ? "page" : undefined}
          >
            New task
          </a>
          <NotificationButton />
        </nav>
      </header>
      <DemoBanner />
      <main id="main" className="main">
        <Page route={route} />
      </main>
    </TaskFeedProvider>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.name) {
    case "tasks":
      return <TaskListPage />;
    case "new-task":
      return <NewTaskPage />;
    case "environments":
      return <EnvironmentsPage />;
    case "repositories":
      return <RepositoriesPage />;
    case "task":
      return <SessionPage key={`task:${route.id}`} target={{ kind: "task", id: route.id }} />;
    case "sandbox":
      return <SessionPage key={`sandbox:${route.id}`} target={{ kind: "sandbox", id: route.id }} />;
    default:
      return (
        <div className="empty" data-testid="not-found">
          <h1>Nothing here</h1>
          <p>
            No page at <code>{route.path}</code>. <a href="#/">Back to tasks</a>
          </p>
        </div>
      );
  }
}
