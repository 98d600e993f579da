import { type FormEvent, useState } from "react";
import { AuthorList } from "./AuthorList";
import { AuthorPage } from "./AuthorPage";
import { CreateAuthor } from "./CreateAuthor";
import { href, useRoute } from "./routes";
import { storeToken, storedToken } from "./token";

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
        <TokenBar />
      </header>
      <main>
        {route.screen === "authors" && <AuthorList />}
        {route.screen === "author" && <AuthorPage key={route.id} id={route.id} />}
        {route.screen === "new" && <CreateAuthor />}
      </main>
    </>
  );
}

/** The bearer token sent with each request (`api token --role writer` makes one). */
function TokenBar() {
  const [saved, setSaved] = useState(storedToken() !== null);
  const [draft, setDraft] = useState("");

  function save(event: FormEvent) {
    event.preventDefault();
    storeToken(draft.trim() || null);
    setSaved(draft.trim() !== "");
    setDraft("");
  }

  if (saved) {
    return (
      <div className="token">
        <span>Signed in with a token</span>
        <button
          type="button"
          onClick={() => {
            storeToken(null);
            setSaved(false);
          }}
        >
          Forget token
        </button>
      </div>
    );
  }
  return (
    <form className="token" onSubmit={save}>
      <label htmlFor="token">Token</label>
      <input
        id="token"
        type="password"
        autoComplete="off"
        placeholder="a bearer token, if the service asks for one"
        value={draft}
        onChange={(event) => setDraft(event.target.value)}
      />
      <button type="submit">Use token</button>
    </form>
  );
}
