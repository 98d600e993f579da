import { useEffect, useState } from "react";

/** The screens, addressed by the URL's fragment so that any static server can host the app. */
export type Route = { screen: "authors" } | { screen: "author"; id: string } | { screen: "new" };

export function parseRoute(hash: string): Route {
  const author = /^#\/authors\/(\d+)$/.exec(hash);
  if (author?.[1]) return { screen: "author", id: author[1] };
  if (hash === "#/new") return { screen: "new" };
  return { screen: "authors" };
}

export function href(route: Route): string {
  switch (route.screen) {
    case "authors":
      return "#/";
    case "author":
      return `#/authors/${route.id}`;
    case "new":
      return "#/new";
  }
}

export function navigate(route: Route): void {
  window.location.hash = href(route);
}

/** The current route, following the URL's fragment. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const follow = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", follow);
    return () => window.removeEventListener("hashchange", follow);
  }, []);
  return route;
}
