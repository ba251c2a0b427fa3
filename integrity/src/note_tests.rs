use ed25519_dalek::SigningKey;

use super::*;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn checkpoint(size: u64) -> Checkpoint {
    Checkpoint { origin: origin("audit.example", "acme"), size, root: [size as u8; 32] }
}

fn keys_of(signing: &SigningKey) -> Vec<NoteKey> {
    vec![NoteKey::new(&origin("audit.example", "acme"), signing.verifying_key())]
}

#[test]
fn the_specification_example_verifies() {
    let vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    let note = "This is an example message.\n\n\u{2014} example.com/foo \
                Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    let key = NoteKey::from_vkey(vkey).expect("a well-formed vkey");
    assert_eq!(key.vkey(), vkey);
    assert_eq!(verified_text(note, std::slice::from_ref(&key)), Ok("This is an example message.\n"));
    let forged = note.replace("example message", "example massage");
    assert_eq!(verified_text(&forged, &[key]), Err(NoteError::BadSignature { key_id: 0x530d903a }));
}

#[test]
fn a_signed_checkpoint_opens_with_its_key_only() {
    let signing = key(7);
    let note = checkpoint(1234).sign(&signing);
    assert!(note.starts_with("audit.example/acme\n1234\n"), "{note}");
    assert_eq!(open(&note, &keys_of(&signing)), Ok(checkpoint(1234)));
    let vkey = keys_of(&signing)[0].vkey();
    assert_eq!(NoteKey::from_vkey(&vkey), Some(keys_of(&signing)[0].clone()));
    assert_eq!(
        open(&note, &keys_of(&key(8))),
        Err(NoteError::UnknownSigner { origin: "audit.example/acme".into() })
    );
    let other_tenant = vec![NoteKey::new(&origin("audit.example", "other"), signing.verifying_key())];
    assert!(matches!(open(&note, &other_tenant), Err(NoteError::UnknownSigner { .. })));
}

#[test]
fn unknown_signatures_are_ignored_and_a_failing_known_one_refuses() {
    let (ours, theirs) = (key(1), key(2));
    let cosigned =
        format!("{}{}", checkpoint(5).sign(&ours), checkpoint(5).sign(&theirs).lines().last().unwrap());
    assert_eq!(open(&format!("{cosigned}\n"), &keys_of(&ours)), Ok(checkpoint(5)));
    let note = checkpoint(5).sign(&ours);
    let forged = note.replacen("\n5\n", "\n6\n", 1);
    let id = keys_of(&ours)[0].id;
    assert_eq!(open(&forged, &keys_of(&ours)), Err(NoteError::BadSignature { key_id: id }));
}

#[test]
fn malformed_notes_and_texts_are_refused() {
    let signing = key(3);
    let keys = keys_of(&signing);
    let note = checkpoint(9).sign(&signing);
    assert!(matches!(open(note.trim_end(), &keys), Err(NoteError::Malformed(_))));
    assert!(matches!(open(&note.replace("\n\n", "\n"), &keys), Err(NoteError::Malformed(_))));
    assert!(matches!(open(&note.replace("acme\n", "acme\r\n"), &keys), Err(NoteError::Malformed(_))));
    let texts = [
        ("audit.example/acme\n09\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "bad tree size"),
        ("audit.example/acme\n9\nAAAA\n", "bad root hash"),
        ("audit.example/acme\n9\n", "no root hash"),
        ("audit.example/other\n9\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "another origin"),
    ];
    for (text, reason) in texts {
        assert_eq!(
            Checkpoint::parse(text, "audit.example/acme"),
            Err(NoteError::NotACheckpoint(reason)),
            "{text}"
        );
    }
}
