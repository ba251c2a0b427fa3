//! Schema round trips and compatibility: the newest reader of each family must read
//! every older writer in the catalogue, and a future version that adds a defaulted
//! field must read what today's writer wrote.

use std::collections::BTreeMap;

use apache_avro::schema_compatibility::SchemaCompatibility;
use audit_schemas::{
    Action, Catalogue, Codec, CodecError, Datum, NormalizedRecord, SchemaVersion, Session, SignedRecord,
    TokenizedRecord, UserRef, binary, catalogue::PUBLISHED,
};

fn sample() -> NormalizedRecord {
    NormalizedRecord {
        id: "0b9a3b1e-6a7c-5d59-9d2e-3f1f6c1b7a10".into(),
        tenant_id: "tdf1808f3d368517208759".into(),
        created: 1_672_848_274_678,
        action: Action {
            action_name: "indirectPrimaryAuthenticateUP".into(),
            action_parameters: BTreeMap::from([
                ("ATC".into(), "AT_STDPWD".into()),
                ("ARP".into(), "HOSTADDRESS[10.7.252.38]".into()),
            ]),
        },
        result: Some("RESPONSE_SUCCESS".into()),
        return_value: Some(BTreeMap::from([("response".into(), "SUCCESS".into())])),
        message: None,
        host: Some("10.7.252.38".into()),
        target_user: Some(UserRef {
            id: Some("admin@company.com".into()),
            immutable_id: Some("11092".into()),
            session: Some(Session { id: Some("1ea9".into()), authentication_method: None }),
        }),
        acting_user: Some(UserRef::default()),
        external_id: Some("IDP-test-company".into()),
        event_id: None,
    }
}

#[test]
fn normalized_record_round_trips() {
    let codec = Codec::<NormalizedRecord>::published("NormalizedRecord").unwrap();
    let bytes = codec.encode(&sample()).unwrap();
    assert_eq!(&bytes[..2], &[0xC3, 0x01]);
    assert_eq!(&bytes[2..10], &codec.fingerprint());
    assert_eq!(codec.decode(&bytes).unwrap(), sample());
}

#[test]
fn newest_reader_reads_every_older_writer() {
    let catalogue = Catalogue::published();
    let mut families: Vec<&str> = PUBLISHED.iter().map(|version| version.family).collect();
    families.dedup();
    for family in families {
        let newest = catalogue.latest(family).unwrap();
        for older in catalogue.versions(family) {
            SchemaCompatibility::can_read(&older.schema, &newest.schema).unwrap_or_else(|error| {
                panic!(
                    "{family} v{} unreadable by v{}: {error}",
                    older.version.version, newest.version.version
                )
            });
        }
    }
}

const FUTURE_V2: &str = r#"{
  "type": "record", "name": "NormalizedRecord", "namespace": "audit.trail",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "tenantId", "type": "string"},
    {"name": "created", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "action", "type": {"type": "record", "name": "Action", "fields": [
      {"name": "actionName", "type": "string"},
      {"name": "actionParameters", "type": {"type": "map", "values": "string"}, "default": {}}]}},
    {"name": "result", "type": ["null", "string"], "default": null},
    {"name": "return_value", "type": ["null", {"type": "map", "values": "string"}], "default": null},
    {"name": "message", "type": ["null", "string"], "default": null},
    {"name": "host", "type": ["null", "string"], "default": null},
    {"name": "targetUserId", "type": ["null", {"type": "record", "name": "UserRef", "fields": [
      {"name": "id", "type": ["null", "string"], "default": null},
      {"name": "immutableId", "type": ["null", "string"], "default": null},
      {"name": "session", "type": ["null", {"type": "record", "name": "Session", "fields": [
        {"name": "id", "type": ["null", "string"], "default": null},
        {"name": "authenticationMethod", "type": ["null", "string"], "default": null}]}], "default": null}]}],
     "default": null},
    {"name": "actingUserId", "type": ["null", "UserRef"], "default": null},
    {"name": "externalId", "type": ["null", "string"], "default": null},
    {"name": "eventId", "type": ["null", "string"], "default": null},
    {"name": "region", "type": "string", "default": "eu-1"}
  ]
}"#;

/// What a build of the future reads: today's fields, then `region`.
#[derive(Debug)]
struct FutureRecord {
    record: NormalizedRecord,
    region: String,
}

impl Datum for FutureRecord {
    fn write(&self, out: &mut Vec<u8>) {
        self.record.write(out);
        binary::write_string(out, &self.region);
    }

    fn read(input: &mut binary::Reader<'_>) -> Result<Self, binary::DecodeError> {
        Ok(FutureRecord { record: NormalizedRecord::read(input)?, region: input.string()? })
    }
}

#[test]
fn a_future_reader_resolves_todays_writer_through_the_catalogue() {
    let future = SchemaVersion { family: "NormalizedRecord", version: 2, text: FUTURE_V2 };
    let versions = Box::leak(Box::new([PUBLISHED[0], future]));
    let catalogue: &'static Catalogue = Box::leak(Box::new(Catalogue::try_new(versions).unwrap()));
    let today = Codec::<NormalizedRecord>::published("NormalizedRecord").unwrap();
    let future_codec = Codec::<FutureRecord>::try_new(catalogue, "NormalizedRecord").unwrap();

    let decoded = future_codec.decode(&today.encode(&sample()).unwrap()).unwrap();
    assert_eq!(decoded.record, sample());
    assert_eq!(decoded.region, "eu-1", "the added field takes its default");
}

