//! One description per field of the types lists come in (`Author`, `Book`, their connections):
//! how [`lists`](super::lists) resolves the field for every object of a list at once.
//!
//! A field is one of:
//! - a **column** ([`Column`]): a copy of a model's value, no argument, no I/O, no error, read
//!   by one function that the field's resolver (through [`Typed`]) and lists both call;
//! - a **relation** ([`Relation`]): loaded for many objects at once. Its arguments are declared
//!   once with [`arguments!`]; its resolver calls [`Relation::one`] and lists call the same
//!   [`Relation::load`] with every object, so there is one implementation of each relation;
//! - **batched**: resolved for every object at once by a function of its own (a connection's
//!   `nodes`, the items of all connections as one list);
//! - **by its resolver**: each object through the field's `#[Object]` resolver, as
//!   async-graphql's executor calls it (`edges`, `pageInfo`).
//!
//! A test below walks the schema registry and fails when a field or an argument of these types is
//! missing from their [`Fields::FIELDS`], or declared there and not in the schema;
//! `tests/tests/api/fields.rs` compares both ways of resolving them on generated queries.

mod column;
mod relation;

use async_graphql::{
    ContainerType, Context, OutputType, ServerError, ServerResult, Value, registry::Registry,
};
use futures_util::future::{BoxFuture, join_all};

pub(crate) use self::relation::arguments;
use self::relation::resolve_relation;
pub use self::{
    column::{Column, Read, Typed},
    relation::{Arguments, Relation},
};

/// Resolves a field for every object of a list: object `i` at field context `at[i]`. One result
/// per object, an error with its path set, as the field's resolver and async-graphql would give.
pub type ResolveAll<T> =
    for<'a> fn(&'a [&'a T], &'a [Context<'a>]) -> BoxFuture<'a, Vec<ServerResult<Value>>>;

/// How lists resolve one field of `T`.
pub enum Resolve<T> {
    /// A copy of a column.
    Column(Read<T>),
    /// For every object at once.
    All(ResolveAll<T>),
    /// Object by object, by the field's resolver.
    Resolver,
}

/// One field of `T`: its name and arguments in the schema, and how lists resolve it.
pub struct Field<T> {
    /// The field's name in the schema.
    pub name: &'static str,
    /// The names of its arguments.
    pub arguments: &'static [&'static str],
    /// The types of the arguments that lists read ([`Arguments::types`]); `None` where the
    /// field's resolver reads them. Checked against the schema by the test below.
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the registry test"))]
    pub argument_types: Option<fn(&mut Registry) -> Vec<String>>,
    /// How lists resolve it.
    pub resolve: Resolve<T>,
}

impl<T: Fields> Field<T> {
    /// A field that copies a column.
    pub const fn column(name: &'static str, read: Read<T>) -> Self {
        Self {
            name,
            arguments: &[],
            argument_types: None,
            resolve: Resolve::Column(read),
        }
    }

    /// A field that loads `R` for every object at once.
    pub const fn relation<R: Relation<T>>(name: &'static str) -> Self {
        Self {
            name,
            arguments: R::Args::NAMES,
            argument_types: Some(R::Args::types),
            resolve: Resolve::All(resolve_relation::<T, R>),
        }
    }

    /// A field resolved for every object at once by `resolve`.
    pub const fn batched(name: &'static str, resolve: ResolveAll<T>) -> Self {
        Self {
            name,
            arguments: &[],
            argument_types: None,
            resolve: Resolve::All(resolve),
        }
    }

    /// A field resolved object by object by its resolver.
    pub const fn resolver(name: &'static str, arguments: &'static [&'static str]) -> Self {
        Self {
            name,
            arguments,
            argument_types: None,
            resolve: Resolve::Resolver,
        }
    }
}

/// A GraphQL object type whose fields lists resolve a field at a time.
pub trait Fields: OutputType + ContainerType + Sized + Sync + 'static {
    /// Every field of the type, each once.
    const FIELDS: &'static [Field<Self>];

    /// The field named `name`.
    fn field(name: &str) -> Option<&'static Field<Self>> {
        Self::FIELDS.iter().find(|field| field.name == name)
    }
}

/// Field `at[i]` of `objects[i]` by its resolver, as async-graphql's executor calls it.
pub fn by_resolver<'a, T: Fields>(
    objects: &'a [&'a T],
    at: &'a [Context<'a>],
) -> BoxFuture<'a, Vec<ServerResult<Value>>> {
    Box::pin(join_all(objects.iter().zip(at).map(
        |(object, ctx)| async move { Ok(object.resolve_field(ctx).await?.unwrap_or_default()) },
    )))
}

