//! Detection cases as data: (text, the personal data that must be found).

use super::*;

fn found(text: &str) -> Vec<&str> {
    find_pii(text).iter().map(|span| &text[span.range.clone()]).collect()
}

#[test]
fn finds_emails_and_addresses_in_free_text() {
    let cases: &[(&str, &[&str])] = &[
        (
            "Authentication failed for jane.doe@example.com from 10.7.252.38",
            &["jane.doe@example.com", "10.7.252.38"],
        ),
        ("Notification sent to a.b+tag@mail.bank.example.", &["a.b+tag@mail.bank.example"]),
        ("(admin@company.com)", &["admin@company.com"]),
        ("two: x@y.org, z@w.net", &["x@y.org", "z@w.net"]),
        ("client 192.168.0.1:8443 connected", &["192.168.0.1"]),
        ("from 2001:db8::8a2e:370:7334 at noon", &["2001:db8::8a2e:370:7334"]),
        ("mapped ::ffff:10.1.2.3 seen", &["::ffff:10.1.2.3"]),
        ("loopback ::1.", &["::1"]),
        ("Registration successful", &[]),
        ("version 1.2.3 and 1.2.3.4.5 and 256.1.1.1 are not addresses", &[]),
        ("user@localhost has no domain; @twitter is a handle", &[]),
        ("deadbeef and 12:30 are not addresses", &[]),
        ("", &[]),
    ];
    for (text, expected) in cases {
        assert_eq!(&found(text), expected, "in {text:?}");
    }
}

#[test]
fn an_email_is_one_span_even_with_digits_in_its_domain() {
    let spans = find_pii("ops@10.example.com");
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].kind, PiiKind::Email);
}

#[test]
fn finds_host_addresses_inside_arp() {
    let arp = r#"CONTEXT[{"OPENID":{"clientid":"r7wc","scope":"openid profile"}}],HOSTADDRESS[10.7.252.38]"#;
    let spans = find_host_addresses(arp);
    assert_eq!(spans.len(), 1);
    assert_eq!(&arp[spans[0].range.clone()], "10.7.252.38");
    assert!(find_host_addresses("HOSTADDRESS[]").is_empty());
    assert!(find_host_addresses("HOSTADDRESS[10.0.0.1").is_empty(), "unterminated");
    let two = "HOSTADDRESS[a],HOSTADDRESS[fe80::1]";
    let found: Vec<&str> = find_host_addresses(two).iter().map(|span| &two[span.range.clone()]).collect();
    assert_eq!(found, ["a", "fe80::1"]);
}

#[test]
fn replacing_spans_keeps_everything_else() {
    let text = "failed for jane@example.com from 10.0.0.7.";
    let spans = find_pii(text);
    let replaced = replace_spans(text, &spans, &["tok-1", "tok-2"]);
    assert_eq!(replaced, "failed for tok-1 from tok-2.");
    assert_eq!(replace_spans(text, &[], &[]), text);
}

#[test]
fn non_ascii_addresses_are_found_whole() {
    assert_eq!(
        found("Zugriff für jürgen@beispiel.de über 10.1.1.1 — ok"),
        ["jürgen@beispiel.de", "10.1.1.1"]
    );
    assert_eq!(found("mail an josé@correo.españa.es"), ["josé@correo.españa.es"]);
}

#[test]
fn arbitrary_text_never_panics_and_spans_stay_on_char_boundaries() {
    const ALPHABET: &[&str] = &[
        "a",
        "Z",
        "0",
        "9",
        "f",
        "@",
        ".",
        ":",
        "-",
        "+",
        " ",
        "ü",
        "é",
        "日",
        "—",
        "[",
        "]",
        "HOSTADDRESS[",
        "::",
        "1.2",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        let length = (state % 24) as usize;
        let text: String = (0..length)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                ALPHABET[(state >> 33) as usize % ALPHABET.len()]
            })
            .collect();
        let mut spans = find_pii(&text);
        spans.extend(find_host_addresses(&text));
        for span in &spans {
            assert!(span.range.start < span.range.end && span.range.end <= text.len(), "{text:?}");
            assert!(
                text.is_char_boundary(span.range.start) && text.is_char_boundary(span.range.end),
                "{text:?}"
            );
        }
        let pii = find_pii(&text);
        assert!(
            pii.windows(2).all(|pair| pair[0].range.end <= pair[1].range.start),
            "ordered, disjoint: {text:?}"
        );
        let tokens: Vec<&str> = pii.iter().map(|_| "t").collect();
        replace_spans(&text, &pii, &tokens);
    }
}
