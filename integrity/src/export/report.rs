//! What an export verification found, and the summary `auditctl verify` prints.
//!
//! Memory stays bounded whatever the export holds: at most [`MAX_REASONS`] distinct
//! reasons (later ones are counted together under [`OTHER_REASONS`]), at most
//! [`EXAMPLE_LINES`] line numbers or parse errors each; counts are always complete.

use std::fmt;

/// Line numbers kept per reason.
pub const EXAMPLE_LINES: usize = 5;
/// Distinct reasons kept; later ones are counted under [`OTHER_REASONS`].
pub const MAX_REASONS: usize = 32;
/// The group collecting reasons beyond [`MAX_REASONS`].
pub const OTHER_REASONS: &str = "other reasons";

/// Occurrences of one reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The reason, as its error message says it.
    pub reason: String,
    /// How many lines had it.
    pub count: u64,
    /// The first [`EXAMPLE_LINES`] of them, 1-based.
    pub lines: Vec<u64>,
}

/// Reasons in order of first appearance, bounded (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// The groups.
    pub groups: Vec<Group>,
    /// Occurrences of all reasons.
    pub total: u64,
}

impl Tally {
    /// Counts `reason` at `line`.
    pub fn add(&mut self, reason: String, line: u64) {
        self.total += 1;
        let known = self.groups.iter().position(|group| group.reason == reason);
        let index = known.unwrap_or_else(|| self.open(reason));
        let group = &mut self.groups[index];
        group.count += 1;
        if group.lines.len() < EXAMPLE_LINES {
            group.lines.push(line);
        }
    }

    /// The index of a new group for `reason`, or of the catch-all once full.
    fn open(&mut self, reason: String) -> usize {
        let reason = if self.groups.len() < MAX_REASONS { reason } else { OTHER_REASONS.to_owned() };
        if let Some(index) = self.groups.iter().position(|group| group.reason == reason) {
            return index;
        }
        self.groups.push(Group { reason, count: 0, lines: Vec::new() });
        self.groups.len() - 1
    }
}

/// Lines that are not export lines, with the first few parse errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unparsable {
    /// How many.
    pub count: u64,
    /// The first [`EXAMPLE_LINES`]: line number and what is wrong.
    pub examples: Vec<(u64, String)>,
}

impl Unparsable {
    /// Counts line `line`, keeping `error` if it is among the first.
    pub fn add(&mut self, line: u64, error: String) {
        self.count += 1;
        if self.examples.len() < EXAMPLE_LINES {
            self.examples.push((line, error));
        }
    }
}

/// Chain continuity over the export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainReport {
    /// Tenants seen.
    pub tenants: u64,
    /// Breaks, each at the line where it shows.
    pub breaks: Tally,
}

/// The outcome of [`verify_export`]; `Display` is the summary `auditctl verify` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Non-blank lines read.
    pub lines: u64,
    /// Lines that verified.
    pub validated: u64,
    /// Lines that did not: verification failures and unparsable lines.
    pub failed: u64,
    /// Verification failures by reason.
    pub failures: Tally,
    /// Lines that do not parse.
    pub unparsable: Unparsable,
    /// `None` when the chain was not checked.
    pub chain: Option<ChainReport>,
}

impl ExportReport {
    /// Every line validated and no chain break.
    pub fn is_clean(&self) -> bool {
        self.failed == 0 && self.chain.as_ref().is_none_or(|chain| chain.breaks.total == 0)
    }
}
impl fmt::Display for ExportReport {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (lines, validated, failed) = (self.lines, self.validated, self.failed);
        let noun = if lines == 1 { "record" } else { "records" };
        writeln!(
            out,
            "{} {noun}: {} validated, {} failed",
            thousands(lines),
            thousands(validated),
            thousands(failed)
        )?;
        write_groups(out, &self.failures)?;
        for (line, error) in &self.unparsable.examples {
            writeln!(out, "  unparsable line {line}: {error}")?;
        }
        let unlisted = self.unparsable.count - self.unparsable.examples.len() as u64;
        if unlisted > 0 {
            writeln!(out, "  {} more unparsable lines", thousands(unlisted))?;
        }
        match &self.chain {
            None => writeln!(out, "chain: not checked"),
            Some(chain) => {
                let breaks = match chain.breaks.total {
                    0 => "no breaks".to_owned(),
                    1 => "1 break".to_owned(),
                    total => format!("{} breaks", thousands(total)),
                };
                let tenants = if chain.tenants == 1 { "tenant" } else { "tenants" };
                writeln!(out, "chain: {} {tenants}, {breaks}", thousands(chain.tenants))?;
                write_groups(out, &chain.breaks)
            }
        }
    }
}

/// One line per reason: `  2 × reason (lines 3, 9)`.
fn write_groups(out: &mut fmt::Formatter<'_>, tally: &Tally) -> fmt::Result {
    for group in &tally.groups {
        let lines: Vec<String> = group.lines.iter().map(u64::to_string).collect();
        let more = if group.count > group.lines.len() as u64 { ", …" } else { "" };
        let noun = if group.count == 1 { "line" } else { "lines" };
        let count = thousands(group.count);
        writeln!(out, "  {count} × {} ({noun} {}{more})", group.reason, lines.join(", "))?;
    }
    Ok(())
}

/// `12000` as `12,000`.
pub(super) fn thousands(number: u64) -> String {
    let digits = number.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
