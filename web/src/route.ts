import { useEffect, useState } from "react";
import { isEntityId } from "../../src/protocol/id-pattern.ts";

export type Route =
  | { name: "tasks" }
  | { name: "new-task" }
  | { name: "environments" }
  | { name: "repositories" }
  | { name: "task"; id: string }
  | { name: "sandbox"; id: string }
  | { name: "not-found"; path: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/";
  if (path === "/" || path === "/tasks") return { name: "tasks" };
  if (path === "/new") return { name: "new-task" };
  if (path === "/environments") return { name: "environments" };
  if (path === "/repositories") return { name: "repositories" };
  const match = /^\/(tasks|sandboxes)\/([^/]+)\/?$/.exec(path);
  if (match && isEntityId(match[2])) {
    return { name: match[1] === "tasks" ? "task" : "sandbox", id: match[2] };
  }
  return { name: "not-found", path };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}

export function navigate(hash: string): void {
  location.hash = hash;
}
