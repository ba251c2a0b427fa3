use std::collections::BTreeSet;

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::schema::Name;

use super::*;
use crate::Catalogue;

/// What a record schema holds, by kind of leaf.
#[derive(Debug, Default)]
struct Leaves {
    strings: BTreeSet<String>,
    times: BTreeSet<String>,
    string_maps: BTreeSet<String>,
    other: BTreeSet<String>,
    /// Named types met so far, for the references to them.
    named: HashMap<Name, Schema>,
}

fn walk(schema: &Schema, path: &str, leaves: &mut Leaves) {
    let join = |name: &str| if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") };
    match schema {
        Schema::Record(record) => {
            leaves.named.insert(record.name.clone(), schema.clone());
            for field in &record.fields {
                walk(&field.schema, &join(&field.name), leaves);
            }
        }
        Schema::Ref { name } => {
            let named = leaves.named.get(name).cloned().expect("a reference follows its definition");
            walk(&named, path, leaves);
        }
        Schema::Union(union) => {
            for variant in union.variants().iter().filter(|variant| **variant != Schema::Null) {
                walk(variant, path, leaves);
            }
        }
        Schema::String => _ = leaves.strings.insert(path.to_owned()),
        Schema::TimestampMillis => _ = leaves.times.insert(path.to_owned()),
        Schema::Map(map) if *map.types == Schema::String => _ = leaves.string_maps.insert(path.to_owned()),
        _ => _ = leaves.other.insert(path.to_owned()),
    }
}

fn leaves_of(family: &str) -> Leaves {
    let entry = Catalogue::published().latest(family).expect("published family");
    let mut leaves = Leaves::default();
    walk(&entry.schema, "", &mut leaves);
    leaves
}

#[test]
fn the_attributes_are_exactly_the_schemas_fields() {
    for family in ["NormalizedRecord", "TokenizedRecord"] {
        let leaves = leaves_of(family);
        let attributes: BTreeSet<String> = ATTRIBUTES.iter().map(|path| (*path).to_owned()).collect();
        assert_eq!(leaves.strings, attributes, "{family}: string fields");
        assert_eq!(leaves.times, BTreeSet::from([CREATED.to_owned()]), "{family}: time fields");
        let maps: BTreeSet<String> = OPEN_MAPS.iter().map(|path| (*path).to_owned()).collect();
        assert_eq!(leaves.string_maps, maps, "{family}: open maps");
        let expected_other: BTreeSet<String> = match family {
            "TokenizedRecord" => BTreeSet::from(["tokenizedPaths".to_owned()]),
            _ => BTreeSet::new(),
        };
        assert_eq!(leaves.other, expected_other, "{family}: other fields");
    }
}

#[test]
fn every_personal_path_is_an_attribute() {
    let policy = PiiPolicy::default();
    for path in policy.whole_paths().into_iter().chain(policy.embedded_paths()) {
        let in_map =
            OPEN_MAPS.iter().any(|map| path.strip_prefix(map).is_some_and(|key| key.starts_with('.')));
        assert!(ATTRIBUTES.contains(&path.as_str()) || in_map, "{path}");
    }
}

#[test]
fn the_default_policy_is_the_spec_one_and_the_flags_give_it() {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        pii: PiiPolicyArgs,
    }
    let parsed = <Cli as clap::Parser>::parse_from(["test"]).pii.policy();
    assert_eq!(parsed, PiiPolicy::default());
    assert_eq!(
        parsed.whole_paths(),
        [
            "targetUserId.id",
            "actingUserId.id",
            "host",
            "action.actionParameters.ATV",
            "action.actionParameters.ERI",
            "action.actionParameters.UER",
            "action.actionParameters.USN",
        ]
    );
    assert_eq!(parsed.embedded_paths(), ["action.actionParameters.ARP", "message"]);
    let narrowed =
        <Cli as clap::Parser>::parse_from(["test", "--tokenize-host", "false", "--scan-codes", " ,"]);
    let narrowed = narrowed.pii.policy();
    assert!(!narrowed.host && narrowed.scanned_codes.is_empty());
}

#[test]
fn the_json_schema_of_a_record_follows_its_avro_schema() {
    let schema = json_schema("TokenizedRecord").unwrap();
    assert_eq!(schema["type"], "object");
    let required: Vec<&str> =
        schema["required"].as_array().unwrap().iter().filter_map(|name| name.as_str()).collect();
    assert_eq!(required, ["id", "tenantId", "created", "action"]);
    let acting = &schema["properties"]["actingUserId"];
    assert_eq!(acting["properties"]["session"]["properties"]["id"]["type"], "string", "{acting}");
    assert_eq!(schema["properties"]["return_value"]["additionalProperties"]["type"], "string");
    assert_eq!(schema["properties"]["tokenizedPaths"]["items"]["type"], "string");
    assert!(json_schema("NoSuchRecord").is_none());
}
