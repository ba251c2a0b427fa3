//! The Parsing Canonical Form of a schema and its CRC-64-AVRO fingerprint, exactly as
//! the Avro specification defines them (section "Parsing Canonical Form for Schemas").
//!
//! Single-object headers carry this fingerprint, so any Avro library (Java's
//! `SchemaNormalization`, Python's fastavro) finds the writer schema from the `.avsc`
//! alone. We compute it ourselves because `apache-avro` 0.22 keeps a primitive with a
//! logical type as `{"type":"long"}` where the specification's rule [PRIMITIVES]
//! reduces it to `"long"`; its fingerprints are still accepted on read, see
//! `catalogue`.

use serde_json::{Map, Value};

const PRIMITIVES: &[&str] = &["null", "boolean", "int", "long", "float", "double", "bytes", "string"];

/// Why a schema has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schema has no canonical form: {detail}")]
pub struct CanonicalError {
    detail: String,
}

fn invalid(detail: impl Into<String>) -> CanonicalError {
    CanonicalError { detail: detail.into() }
}

/// The Parsing Canonical Form of the schema in `text` (JSON).
pub fn parsing_canonical_form(text: &str) -> Result<String, CanonicalError> {
    let schema: Value = serde_json::from_str(text).map_err(|error| invalid(error.to_string()))?;
    let mut out = String::with_capacity(text.len());
    write_schema(&schema, "", &mut out)?;
    Ok(out)
}

/// CRC-64-AVRO (the specification's "Rabin" fingerprint) of `bytes`.
pub fn crc64_avro(bytes: &[u8]) -> u64 {
    const EMPTY: u64 = 0xc15d_213a_a4d7_a795;
    let table: [u64; 256] = std::array::from_fn(|index| {
        (0..8).fold(index as u64, |fp, _| (fp >> 1) ^ (EMPTY & (fp & 1).wrapping_neg()))
    });
    bytes.iter().fold(EMPTY, |fp, byte| (fp >> 8) ^ table[((fp ^ u64::from(*byte)) & 0xff) as usize])
}

/// The 8 bytes a single-object header carries: the fingerprint, little-endian.
pub fn single_object_fingerprint(text: &str) -> Result<[u8; 8], CanonicalError> {
    Ok(crc64_avro(parsing_canonical_form(text)?.as_bytes()).to_le_bytes())
}

/// Writes `schema`; `namespace` is the enclosing one, for [FULLNAMES].
fn write_schema(schema: &Value, namespace: &str, out: &mut String) -> Result<(), CanonicalError> {
    match schema {
        Value::String(name) if PRIMITIVES.contains(&name.as_str()) => write_string(name, out),
        Value::String(name) => write_string(&full_name(name, namespace), out),
        Value::Array(branches) => {
            out.push('[');
            for (index, branch) in branches.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_schema(branch, namespace, out)?;
            }
            out.push(']');
        }
        Value::Object(object) => write_complex(object, namespace, out)?,
        other => return Err(invalid(format!("unexpected {other} in a schema"))),
    }
    Ok(())
}

fn write_complex(
    object: &Map<String, Value>,
    namespace: &str,
    out: &mut String,
) -> Result<(), CanonicalError> {
    let kind = object.get("type").ok_or_else(|| invalid("an object without type"))?;
    let Value::String(kind) = kind else {
        return write_schema(kind, namespace, out);
    };
    match kind.as_str() {
        // [PRIMITIVES] and [STRIP]: a logical type or any other attribute goes.
        primitive if PRIMITIVES.contains(&primitive) => write_string(primitive, out),
        "record" | "error" => write_record(object, namespace, out)?,
        "enum" => {
            let name = declared_name(object, namespace)?;
            out.push_str("{\"name\":");
            write_string(&name, out);
            out.push_str(",\"type\":\"enum\",\"symbols\":");
            out.push_str(&attribute(object, "symbols")?.to_string());
            out.push('}');
        }
        "fixed" => {
            let name = declared_name(object, namespace)?;
            let size =
                attribute(object, "size")?.as_u64().ok_or_else(|| invalid("fixed size is not an integer"))?;
            out.push_str("{\"name\":");
            write_string(&name, out);
            out.push_str(&format!(",\"type\":\"fixed\",\"size\":{size}}}"));
        }
        "array" => write_container(("array", "items"), attribute(object, "items")?, namespace, out)?,
        "map" => write_container(("map", "values"), attribute(object, "values")?, namespace, out)?,
        // A named type referenced in object form.
        name => write_string(&full_name(name, namespace), out),
    }
    Ok(())
}

fn write_record(
    object: &Map<String, Value>,
    namespace: &str,
    out: &mut String,
) -> Result<(), CanonicalError> {
    let name = declared_name(object, namespace)?;
    let inner = name.rsplit_once('.').map_or("", |(space, _)| space);
    out.push_str("{\"name\":");
    write_string(&name, out);
    out.push_str(",\"type\":\"record\",\"fields\":[");
    let fields = attribute(object, "fields")?.as_array().ok_or_else(|| invalid("fields is not an array"))?;
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let field_name =
            field.get("name").and_then(Value::as_str).ok_or_else(|| invalid("a field without name"))?;
        out.push_str("{\"name\":");
        write_string(field_name, out);
        out.push_str(",\"type\":");
        write_schema(field.get("type").ok_or_else(|| invalid("a field without type"))?, inner, out)?;
        out.push('}');
    }
    out.push_str("]}");
    Ok(())
}

fn write_container(
    (kind, key): (&str, &str),
    element: &Value,
    namespace: &str,
    out: &mut String,
) -> Result<(), CanonicalError> {
    out.push_str(&format!("{{\"type\":\"{kind}\",\"{key}\":"));
    write_schema(element, namespace, out)?;
    out.push('}');
    Ok(())
}

fn attribute<'a>(object: &'a Map<String, Value>, key: &str) -> Result<&'a Value, CanonicalError> {
    object.get(key).ok_or_else(|| invalid(format!("missing {key}")))
}

/// [FULLNAMES] for a type declaration: its name qualified by its own or the enclosing namespace.
fn declared_name(object: &Map<String, Value>, namespace: &str) -> Result<String, CanonicalError> {
    let name = attribute(object, "name")?.as_str().ok_or_else(|| invalid("name is not a string"))?;
    let own = object.get("namespace").and_then(Value::as_str);
    Ok(full_name(name, own.unwrap_or(namespace)))
}

fn full_name(name: &str, namespace: &str) -> String {
    if name.contains('.') || namespace.is_empty() { name.to_owned() } else { format!("{namespace}.{name}") }
}

/// [STRINGS]: JSON with escapes only where JSON needs them, UTF-8 otherwise.
fn write_string(text: &str, out: &mut String) {
    out.push_str(&Value::String(text.to_owned()).to_string());
}

#[cfg(test)]
#[path = "canonical_tests.rs"]
mod tests;
