//! One description per field of the types lists come in (`Author`, `Book`, their connections):
//! how [`lists`](super::lists) resolves the field for every object of a list at once.
//!
//! A field is one of:
//! - a **column**: a copy of a model's value, no argument, no I/O, no error;
//! - a **relation** ([`Relation`]): loaded for many objects at once. Its arguments are declared
//!   once with [`arguments!`]; its resolver calls [`Relation::one`] and lists call the same
//!   [`Relation::load`] with every object, so there is one implementation of each relation;
//! - **batched**: resolved for every object at once by a function of its own (a connection's
//!   `nodes`, the items of all connections as one list);
//! - **by its resolver**: each object through the field's `#[Object]` resolver, as
//!   async-graphql's executor calls it (`edges`, `pageInfo`).
//!
//! `tests/tests/api/fields.rs` walks the schema registry and fails when a field or an argument of
//! these types is missing from their [`Fields::FIELDS`], or declared there and not in the schema.

use std::future::Future;

use async_graphql::{
    ContainerType, Context, OutputType, ScalarType, ServerError, ServerResult, Value,
};
use futures_util::future::{BoxFuture, join_all};

use super::lists;
use crate::error::{ApiError, ApiResult};

/// The value of a field that copies a column, borrowed from its object.
pub enum Column<'a> {
    /// An `ID`, from an integer key.
    Id(i64),
    /// A `String`.
    Text(&'a str),
    /// An `Int` that may be null.
    Int(Option<i32>),
}

impl Column<'_> {
    /// The value the field's resolver gives.
    pub fn to_value(&self) -> Value {
        match *self {
            Self::Id(id) => Value::String(id.to_string()),
            Self::Text(text) => Value::String(text.to_owned()),
            Self::Int(int) => int.map_or(Value::Null, Value::from),
        }
    }

    /// Writes the JSON of [`Column::to_value`] to `json`, as `serde_json` writes it.
    pub fn write_json(&self, json: &mut Vec<u8>) -> serde_json::Result<()> {
        match *self {
            Self::Id(id) => {
                json.push(b'"');
                json.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
                json.push(b'"');
            }
            Self::Text(text) => serde_json::to_writer(json, text)?,
            Self::Int(Some(int)) => {
                json.extend_from_slice(itoa::Buffer::new().format(int).as_bytes())
            }
            Self::Int(None) => json.extend_from_slice(b"null"),
        }
        Ok(())
    }
}

/// Resolves a field for every object of a list: object `i` at field context `at[i]`. One result
/// per object, an error with its path set, as the field's resolver and async-graphql would give.
pub type ResolveAll<T> =
    for<'a> fn(&'a [&'a T], &'a [Context<'a>]) -> BoxFuture<'a, Vec<ServerResult<Value>>>;

/// How lists resolve one field of `T`.
pub enum Resolve<T> {
    /// A copy of a column.
    Column(fn(&T) -> Column<'_>),
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
    /// How lists resolve it.
    pub resolve: Resolve<T>,
}

impl<T: Fields> Field<T> {
    /// A field that copies a column.
    pub const fn column(name: &'static str, read: fn(&T) -> Column<'_>) -> Self {
        Self {
            name,
            arguments: &[],
            resolve: Resolve::Column(read),
        }
    }

    /// A field that loads `R` for every object at once.
    pub const fn relation<R: Relation<T>>(name: &'static str) -> Self {
        Self {
            name,
            arguments: R::Args::NAMES,
            resolve: Resolve::All(resolve_relation::<T, R>),
        }
    }

    /// A field resolved for every object at once by `resolve`.
    pub const fn batched(name: &'static str, resolve: ResolveAll<T>) -> Self {
        Self {
            name,
            arguments: &[],
            resolve: Resolve::All(resolve),
        }
    }

    /// A field resolved object by object by its resolver.
    pub const fn resolver(name: &'static str, arguments: &'static [&'static str]) -> Self {
        Self {
            name,
            arguments,
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

/// The arguments of a relation, declared once by [`arguments!`]: the struct its resolver fills
/// from its parameters, and how lists read them from a field.
pub trait Arguments: Sized + Send {
    /// Their names in the schema.
    const NAMES: &'static [&'static str];

    /// The arguments of field context `ctx`, parsed as its resolver's parameters are.
    ///
    /// # Errors
    /// When a value does not parse, as async-graphql reports it.
    fn read(ctx: &Context<'_>) -> ServerResult<Self>;
}

/// A relation without arguments.
impl Arguments for () {
    const NAMES: &'static [&'static str] = &[];

    fn read(_: &Context<'_>) -> ServerResult<Self> {
        Ok(())
    }
}

/// Declares the arguments of a relation: a struct with one field per argument, each with its
/// name in the schema, and their [`Arguments`] impl.
macro_rules! arguments {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$field_meta:meta])* $field:ident: $ty:ty = $graphql:literal,)*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl $crate::graphql::fields::Arguments for $name {
            const NAMES: &'static [&'static str] = &[$($graphql),*];

            fn read(ctx: &::async_graphql::Context<'_>) -> ::async_graphql::ServerResult<Self> {
                Ok(Self {
                    $($field: ctx.param_value($graphql, None)?.1,)*
                })
            }
        }
    };
}
pub(crate) use arguments;

/// A field of `P` that loads related data: one implementation, called by the field's resolver
/// for one object ([`Relation::one`]) and by lists for all the objects of a list at once.
pub trait Relation<P>: 'static {
    /// The field's arguments.
    type Args: Arguments;
    /// What the field gives for one object.
    type Output: Output;

    /// The field for each of `parents`, in order, in field context `ctx` (which they share).
    /// The outer error is the whole load's (a statement failed), the inner one a parent's.
    fn load<'a>(
        ctx: &'a Context<'a>,
        args: Self::Args,
        parents: &'a [&'a P],
    ) -> impl Future<Output = ApiResult<Vec<ApiResult<Self::Output>>>> + Send + 'a;

    /// The field of `parent`, for its resolver.
    fn one<'a>(
        ctx: &'a Context<'a>,
        args: Self::Args,
        parent: &'a P,
    ) -> impl Future<Output = ApiResult<Self::Output>> + Send + 'a
    where
        P: Sync,
    {
        async move {
            let parents = [parent];
            let outputs = Self::load(ctx, args, &parents).await?;
            outputs
                .into_iter()
                .next()
                .unwrap_or_else(|| Err(ApiError::internal("a relation gave no value")))
        }
    }
}

