//! The schema a playground user reads describes every type, field and argument.

use async_graphql::parser::{
    parse_schema,
    types::{TypeKind, TypeSystemDefinition},
};

#[test]
fn every_type_field_and_argument_has_a_description() {
    let sdl = api::graphql::schema_builder().finish().sdl();
    let document = parse_schema(&sdl).expect("the SDL parses");
    let mut missing = Vec::new();
    for definition in &document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = &ty.node;
        let name = ty.name.node.as_str();
        if ty.description.is_none() {
            missing.push(name.to_owned());
        }
        let TypeKind::Object(object) = &ty.kind else {
            continue;
        };
        for field in &object.fields {
            let field = &field.node;
            if field.description.is_none() {
                missing.push(format!("{name}.{}", field.name.node));
            }
            for argument in &field.arguments {
                if argument.node.description.is_none() {
                    missing.push(format!(
                        "{name}.{}({})",
                        field.name.node, argument.node.name.node
                    ));
                }
            }
        }
    }
    assert!(missing.is_empty(), "no description: {missing:?}");
}
