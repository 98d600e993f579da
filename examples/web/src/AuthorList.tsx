import { useEffect, useState } from "react";
import { useMutation, useQuery } from "urql";
import { BookLine } from "./BookLine";
import { describe } from "./errors";
import { graphql } from "./gql";
import { href } from "./routes";

const PAGE_SIZE = 10;

const AuthorsPage = graphql(`
  query AuthorsPage($first: Int!, $after: String) {
    authors(first: $first, after: $after) {
      totalCount
      nodes {
        id
        name
        bookCount
        books(first: 3) {
          nodes {
            ...BookLine
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const DeleteAuthor = graphql(`
  mutation DeleteAuthor($id: ID!) {
    deleteAuthor(id: $id) {
      deletedAuthorId
      deletedBookIds
    }
  }
`);

/** Authors, a page at a time, each with their first three books. */
export function AuthorList() {
  // The cursors of the pages before this one, so that "Previous page" can go back.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1] ?? null;
  const [{ data, error, fetching, operation }] = useQuery({
    query: AuthorsPage,
    variables: { first: PAGE_SIZE, after },
  });
  const [deletion, deleteAuthor] = useMutation(DeleteAuthor);
  const [notice, setNotice] = useState<{ text: string; failed: boolean } | null>(null);

  async function remove(id: string, name: string, bookCount: number) {
    if (!window.confirm(`Delete ${name} and their ${bookCount} ${bookCount === 1 ? "book" : "books"}?`))
      return;
    // The payload names no Author, so tell the cache which lists the deletion changes.
    const result = await deleteAuthor({ id }, { additionalTypenames: ["Author", "Book"] });
    const deleted = result.data?.deleteAuthor;
    const books = deleted?.deletedBookIds.length ?? 0;
    setNotice(
      deleted
        ? { text: `Deleted ${name} and ${books} ${books === 1 ? "book" : "books"}.`, failed: false }
        : { text: `Could not delete ${name}: ${describe(result.error)}`, failed: true },
    );
  }

  // While another page loads, urql still holds the last one: show it only for its own cursor.
  const authors = operation?.variables.after === after ? data?.authors : undefined;

  // A page emptied by deletions gives way to the one before it.
  const emptied = authors?.nodes.length === 0 && cursors.length > 1;
  useEffect(() => {
    if (emptied) setCursors((stack) => stack.slice(0, -1));
  }, [emptied]);
  return (
    <section aria-labelledby="authors-heading">
      <h1 id="authors-heading">Authors</h1>
      {notice && (
        <p role={notice.failed ? "alert" : "status"} className={notice.failed ? "error" : "notice"}>
          {notice.text}
        </p>
      )}
      {error && !authors && (
        <p role="alert" className="error">
          {describe(error)}
        </p>
      )}
      {!authors && !error && fetching && <p>Loading…</p>}
      {authors && (
        <>
          <p className="count">
            {authors.totalCount} {authors.totalCount === 1 ? "author" : "authors"}, page {cursors.length}
          </p>
          <ul className="authors">
            {authors.nodes.map((author) => (
              <li key={author.id} data-testid="author">
                <div className="row">
                  <a href={href({ screen: "author", id: author.id })}>{author.name}</a>
                  <span className="count">
                    {author.bookCount} {author.bookCount === 1 ? "book" : "books"}
                  </span>
                  <button
                    type="button"
                    className="danger"
                    disabled={deletion.fetching}
                    onClick={() => void remove(author.id, author.name, author.bookCount)}
                  >
                    Delete
                  </button>
                </div>
                <ul className="books">
                  {author.books.nodes.map((book) => (
                    <li key={book.id}>
                      <BookLine book={book} />
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
          <div className="pager">
            <button
              type="button"
              disabled={cursors.length === 1}
              onClick={() => setCursors(cursors.slice(0, -1))}
            >
              Previous page
            </button>
            <button
              type="button"
              disabled={!authors.pageInfo.hasNextPage}
              onClick={() => setCursors([...cursors, authors.pageInfo.endCursor ?? null])}
            >
              Next page
            </button>
          </div>
          {error && (
            <p role="alert" className="error">
              {describe(error)}
            </p>
          )}
        </>
      )}
    </section>
  );
}
