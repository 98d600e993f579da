//! Relations: fields loaded for many objects at once, implemented once for the field's resolver
//! and for lists.

use std::future::Future;

use async_graphql::{Context, Name, ScalarType, ServerResult, Value, registry::Registry};
use futures_util::future::BoxFuture;

use super::{Fields, field_error, shared_error};
use crate::{
    error::{ApiError, ApiResult},
    graphql::lists,
};

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

    /// Their types in the schema, in the order of [`Arguments::NAMES`], registered in
    /// `registry`.
    fn types(registry: &mut Registry) -> Vec<String>;

    /// The arguments of a field looked ahead at (`SelectionField::arguments`); `None` when one
    /// does not parse (the field reports it when it runs).
    fn from_values(values: &[(Name, Value)]) -> Option<Self>;
}

/// A relation without arguments.
impl Arguments for () {
    const NAMES: &'static [&'static str] = &[];

    fn read(_: &Context<'_>) -> ServerResult<Self> {
        Ok(())
    }

    fn types(_: &mut Registry) -> Vec<String> {
        Vec::new()
    }

    fn from_values(_: &[(Name, Value)]) -> Option<Self> {
        Some(())
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

            fn types(registry: &mut ::async_graphql::registry::Registry) -> Vec<String> {
                vec![$(<$ty as ::async_graphql::InputType>::create_type_info(registry)),*]
            }

            fn from_values(
                values: &[(::async_graphql::Name, ::async_graphql::Value)],
            ) -> Option<Self> {
                let value = |name: &str| {
                    values
                        .iter()
                        .find(|(given, _)| given.as_str() == name)
                        .map(|(_, value)| value.clone())
                };
                Some(Self {
                    $($field: <$ty as ::async_graphql::InputType>::parse(value($graphql)).ok()?,)*
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
    /// The outer error is shared by every parent (wrong arguments, a failed statement), the
    /// inner one a parent's own.
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
pub(super) fn resolve_relation<'a, P: Fields, R: Relation<P>>(
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
