//! Finds personal data inside strings: e-mail addresses, IP addresses, and the
//! address inside `HOSTADDRESS[...]` of the `ARP` event code.
//!
//! Pure and allocation-light: each finder returns byte spans of the input, which the
//! tokenizer replaces by tokens with [`replace_spans`]. Detection errs on the side of
//! finding: a false positive costs a token, a miss leaks a clear value.

use std::{net::Ipv6Addr, ops::Range};

/// What kind of personal data a span holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiKind {
    /// An e-mail address.
    Email,
    /// An IPv4 or IPv6 address.
    IpAddress,
}

/// A run of personal data in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Byte range in the scanned string.
    pub range: Range<usize>,
    /// What it holds.
    pub kind: PiiKind,
}

/// Every e-mail and IP address in `text`, in order, not overlapping.
pub fn find_pii(text: &str) -> Vec<Span> {
    let mut spans: Vec<Span> = find_emails(text);
    for span in find_ip_addresses(text) {
        if !spans.iter().any(|email| overlaps(&email.range, &span.range)) {
            spans.push(span);
        }
    }
    spans.sort_by_key(|span| span.range.start);
    spans
}

/// The contents of each `HOSTADDRESS[...]` in an `ARP` value.
pub fn find_host_addresses(arp: &str) -> Vec<Span> {
    const OPEN: &str = "HOSTADDRESS[";
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(found) = arp[from..].find(OPEN) {
        let start = from + found + OPEN.len();
        let Some(length) = arp[start..].find(']') else { break };
        if length > 0 {
            spans.push(Span { range: start..start + length, kind: PiiKind::IpAddress });
        }
        from = start + length;
    }
    spans
}

/// The personal data of an event code: the contents of each `HOSTADDRESS[...]`, and
/// every other e-mail or IP address, in order, not overlapping.
pub fn find_in_code(text: &str) -> Vec<Span> {
    let mut spans = find_host_addresses(text);
    for span in find_pii(text) {
        if !spans.iter().any(|host| overlaps(&host.range, &span.range)) {
            spans.push(span);
        }
    }
    spans.sort_by_key(|span| span.range.start);
    spans
}

/// `text` with each span replaced by its replacement, in order.
pub fn replace_spans(text: &str, spans: &[Span], replacements: &[&str]) -> String {
    let mut replaced =
        String::with_capacity(text.len() + replacements.iter().map(|token| token.len()).sum::<usize>());
    let mut copied_to = 0;
    for (span, replacement) in spans.iter().zip(replacements) {
        replaced.push_str(&text[copied_to..span.range.start]);
        replaced.push_str(replacement);
        copied_to = span.range.end;
    }
    replaced.push_str(&text[copied_to..]);
    replaced
}

fn overlaps(left: &Range<usize>, right: &Range<usize>) -> bool {
    left.start < right.end && right.start < left.end
}

/// Bytes of UTF-8 multibyte characters count as letters (internationalized
/// addresses), which also keeps every span on character boundaries.
fn is_local_part(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte >= 0x80 || b".!#$%&'*+/=?^_`{|}~-".contains(&byte)
}

fn is_domain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte >= 0x80 || byte == b'.' || byte == b'-'
}

/// E-mail addresses: a local part, `@`, and a dotted domain whose last label has at
/// least two letters.
fn find_emails(text: &str) -> Vec<Span> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    for (at, _) in text.match_indices('@') {
        let start = (0..at).rev().take_while(|index| is_local_part(bytes[*index])).last().unwrap_or(at);
        let mut end = (at + 1..bytes.len())
            .take_while(|index| is_domain(bytes[*index]))
            .last()
            .map_or(at, |last| last + 1);
        while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
            end -= 1; // a sentence's full stop is not part of the domain
        }
        if end <= at + 1 {
            continue; // nothing after the `@` can be a domain
        }
        let domain = &text[at + 1..end];
        let top_level = domain.rsplit('.').next().unwrap_or_default();
        let plausible = start < at
            && domain.contains('.')
            && top_level.len() >= 2
            && top_level.bytes().all(|byte| byte.is_ascii_alphabetic() || byte >= 0x80);
        if plausible && spans.last().is_none_or(|previous: &Span| previous.range.end <= start) {
            spans.push(Span { range: start..end, kind: PiiKind::Email });
        }
    }
    spans
}

/// IPv4 (four decimal octets) and IPv6 (hex groups with colons that parse as an
/// address) candidates bounded by characters that cannot belong to an address.
fn find_ip_addresses(text: &str) -> Vec<Span> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        let is_address_byte = |byte: u8| byte.is_ascii_hexdigit() || byte == b'.' || byte == b':';
        if !is_address_byte(bytes[index]) {
            index += 1;
            continue;
        }
        let start = index;
        while index < bytes.len() && is_address_byte(bytes[index]) {
            index += 1;
        }
        let bounded = (start == 0 || !bytes[start - 1].is_ascii_alphanumeric())
            && (index == bytes.len() || !bytes[index].is_ascii_alphanumeric());
        if bounded && let Some(range) = address_within(text, start..index) {
            spans.push(Span { range, kind: PiiKind::IpAddress });
        }
    }
    spans
}

/// The address in a candidate run, ignoring a trailing `.` or `:` (punctuation).
fn address_within(text: &str, candidate: Range<usize>) -> Option<Range<usize>> {
    let mut end = candidate.end;
    while end > candidate.start
        && matches!(text.as_bytes()[end - 1], b'.' | b':')
        && !text[candidate.start..end].ends_with("::")
    {
        end -= 1;
    }
    let run = &text[candidate.start..end];
    if run.matches(':').count() >= 2 && run.parse::<Ipv6Addr>().is_ok() {
        return Some(candidate.start..end);
    }
    // An IPv4 address, possibly followed by `:port` (the port is not personal data).
    let address = run.split_once(':').map_or(run, |(address, _port)| address);
    is_ipv4(address).then_some(candidate.start..candidate.start + address.len())
}

fn is_ipv4(text: &str) -> bool {
    let octets: Vec<&str> = text.split('.').collect();
    octets.len() == 4
        && octets.iter().all(|octet| {
            (1..=3).contains(&octet.len())
                && octet.bytes().all(|byte| byte.is_ascii_digit())
                && octet.parse::<u8>().is_ok()
        })
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
