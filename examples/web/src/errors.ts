import type { CombinedError } from "urql";

/** What went wrong with a request, as the page shows it. */
export interface Problems {
  /** Messages of BAD_USER_INPUT errors, by the argument path they concern (`input.books[1].title`). */
  fields: Record<string, string>;
  /** Everything else: refusals that concern no single field, and a server that does not answer. */
  general: string[];
}

interface Invalid {
  argument: string;
  message: string;
}

/** Sorts the errors of a urql result into messages per argument path and general messages. */
export function problems(error: CombinedError | undefined): Problems {
  const found: Problems = { fields: {}, general: [] };
  if (!error) return found;
  if (error.networkError) found.general.push(unreachable(error));
  for (const graphQLError of error.graphQLErrors) {
    const extensions = graphQLError.extensions as { code?: string; invalid?: Invalid[] };
    if (extensions.code === "BAD_USER_INPUT" && Array.isArray(extensions.invalid)) {
      for (const { argument, message } of extensions.invalid) found.fields[argument] = message;
    } else if (extensions.code === "UNAUTHENTICATED" || extensions.code === "FORBIDDEN") {
      found.general.push(`${graphQLError.message}: paste a writer's token in the bar above.`);
    } else {
      found.general.push(graphQLError.message);
    }
  }
  return found;
}

/** The message for a request that got no GraphQL answer. */
function unreachable(error: CombinedError): string {
  const status = (error.response as Response | undefined)?.status;
  return status
    ? `The service is not answering (HTTP ${status}). Try again in a moment.`
    : "The service cannot be reached. Check your connection, then try again.";
}

/** One line for a failed read: the general problems, then any field's. */
export function describe(error: CombinedError | undefined): string {
  const { fields, general } = problems(error);
  return [...general, ...Object.values(fields)].join(" ");
}
