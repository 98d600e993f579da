import { type FormEvent, type ReactElement, useRef, useState } from "react";
import { useMutation } from "urql";
import { problems } from "./errors";
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
  /** Stable across removals, so that messages stay with their book. */
  key: number;
  title: string;
  year: string;
}

/** Messages by field: `name`, `book-<key>.title`, `book-<key>.publishedYear`. */
type FieldMessages = Record<string, string>;

const WHOLE_NUMBER = /^\s*-?\d+\s*$/;

/**
 * A new author with any number of books, created in one request (all or nothing). What the user
 * typed is sent as typed, but for a year that is not a whole number: the server checks the rest,
 * and its messages appear next to the fields they concern.
 */
export function CreateAuthor() {
  const nextKey = useRef(1);
  const [name, setName] = useState("");
  const [books, setBooks] = useState<BookDraft[]>([{ key: 0, title: "", year: "" }]);
  const [messages, setMessages] = useState<FieldMessages>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [{ fetching }, createAuthor] = useMutation(CreateAuthorMutation);

  /** Forgets the message of `field` once the user changes it. */
  function edited(field: string) {
    if (!(field in messages)) return;
    const { [field]: _, ...rest } = messages;
    setMessages(rest);
  }

  function setBook(key: number, change: Partial<BookDraft>) {
    setBooks(books.map((book) => (book.key === key ? { ...book, ...change } : book)));
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    const local: FieldMessages = {};
    for (const book of books) {
      if (book.year.trim() !== "" && !WHOLE_NUMBER.test(book.year)) {
        local[`book-${book.key}.publishedYear`] = "The year must be a whole number, such as 1969 or -450.";
      }
    }
    if (Object.keys(local).length > 0) {
      setMessages(local);
      setGeneral([]);
      return;
    }
    const submitted = books.map((book) => book.key);
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
      navigate({ screen: "author", id: created.id });
      return;
    }
    // The server names fields by their path in the input; the form, by the draft they belong to.
    const found = problems(result.error);
    const byField: FieldMessages = {};
    const unplaced = [...found.general];
    for (const [argument, message] of Object.entries(found.fields)) {
      const book = /^input\.books\[(\d+)\]\.(title|publishedYear)$/.exec(argument);
      const key = book ? submitted[Number(book[1])] : undefined;
      if (argument === "input.name") byField.name = message;
      else if (book && key !== undefined) byField[`book-${key}.${book[2]}`] = message;
      else unplaced.push(message);
    }
    setMessages(byField);
    setGeneral(unplaced);
  }

  return (
    <section aria-labelledby="new-heading">
      <h1 id="new-heading">New author</h1>
      <form onSubmit={(event) => void submit(event)} noValidate>
        {general.map((message) => (
          <p key={message} role="alert" className="error">
            {message}
          </p>
        ))}
        <Field label="Name" id="name" problem={messages.name}>
          {(attributes) => (
            <input
              {...attributes}
              value={name}
              onChange={(event) => {
                setName(event.target.value);
                edited("name");
              }}
            />
          )}
        </Field>
        <fieldset>
          <legend>Books</legend>
          {books.map((book, index) => (
            <div className="book" key={book.key}>
              <Field
                label={`Title of book ${index + 1}`}
                id={`title-${book.key}`}
                problem={messages[`book-${book.key}.title`]}
              >
                {(attributes) => (
                  <input
                    {...attributes}
                    value={book.title}
                    onChange={(event) => {
                      setBook(book.key, { title: event.target.value });
                      edited(`book-${book.key}.title`);
                    }}
                  />
                )}
              </Field>
              <Field
                label={`Year of book ${index + 1}`}
                id={`year-${book.key}`}
                problem={messages[`book-${book.key}.publishedYear`]}
              >
                {(attributes) => (
                  <input
                    {...attributes}
                    inputMode="numeric"
                    value={book.year}
                    onChange={(event) => {
                      setBook(book.key, { year: event.target.value });
                      edited(`book-${book.key}.publishedYear`);
                    }}
                  />
                )}
              </Field>
              <button type="button" onClick={() => setBooks(books.filter((other) => other.key !== book.key))}>
                Remove book {index + 1}
              </button>
            </div>
          ))}
          <button
            type="button"
            onClick={() => setBooks([...books, { key: nextKey.current++, title: "", year: "" }])}
          >
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

/** What ties an input to its label and to the message about it. */
interface InputAttributes {
  id: string;
  "aria-invalid"?: boolean;
  "aria-describedby"?: string;
}

/** A labelled input with the message about it, which assistive technology reads with the input. */
function Field(props: {
  label: string;
  id: string;
  problem: string | undefined;
  children: (attributes: InputAttributes) => ReactElement;
}) {
  const problemId = `${props.id}-problem`;
  const attributes: InputAttributes = props.problem
    ? { id: props.id, "aria-invalid": true, "aria-describedby": problemId }
    : { id: props.id };
  return (
    <div className={props.problem ? "field invalid" : "field"}>
      <label htmlFor={props.id}>{props.label}</label>
      {props.children(attributes)}
      {props.problem && (
        <p id={problemId} className="error">
          {props.problem}
        </p>
      )}
    </div>
  );
}
