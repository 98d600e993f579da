import { useState } from "react";
import { useQuery } from "urql";
import { BookLine } from "./BookLine";
import { describe } from "./errors";
import { graphql } from "./gql";

const PAGE_SIZE = 5;

const AuthorSummary = graphql(`
  query AuthorSummary($id: ID!) {
    author(id: $id) {
      id
      name
      bookCount
    }
  }
`);

const AuthorBooks = graphql(`
  query AuthorBooks($id: ID!, $first: Int!, $after: String) {
    author(id: $id) {
      id
      books(first: $first, after: $after) {
        nodes {
          ...BookLine
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`);

/** One author, with their books a page at a time ("Load more" follows the nested cursor). */
export function AuthorPage({ id }: { id: string }) {
  const [{ data, error }] = useQuery({ query: AuthorSummary, variables: { id } });
  // Each loaded page is its own query, keyed by the cursor it starts after.
  const [pages, setPages] = useState<(string | null)[]>([null]);

  if (error && !data)
    return (
      <p role="alert" className="error">
        {describe(error)}
      </p>
    );
  if (!data) return <p>Loading…</p>;
  if (!data.author)
    return (
      <p role="alert" className="error">
        There is no author with ID {id}.
      </p>
    );
  const { author } = data;
  return (
    <section aria-labelledby="author-heading">
      <h1 id="author-heading">{author.name}</h1>
      <p className="count">
        {author.bookCount} {author.bookCount === 1 ? "book" : "books"}
      </p>
      <ol className="books">
        {pages.map((after, index) => (
          <BooksPage
            key={after ?? "first"}
            id={id}
            after={after}
            last={index === pages.length - 1}
            onMore={(cursor) => setPages([...pages, cursor])}
          />
        ))}
      </ol>
    </section>
  );
}

function BooksPage(props: {
  id: string;
  after: string | null;
  last: boolean;
  onMore: (cursor: string) => void;
}) {
  const [{ data, error, fetching }] = useQuery({
    query: AuthorBooks,
    variables: { id: props.id, first: PAGE_SIZE, after: props.after },
  });
  const books = data?.author?.books;
  return (
    <>
      {books?.nodes.map((book) => (
        <li key={book.id} data-testid="book">
          <BookLine book={book} />
        </li>
      ))}
      {error && (
        <li role="alert" className="error">
          {describe(error)}
        </li>
      )}
      {props.last && fetching && !books && <li>Loading…</li>}
      {props.last && books?.pageInfo.hasNextPage && books.pageInfo.endCursor && (
        <li className="more">
          <button type="button" onClick={() => props.onMore(books.pageInfo.endCursor as string)}>
            Load more
          </button>
        </li>
      )}
    </>
  );
}
