import { graphql } from "./gql";

/** What every screen shows of a book. */
export const BookLineFields = graphql(`
  fragment BookLine on Book {
    id
    title
    publishedYear
  }
`);

/** A book as one line: its title, and its year in brackets when it has one. */
export function BookLine({ book }: { book: { title: string; publishedYear?: number | null } }) {
  return (
    <>
      {book.title}
      {book.publishedYear !== null && book.publishedYear !== undefined && ` (${book.publishedYear})`}
    </>
  );
}
