//! Checks argument values against a function's parameter types before the
//! call, so that a wrong argument is reported as bad input with a path to
//! the offending value, never as an error from inside wasmtime.

use wasmtime::component::{Type, Val};

/// A short name of a type, for messages.
pub fn type_name(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(l) => format!("list<{}>", type_name(&l.ty())),
        Type::FixedLengthList(l) => format!("list<{}, {}>", type_name(&l.ty()), l.len()),
        Type::Map(m) => format!("map<{}, {}>", type_name(&m.key()), type_name(&m.value())),
        Type::Record(_) => "record".into(),
        Type::Tuple(t) => {
            let items: Vec<String> = t.types().map(|t| type_name(&t)).collect();
            format!("tuple<{}>", items.join(", "))
        }
        Type::Variant(_) => "variant".into(),
        Type::Enum(_) => "enum".into(),
        Type::Option(o) => format!("option<{}>", type_name(&o.ty())),
        Type::Result(_) => "result".into(),
        Type::Flags(_) => "flags".into(),
        Type::Own(_) => "own<resource>".into(),
        Type::Borrow(_) => "borrow<resource>".into(),
        Type::Future(_) => "future".into(),
        Type::Stream(_) => "stream".into(),
        Type::ErrorContext => "error-context".into(),
    }
}

fn val_name(val: &Val) -> &'static str {
    match val {
        Val::Bool(_) => "bool",
        Val::S8(_) => "s8",
        Val::U8(_) => "u8",
        Val::S16(_) => "s16",
        Val::U16(_) => "u16",
        Val::S32(_) => "s32",
        Val::U32(_) => "u32",
        Val::S64(_) => "s64",
        Val::U64(_) => "u64",
        Val::Float32(_) => "f32",
        Val::Float64(_) => "f64",
        Val::Char(_) => "char",
        Val::String(_) => "string",
        Val::List(_) | Val::FixedLengthList(_) => "list",
        Val::Map(_) => "map",
        Val::Record(_) => "record",
        Val::Tuple(_) => "tuple",
        Val::Variant(..) => "variant",
        Val::Enum(_) => "enum",
        Val::Option(_) => "option",
        Val::Result(_) => "result",
        Val::Flags(_) => "flags",
        Val::Resource(_) => "resource",
        Val::Future(_) => "future",
        Val::Stream(_) => "stream",
        Val::ErrorContext(_) => "error-context",
    }
}

fn mismatch(path: &str, ty: &Type, val: &Val) -> String {
    format!("{path}: expected {}, got {}", type_name(ty), val_name(val))
}

fn check_payload(path: &str, ty: Option<Type>, val: Option<&Val>) -> Result<(), String> {
    match (ty, val) {
        (None, None) => Ok(()),
        (Some(t), Some(v)) => check(path, &t, v),
        (Some(t), None) => Err(format!(
            "{path}: missing a payload of type {}",
            type_name(&t)
        )),
        (None, Some(_)) => Err(format!("{path}: this case has no payload")),
    }
}

/// Checks `val` against `ty`; `path` names the value in the message.
pub fn check(path: &str, ty: &Type, val: &Val) -> Result<(), String> {
    match (ty, val) {
        (Type::Bool, Val::Bool(_))
        | (Type::S8, Val::S8(_))
        | (Type::U8, Val::U8(_))
        | (Type::S16, Val::S16(_))
        | (Type::U16, Val::U16(_))
        | (Type::S32, Val::S32(_))
        | (Type::U32, Val::U32(_))
        | (Type::S64, Val::S64(_))
        | (Type::U64, Val::U64(_))
        | (Type::Float32, Val::Float32(_))
        | (Type::Float64, Val::Float64(_))
        | (Type::Char, Val::Char(_))
        | (Type::String, Val::String(_))
        | (Type::ErrorContext, Val::ErrorContext(_))
        | (Type::Future(_), Val::Future(_))
        | (Type::Stream(_), Val::Stream(_))
        | (Type::Own(_) | Type::Borrow(_), Val::Resource(_)) => Ok(()),
        (Type::List(l), Val::List(items)) => {
            let elem = l.ty();
            for (i, item) in items.iter().enumerate() {
                check(&format!("{path}[{i}]"), &elem, item)?;
            }
            Ok(())
        }
        (Type::FixedLengthList(l), Val::FixedLengthList(items) | Val::List(items)) => {
            if items.len() != l.len() as usize {
                return Err(format!(
                    "{path}: expected {} items, got {}",
                    l.len(),
                    items.len()
                ));
            }
            let elem = l.ty();
            for (i, item) in items.iter().enumerate() {
                check(&format!("{path}[{i}]"), &elem, item)?;
            }
            Ok(())
        }
        (Type::Map(m), Val::Map(entries)) => {
            let (k, v) = (m.key(), m.value());
            for (i, (key, value)) in entries.iter().enumerate() {
                check(&format!("{path}[{i}].key"), &k, key)?;
                check(&format!("{path}[{i}].value"), &v, value)?;
            }
            Ok(())
        }
        (Type::Record(r), Val::Record(fields)) => {
            let expected: Vec<_> = r.fields().collect();
            if expected.len() != fields.len() {
                return Err(format!(
                    "{path}: expected {} fields, got {}",
                    expected.len(),
                    fields.len()
                ));
            }
            for (field, (name, value)) in expected.iter().zip(fields) {
                if field.name != name {
                    return Err(format!(
                        "{path}: expected field `{}`, got `{name}`",
                        field.name
                    ));
                }
                check(&format!("{path}.{name}"), &field.ty, value)?;
            }
            Ok(())
        }
        (Type::Tuple(t), Val::Tuple(items)) => {
            let types: Vec<Type> = t.types().collect();
            if types.len() != items.len() {
                return Err(format!(
                    "{path}: expected {} tuple items, got {}",
                    types.len(),
                    items.len()
                ));
            }
            for (i, (ty, item)) in types.iter().zip(items).enumerate() {
                check(&format!("{path}.{i}"), ty, item)?;
            }
            Ok(())
        }
        (Type::Variant(v), Val::Variant(name, payload)) => {
            let case = v
                .cases()
                .find(|c| c.name == name)
                .ok_or_else(|| format!("{path}: no variant case `{name}`"))?;
            check_payload(&format!("{path}.{name}"), case.ty, payload.as_deref())
        }
        (Type::Enum(e), Val::Enum(name)) => {
            if e.names().any(|n| n == name) {
                Ok(())
            } else {
                Err(format!("{path}: no enum case `{name}`"))
            }
        }
        (Type::Option(o), Val::Option(inner)) => match inner {
            None => Ok(()),
            Some(v) => check(&format!("{path}?"), &o.ty(), v),
        },
        (Type::Result(r), Val::Result(res)) => match res {
            Ok(v) => check_payload(&format!("{path}.ok"), r.ok(), v.as_deref()),
            Err(v) => check_payload(&format!("{path}.err"), r.err(), v.as_deref()),
        },
        (Type::Flags(f), Val::Flags(names)) => {
            for name in names {
                if !f.names().any(|n| n == name) {
                    return Err(format!("{path}: no flag `{name}`"));
                }
            }
            Ok(())
        }
        _ => Err(mismatch(path, ty, val)),
    }
}
