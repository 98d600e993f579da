import { type FormEvent, type ReactElement, useState } from "react";
import { useMutation } from "urql";
import { type Problems, problems } from "./errors";
import { graphql } from "./gql";
import { navigate } from "./routes";

const CreateAuthorMutation = graphql(`
  mutation CreateAuthor($input: CreateAuthorInput!) {
    createAuthor(input: $input) {
      id
      name
      bookCount
    }
  }
`);

interface BookDraft {
  title: string;
  year: string;
}

const NO_PROBLEMS: Problems = { fields: {}, general: [] };

/**
 * A new author with any number of books, created in one request (all or nothing). What the user
 * typed is sent as typed: the server checks it, and its messages appear next to the fields.
 */
export function CreateAuthor() {
  const [name, setName] = useState("");
  const [books, setBooks] = useState<BookDraft[]>([{ title: "", year: "" }]);
  const [shown, setShown] = useState<Problems>(NO_PROBLEMS);
  const [{ fetching }, createAuthor] = useMutation(CreateAuthorMutation);

  function setBook(index: number, change: Partial<BookDraft>) {
    setBooks(books.map((book, i) => (i === index ? { ...book, ...change } : book)));
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    const input = {
      name,
      books: books.map((book) => ({
        title: book.title,
        publishedYear: book.year.trim() === "" ? null : Number(book.year),
      })),
    };
    const result = await createAuthor({ input }, { additionalTypenames: ["Author", "Book"] });
    const created = result.data?.createAuthor;
    if (created) {
      setShown(NO_PROBLEMS);
      navigate({ screen: "author", id: created.id });
    } else {
      setShown(problems(result.error));
    }
  }

  return (
    <section aria-labelledby="new-heading">
      <h1 id="new-heading">New author</h1>
      <form onSubmit={(event) => void submit(event)} noValidate>
        {shown.general.map((message) => (
          <p key={message} role="alert" className="error">
            {message}
          </p>
        ))}
        <Field label="Name" id="name" problem={shown.fields["input.name"]}>
          <input id="name" value={name} onChange={(event) => setName(event.target.value)} />
        </Field>
        <fieldset>
          <legend>Books</legend>
          {books.map((book, index) => (
            <div className="book" key={index}>
              <Field label={`Title of book ${index + 1}`} id={`title-${index}`} problem={shown.fields[`input.books[${index}].title`]}>
                <input id={`title-${index}`} value={book.title} onChange={(event) => setBook(index, { title: event.target.value })} />
              </Field>
              <Field label={`Year of book ${index + 1}`} id={`year-${index}`} problem={shown.fields[`input.books[${index}].publishedYear`]}>
                <input
                  id={`year-${index}`}
                  inputMode="numeric"
                  value={book.year}
                  onChange={(event) => setBook(index, { year: event.target.value })}
                />
              </Field>
              <button type="button" onClick={() => setBooks(books.filter((_, i) => i !== index))}>
                Remove book {index + 1}
              </button>
            </div>
          ))}
          <button type="button" onClick={() => setBooks([...books, { title: "", year: "" }])}>
            Add a book
          </button>
        </fieldset>
        <button type="submit" disabled={fetching}>
          Create author
        </button>
      </form>
    </section>
  );
}

function Field(props: { label: string; id: string; problem: string | undefined; children: ReactElement }) {
  const problemId = `${props.id}-problem`;
  return (
    <div className={props.problem ? "field invalid" : "field"}>
      <label htmlFor={props.id}>{props.label}</label>
      {props.children}
      {props.problem && (
        <p id={problemId} className="error" role="alert">
          {props.problem}
        </p>
      )}
    </div>
  );
}
