import { AuthorList } from "./AuthorList";
import { AuthorPage } from "./AuthorPage";
import { CreateAuthor } from "./CreateAuthor";
import { href, useRoute } from "./routes";

export function App() {
  const route = useRoute();
  return (
    <>
      <header>
        <a href={href({ screen: "authors" })} className="brand">
          Authors and books
        </a>
        <nav>
          <a href={href({ screen: "authors" })}>Authors</a>
          <a href={href({ screen: "new" })}>New author</a>
        </nav>
      </header>
      <main>
        {route.screen === "authors" && <AuthorList />}
        {route.screen === "author" && <AuthorPage key={route.id} id={route.id} />}
        {route.screen === "new" && <CreateAuthor />}
      </main>
    </>
  );
}
