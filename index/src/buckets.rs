//! Time buckets: coarse, tenant-scoped terms for `created`.
//!
//! Every query is scoped to one tenant, but a range over the `created` column alone
//! reads every tenant's documents. So each document also carries one term per bucket
//! level (hour, day, 32 days, aligned on the epoch) naming its tenant: a time range
//! becomes a few postings lists holding only that tenant's documents, and only the
//! two partial buckets at its edges need each document's exact `created`.
//!
//! Guarantee: for any range, the documents of the tenant whose `created` lies in it
//! are exactly those of [`Cover::whole`] plus those of [`Cover::partial`] whose
//! `created` lies in it.

/// One hour in milliseconds.
const HOUR: i64 = 3_600_000;
/// One day in milliseconds.
const DAY: i64 = 24 * HOUR;

/// Bucket levels, widest first; each width is a multiple of the next.
const LEVELS: [Level; 3] = [Level { name: 'm', width: 32 * DAY }, Level { name: 'd', width: DAY }, FINEST];
/// The finest level: partial buckets at a range's edges are of this level.
const FINEST: Level = Level { name: 'h', width: HOUR };

#[derive(Debug, Clone, Copy)]
struct Level {
    name: char,
    width: i64,
}

/// The term of `tenant`'s bucket number `bucket` at `level`.
fn term(level: Level, tenant: &str, bucket: i64) -> String {
    format!("{}{bucket}|{tenant}", level.name)
}

/// The bucket terms of a document of `tenant` created at `created` (ms).
pub fn document_terms(tenant: &str, created: i64) -> impl Iterator<Item = String> + '_ {
    LEVELS.into_iter().map(move |level| term(level, tenant, created.div_euclid(level.width)))
}

/// How a time range is covered by one tenant's buckets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cover {
    /// Buckets wholly inside the range: every document in them matches.
    pub whole: Vec<String>,
    /// Buckets at the edges, partly inside: their documents need an exact check.
    pub partial: Vec<String>,
}

/// The buckets of `tenant` covering `[start, end)` (ms); empty if the range is.
pub fn cover(tenant: &str, start: i64, end: i64) -> Cover {
    let mut cover = Cover::default();
    let mut position = start;
    while position < end {
        let widest = LEVELS.into_iter().find(|level| {
            position.rem_euclid(level.width) == 0 && position.saturating_add(level.width) <= end
        });
        match widest {
            Some(level) => {
                cover.whole.push(term(level, tenant, position.div_euclid(level.width)));
                position += level.width;
            }
            None => {
                let bucket = position.div_euclid(FINEST.width);
                cover.partial.push(term(FINEST, tenant, bucket));
                position = (bucket + 1).saturating_mul(FINEST.width).min(end);
            }
        }
    }
    cover
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which of a tenant's documents, created at `times`, a cover selects, checking
    /// partial buckets exactly.
    fn selected(cover: &Cover, tenant: &str, times: &[i64], range: (i64, i64)) -> Vec<i64> {
        times
            .iter()
            .copied()
            .filter(|&created| {
                let terms: Vec<String> = document_terms(tenant, created).collect();
                let whole = terms.iter().any(|term| cover.whole.contains(term));
                let partial = terms.iter().any(|term| cover.partial.contains(term));
                whole || (partial && (range.0..range.1).contains(&created))
            })
            .collect()
    }

    #[test]
    fn a_cover_selects_exactly_the_range() {
        let base = 1_700_000_000_000_i64;
        let times: Vec<i64> = (0..4_000).map(|step| base + step * 977_777 - 50 * DAY).collect();
        let ranges = [
            (base, base + DAY),
            (base + 1, base + 1 + 3 * DAY + 7 * HOUR + 5),
            (base - 40 * DAY, base + 2),
            (base, base),
            (base + 5, base + 6),
            (-3 * HOUR - 1, 2 * HOUR + 1),
        ];
        for range in ranges {
            let cover = cover("t1", range.0, range.1);
            let expected: Vec<i64> =
                times.iter().copied().filter(|created| (range.0..range.1).contains(created)).collect();
            assert_eq!(selected(&cover, "t1", &times, range), expected, "range {range:?}");
            assert!(cover.partial.len() <= 2, "only edges are partial: {cover:?}");
        }
    }

    #[test]
    fn wide_ranges_use_wide_buckets_and_tenants_never_share_terms() {
        let day_start = 19_000 * DAY;
        assert_eq!(cover("t1", day_start, day_start + DAY).whole, vec![format!("d19000|t1")]);
        let year = cover("t1", 0, 365 * DAY);
        // Eleven 32-day buckets, then the 13 days left.
        assert_eq!(year.whole.len(), 11 + 13, "{:?}", year.whole);
        let other: Vec<String> = document_terms("t2", day_start).collect();
        assert!(cover("t1", day_start, day_start + DAY).whole.iter().all(|term| !other.contains(term)));
    }
}