/// What a relation gives for one object, resolved for every object of a list at once.
pub trait Output: Send + Sync + Sized {
    /// The values of `outputs`, output `i` at field context `at[i]`.
    fn resolve_all<'a>(
        outputs: &'a [&'a Self],
        at: &'a [Context<'a>],
    ) -> BoxFuture<'a, Vec<ServerResult<Value>>>;
}

/// A number: its value.
impl Output for u64 {
    fn resolve_all<'a>(
        outputs: &'a [&'a Self],
        _: &'a [Context<'a>],
    ) -> BoxFuture<'a, Vec<ServerResult<Value>>> {
        Box::pin(async move {
            outputs
                .iter()
                .map(|count| Ok(ScalarType::to_value(*count)))
                .collect()
        })
    }
}

/// An object: its fields, resolved a field at a time.
impl<T: Fields> Output for T {
    fn resolve_all<'a>(
        outputs: &'a [&'a Self],
        at: &'a [Context<'a>],
    ) -> BoxFuture<'a, Vec<ServerResult<Value>>> {
        Box::pin(async move {
            let Some(first) = at.first() else {
                return Vec::new();
            };
            let object_at: Vec<_> = at
                .iter()
                .map(|ctx| ctx.with_selection_set(&ctx.item.node.selection_set))
                .collect();
            lists::objects(outputs, &object_at, first.item).await
        })
    }
}

/// Relation `R` for every object of `parents`: its arguments read once, one load, then the
/// outputs resolved together.
fn resolve_relation<'a, P: Fields, R: Relation<P>>(
    parents: &'a [&'a P],
    at: &'a [Context<'a>],
) -> BoxFuture<'a, Vec<ServerResult<Value>>> {
    Box::pin(async move {
        let Some(first) = at.first() else {
            return Vec::new();
        };
        // The arguments are the same for every object: read them once, as the first object's
        // resolver would, and give every object the same error if they are wrong.
        let args = match R::Args::read(first) {
            Ok(args) => args,
            Err(error) => return shared_error(at, error),
        };
        let outputs = match R::load(first, args, parents).await {
            Ok(outputs) => outputs,
            Err(error) => return shared_error(at, field_error(first, error)),
        };
        let present: Vec<&R::Output> = outputs.iter().flatten().collect();
        let present_at: Vec<Context<'_>> = outputs
            .iter()
            .zip(at)
            .filter(|(output, _)| output.is_ok())
            .map(|(_, ctx)| ctx.clone())
            .collect();
        let mut values = R::Output::resolve_all(&present, &present_at)
            .await
            .into_iter();
        outputs
            .iter()
            .zip(at)
            .map(|(output, ctx)| match output {
                Ok(_) => values.next().unwrap_or(Ok(Value::Null)),
                Err(error) => Err(field_error(ctx, error.clone())),
            })
            .collect()
    })
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

    use async_graphql::registry::Registry;

    use super::{Column, Fields};
    use crate::graphql::{author::Author, book::Book, connection::Connection};

    /// Each field of `T` and its sorted arguments.
    type Shape = BTreeMap<String, Vec<String>>;

    /// `T`'s fields and arguments as the schema registers them.
    fn in_schema<T: Fields>() -> Shape {
        let mut registry = Registry::default();
        T::create_type_info(&mut registry);
        let fields = registry.types[T::type_name().as_ref()]
            .fields()
            .expect("an object type");
        fields
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

    /// Every field and argument lists resolve is the schema's, and every one of the schema is
    /// known to lists: a field or argument added to a resolver and not to its type's `FIELDS`
    /// (or its relation's `arguments!`) fails here.
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
        // The comparison sees arguments.
        assert_eq!(
            in_schema::<Author>()["books"],
            ["after", "filter", "first", "orderBy"]
        );
    }

    #[test]
    fn columns_write_the_json_of_their_values() {
        let columns = [
            Column::Id(0),
            Column::Id(i64::MAX),
            Column::Id(-7),
            Column::Text(""),
            Column::Text("quote \" backslash \\ newline \n tab \t nul \u{0} del \u{7f} é 😀"),
            Column::Int(None),
            Column::Int(Some(i32::MIN)),
            Column::Int(Some(1925)),
        ];
        for column in columns {
            let mut json = Vec::new();
            column.write_json(&mut json).unwrap();
            assert_eq!(json, serde_json::to_vec(&column.to_value()).unwrap());
        }
    }
}
