use super::*;

/// The Avro specification's test vectors (`share/test/data/schema-tests.txt` of
/// apache/avro): input, canonical form, and where given the fingerprint as Java's
/// `SchemaNormalization.parsingFingerprint64` returns it (a signed long).
const SPECIFICATION_VECTORS: &[(&str, &str, Option<i64>)] = &[
    (r#""null""#, r#""null""#, Some(7195948357588979594)),
    (r#"{"type":"null"}"#, r#""null""#, None),
    (r#""boolean""#, r#""boolean""#, Some(-6970731678124411036)),
    (r#"{"type":"boolean"}"#, r#""boolean""#, None),
    (r#""int""#, r#""int""#, Some(8247732601305521295)),
    (r#"{"type":"int"}"#, r#""int""#, None),
    (r#""long""#, r#""long""#, Some(-3434872931120570953)),
    (r#"{"type":"long"}"#, r#""long""#, None),
    (r#""float""#, r#""float""#, Some(5583340709985441680)),
    (r#"{"type":"float"}"#, r#""float""#, None),
    (r#""double""#, r#""double""#, Some(-8181574048448539266)),
    (r#"{"type":"double"}"#, r#""double""#, None),
    (r#""bytes""#, r#""bytes""#, Some(5746618253357095269)),
    (r#"{"type":"bytes"}"#, r#""bytes""#, None),
    (r#""string""#, r#""string""#, Some(-8142146995180207161)),
    (r#"{"type":"string"}"#, r#""string""#, None),
    ("[  ]", "[]", Some(-1241056759729112623)),
    (r#"[ "int"  ]"#, r#"["int"]"#, Some(-5232228896498058493)),
    (r#"[ "int" , {"type":"boolean"} ]"#, r#"["int","boolean"]"#, Some(5392556393470105090)),
    (
        r#"{"fields":[], "type":"record", "name":"foo"}"#,
        r#"{"name":"foo","type":"record","fields":[]}"#,
        Some(-4824392279771201922),
    ),
    (
        r#"{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}"#,
        r#"{"name":"x.y.foo","type":"record","fields":[]}"#,
        Some(5916914534497305771),
    ),
    (
        r#"{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}"#,
        r#"{"name":"a.b.foo","type":"record","fields":[]}"#,
        Some(-4616218487480524110),
    ),
    (
        r#"{"fields":[], "type":"record", "name":"foo", "doc":"Useful info"}"#,
        r#"{"name":"foo","type":"record","fields":[]}"#,
        Some(-4824392279771201922),
    ),
    (
        r#"{"fields":[], "type":"record", "name":"foo", "aliases":["foo","bar"]}"#,
        r#"{"name":"foo","type":"record","fields":[]}"#,
        Some(-4824392279771201922),
    ),
    (
        r#"{"fields":[{"type":{"type":"boolean"}, "name":"f1"}], "type":"record", "name":"foo"}"#,
        r#"{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}"#,
        Some(7843277075252814651),
    ),
    (
        r#"{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":"true"},
            {"order":"descending","name":"f2","doc":"Hello","type":"int"}],
            "type":"record", "name":"foo" }"#,
        r#"{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}"#,
        Some(-4860222112080293046),
    ),
    (
        r#"{"type":"enum", "name":"foo", "symbols":["A1"]}"#,
        r#"{"name":"foo","type":"enum","symbols":["A1"]}"#,
        Some(-6342190197741309591),
    ),
    (
        r#"{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}"#,
        r#"{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}"#,
        Some(-4448647247586288245),
    ),
    (
        r#"{"name":"foo","type":"fixed","size":15}"#,
        r#"{"name":"foo","type":"fixed","size":15}"#,
        Some(1756455273707447556),
    ),
    (
        r#"{"namespace":"x.y.z", "type":"fixed", "name":"foo", "doc":"foo bar", "size":32}"#,
        r#"{"name":"x.y.z.foo","type":"fixed","size":32}"#,
        Some(-3064184465700546786),
    ),
    (
        r#"{ "items":{"type":"null"}, "type":"array"}"#,
        r#"{"type":"array","items":"null"}"#,
        Some(-589620603366471059),
    ),
    (
        r#"{ "values":"string", "type":"map"}"#,
        r#"{"type":"map","values":"string"}"#,
        Some(-8732877298790414990),
    ),
    (
        r#"{"name":"PigValue","type":"record",
            "fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}"#,
        r#"{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}"#,
        Some(-1759257747318642341),
    ),
];

#[test]
fn the_specification_vectors_hold() {
    for (input, canonical, fingerprint) in SPECIFICATION_VECTORS {
        let form = parsing_canonical_form(input).unwrap();
        assert_eq!(&form, canonical, "canonical form of {input}");
        if let Some(expected) = fingerprint {
            assert_eq!(crc64_avro(form.as_bytes()) as i64, *expected, "fingerprint of {input}");
        }
    }
}

#[test]
fn a_logical_type_reduces_to_its_primitive() {
    let text = r#"{"type":"record","name":"R","namespace":"n","fields":[
        {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"},"doc":"d"}]}"#;
    let expected = r#"{"name":"n.R","type":"record","fields":[{"name":"at","type":"long"}]}"#;
    assert_eq!(parsing_canonical_form(text).unwrap(), expected);
}

#[test]
fn nested_names_take_the_enclosing_namespace_and_references_their_full_name() {
    let text = r#"{"type":"record","name":"Outer","namespace":"a.b","fields":[
        {"name":"one","type":{"type":"record","name":"Inner","fields":[]}},
        {"name":"two","type":["null","Inner"]},
        {"name":"three","type":{"type":"enum","name":"c.E","symbols":["X"]}}]}"#;
    let expected = concat!(
        r#"{"name":"a.b.Outer","type":"record","fields":["#,
        r#"{"name":"one","type":{"name":"a.b.Inner","type":"record","fields":[]}},"#,
        r#"{"name":"two","type":["null","a.b.Inner"]},"#,
        r#"{"name":"three","type":{"name":"c.E","type":"enum","symbols":["X"]}}]}"#
    );
    assert_eq!(parsing_canonical_form(text).unwrap(), expected);
}

#[test]
fn the_fingerprint_is_written_little_endian() {
    let bytes = single_object_fingerprint(r#""null""#).unwrap();
    assert_eq!(i64::from_le_bytes(bytes), 7195948357588979594);
}

#[test]
fn malformed_schemas_are_errors() {
    for text in
        ["{", "42", r#"{"name":"x"}"#, r#"{"type":"record","name":"r"}"#, r#"{"type":"fixed","name":"f"}"#]
    {
        assert!(parsing_canonical_form(text).is_err(), "{text}");
    }
}
