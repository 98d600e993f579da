//! The authors-and-books GraphQL service. Its layers, each using only those below it: [`app`],
//! [`http`], [`ws`], [`auth`], [`playground`], [`config`], [`db`] and [`metrics`] (the
//! application) → [`graphql`] → [`live`] → [`store`], with [`domain`] and [`error`] shared by all.

/// The application state, router and server loop.
pub mod app;
/// Who may do what: bearer tokens, roles and the mutation rate limit.
pub mod auth;
/// Command-line flags and environment variables.
pub mod config;
/// Connecting, counting statements, migrating.
pub mod db;
/// Validated input values: names, titles, years.
pub mod domain;
/// The one error type and its conversion to GraphQL errors.
pub mod error;
/// The GraphQL schema, its types, loaders and limits.
pub mod graphql;
/// GraphQL over HTTP and the health checks.
pub mod http;
/// Live updates: the changes of committed writes, fanned out to every instance.
pub mod live;
/// Prometheus metrics.
pub mod metrics;
/// GraphiQL, served by the binary alone.
pub mod playground;
/// Read replicas: which pool a request reads from.
pub mod replicas;
/// Demo data.
pub mod seed;
/// All SQL: keyset pages, filters, the per-author pages of many authors, counts, inserts.
pub mod store;
/// Logging.
pub mod telemetry;
/// GraphQL over WebSocket (graphql-transport-ws) and its limits.
pub mod ws;
