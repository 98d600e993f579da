//! Fields that copy a column: one reader per column, which the field's resolver and lists both
//! call.

use std::{borrow::Cow, marker::PhantomData};

use async_graphql::{
    ContextSelectionSet, OutputType, Positioned, ServerResult, Value, parser::types::Field,
    registry::Registry,
};

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

/// Reads one column of a `T`.
pub type Read<T> = for<'a> fn(&'a T) -> Column<'a>;

/// A column as its field's resolver gives it: a `T` in the schema, the column's value in the
/// response.
pub struct Typed<'a, T>(Column<'a>, PhantomData<fn() -> T>);

impl<'a, T> Typed<'a, T> {
    /// Column `read` of `object`.
    pub fn of<O>(object: &'a O, read: Read<O>) -> Self {
        Self(read(object), PhantomData)
    }
}

impl<T: OutputType> OutputType for Typed<'_, T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        _: &ContextSelectionSet<'_>,
        _: &Positioned<Field>,
    ) -> ServerResult<Value> {
        Ok(self.0.to_value())
    }
}

#[cfg(test)]
mod tests {
    use super::Column;

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