#[test]
fn signed_records_written_before_tree_hashes_decode_without_them() {
    let v1 = Catalogue::published().versions("SignedRecord").next().unwrap();
    assert_eq!(v1.version.version, 1);
    let mut message = [0xC3, 0x01].iter().chain(&v1.fingerprint).copied().collect::<Vec<u8>>();
    for text in ["t1", "r1"] {
        binary::write_string(&mut message, text);
    }
    binary::write_long(&mut message, 1_700_000_000_000);
    binary::write_long(&mut message, 7);
    binary::write_string(&mut message, "a.b.c");
    let decoded = Codec::<SignedRecord>::published("SignedRecord").unwrap().decode(&message).unwrap();
    assert_eq!((decoded.sequence, decoded.jws.as_str()), (7, "a.b.c"));
    assert!(decoded.tree_hashes.is_empty());
}

#[test]
fn messages_under_the_legacy_fingerprint_still_decode() {
    let catalogue = Catalogue::published();
    let codec = Codec::<NormalizedRecord>::published("NormalizedRecord").unwrap();
    let mut message = codec.encode(&sample()).unwrap();
    message[2..10].copy_from_slice(&catalogue.latest("NormalizedRecord").unwrap().legacy_fingerprint);
    assert_eq!(codec.decode(&message).unwrap(), sample());
    let other = Codec::<SignedRecord>::published("SignedRecord").unwrap();
    assert!(matches!(other.decode(&message), Err(CodecError::WrongFamily { .. })));
}

#[test]
fn foreign_and_truncated_messages_are_refused() {
    let codec = Codec::<NormalizedRecord>::published("NormalizedRecord").unwrap();
    assert!(matches!(codec.decode(b"{\"json\":true}"), Err(CodecError::NotSingleObject)));
    assert!(matches!(codec.decode(&[0xC3, 0x01, 1, 2]), Err(CodecError::NotSingleObject)));
    let unknown = [0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0];
    assert!(matches!(codec.decode(&unknown), Err(CodecError::UnknownFingerprint { .. })));
    let mut truncated = codec.encode(&sample()).unwrap();
    truncated.truncate(truncated.len() / 2);
    assert!(matches!(codec.decode(&truncated), Err(CodecError::Avro { .. })));
}

/// `record` as `apache-avro` writes it with `family`'s newest schema, header included.
fn reference_bytes<T: serde::Serialize>(family: &str, record: &T) -> Vec<u8> {
    let entry = Catalogue::published().latest(family).unwrap();
    let writer = apache_avro::writer::datum::GenericDatumWriter::builder(&entry.schema).build().unwrap();
    let mut bytes = [0xC3, 0x01].iter().chain(&entry.fingerprint).copied().collect::<Vec<u8>>();
    writer.write_ser(&mut bytes, record).unwrap();
    bytes
}

fn tokenized() -> TokenizedRecord {
    let mut record = TokenizedRecord::new(sample(), vec!["host".into(), "targetUserId.id".into()]);
    record.action.action_parameters.clear();
    record.return_value = Some(BTreeMap::new());
    record.message = Some("ünïcode, \"quotes\" and an empty map".into());
    record
}

#[test]
fn the_codec_writes_the_bytes_of_the_reference_implementation() {
    let normalized = Codec::<NormalizedRecord>::published("NormalizedRecord").unwrap();
    assert_eq!(normalized.encode(&sample()).unwrap(), reference_bytes("NormalizedRecord", &sample()));
    let codec = Codec::<TokenizedRecord>::published("TokenizedRecord").unwrap();
    assert_eq!(codec.encode(&tokenized()).unwrap(), reference_bytes("TokenizedRecord", &tokenized()));
    let signed = SignedRecord {
        tenant_id: "t1".into(),
        id: "r1".into(),
        created: -1,
        sequence: i64::MAX,
        jws: "a.b.c".into(),
        tree_hashes: vec![[1; 32], [2; 32]],
    };
    let codec = Codec::<SignedRecord>::published("SignedRecord").unwrap();
    assert_eq!(codec.encode(&signed).unwrap(), reference_bytes("SignedRecord", &signed));
    assert_eq!(codec.decode(&codec.encode(&signed).unwrap()).unwrap(), signed);
}

#[test]
fn the_codec_reads_what_the_reference_implementation_wrote() {
    let codec = Codec::<TokenizedRecord>::published("TokenizedRecord").unwrap();
    assert_eq!(codec.decode(&reference_bytes("TokenizedRecord", &tokenized())).unwrap(), tokenized());
}

proptest::proptest! {
    /// Untrusted bytes behind a valid header decode or fail, never panic or hang.
    #[test]
    fn garbage_after_a_valid_header_is_an_error_not_a_panic(
        datum in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        cut in 0usize..600,
    ) {
        let codec = Codec::<NormalizedRecord>::published("NormalizedRecord").unwrap();
        let mut message = codec.encode(&sample()).unwrap();
        message.truncate(10 + cut.min(message.len() - 10));
        message.extend_from_slice(&datum);
        let _ = codec.decode(&message);
    }
}