/// `error` as async-graphql reports a resolver's error in field context `ctx`.
pub fn field_error(ctx: &Context<'_>, error: impl Into<async_graphql::Error>) -> ServerError {
    ctx.set_error_path(error.into().into_server_error(ctx.item.pos))
}

/// One error shared by every field context of `at`, each with its own path, as each resolver
/// would have reported it.
pub fn shared_error(at: &[Context<'_>], error: ServerError) -> Vec<ServerResult<Value>> {
    at.iter()
        .map(|ctx| Err(ctx.set_error_path(error.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use async_graphql::{
        indexmap::IndexMap,
        registry::{MetaField, Registry},
    };

    use super::Fields;
    use crate::graphql::{author::Author, book::Book, connection::Connection};

    /// Each field of a type and its sorted arguments.
    type Shape = BTreeMap<String, Vec<String>>;

    /// `T`'s fields as the schema registers them.
    fn registered<T: Fields>(registry: &mut Registry) -> IndexMap<String, MetaField> {
        T::create_type_info(registry);
        registry.types[T::type_name().as_ref()]
            .fields()
            .expect("an object type")
            .clone()
    }

    /// `T`'s fields and arguments as the schema registers them.
    fn in_schema<T: Fields>() -> Shape {
        registered::<T>(&mut Registry::default())
            .values()
            .map(|field| {
                let mut arguments: Vec<_> = field.args.keys().cloned().collect();
                arguments.sort();
                (field.name.clone(), arguments)
            })
            .collect()
    }

    /// `T`'s fields and arguments as its [`Fields::FIELDS`] declares them.
    fn declared<T: Fields>() -> Shape {
        let mut shape = Shape::new();
        for field in T::FIELDS {
            let mut arguments: Vec<_> = field.arguments.iter().map(|a| (*a).to_owned()).collect();
            arguments.sort();
            let again = shape.insert(field.name.to_owned(), arguments);
            assert!(again.is_none(), "{} declared twice", field.name);
        }
        shape
    }

    /// The arguments that lists read have the types the schema gives them, and no default
    /// value (lists read an absent argument as absent).
    fn same_argument_types<T: Fields>() {
        let mut registry = Registry::default();
        let fields = registered::<T>(&mut registry);
        for field in T::FIELDS {
            let Some(types) = field.argument_types else {
                continue;
            };
            let in_schema = &fields[field.name].args;
            for (name, ty) in field.arguments.iter().zip(types(&mut registry)) {
                let argument = &in_schema[*name];
                assert_eq!(argument.ty, ty, "the type of {}({name})", field.name);
                assert!(
                    argument.default_value.is_none(),
                    "{}({name}) has a default value, which lists would not apply",
                    field.name
                );
            }
        }
    }

    /// Every field and argument lists resolve is the schema's, and every one of the schema is
    /// known to lists: a field or argument added to a resolver and not to its type's `FIELDS`
    /// (or its relation's `arguments!`) fails here, as does an argument whose type or default
    /// differs.
    #[test]
    fn lists_know_every_field_and_argument_of_the_schema() {
        let shapes = [
            ("Author", in_schema::<Author>(), declared::<Author>()),
            ("Book", in_schema::<Book>(), declared::<Book>()),
            (
                "AuthorConnection",
                in_schema::<Connection<Author>>(),
                declared::<Connection<Author>>(),
            ),
            (
                "BookConnection",
                in_schema::<Connection<Book>>(),
                declared::<Connection<Book>>(),
            ),
        ];
        for (name, schema, declared) in shapes {
            assert!(!schema.is_empty(), "{name} has fields");
            assert_eq!(
                declared, schema,
                "the fields of {name}: declared, then in the schema"
            );
        }
        same_argument_types::<Author>();
        same_argument_types::<Book>();
        same_argument_types::<Connection<Author>>();
        same_argument_types::<Connection<Book>>();
        // The comparisons see arguments and their types.
        assert_eq!(
            in_schema::<Author>()["books"],
            ["after", "filter", "first", "orderBy"]
        );
        let mut registry = Registry::default();
        assert_eq!(
            registered::<Author>(&mut registry)["books"].args["orderBy"].ty,
            "[BookOrder!]"
        );
    }
}
