//! CPU work on a batch, split across the machine's cores with results in input order.
//!
//! Threads are scoped, so the work borrows freely and a panic in any part resumes in
//! the caller. Batches shorter than the caller's `min_len` run on the calling thread:
//! starting a thread costs tens of microseconds, more than small batches take.

/// `work` over contiguous parts of `items`, one part per core; the parts' results
/// concatenated in order.
pub fn map_parts<I: Sync, T: Send>(
    items: &[I],
    min_len: usize,
    work: impl Fn(&[I]) -> Vec<T> + Sync,
) -> Vec<T> {
    let threads = cores();
    if threads < 2 || items.len() < min_len.max(2) {
        return work(items);
    }
    std::thread::scope(|scope| {
        let parts: Vec<_> =
            items.chunks(items.len().div_ceil(threads)).map(|part| scope.spawn(|| work(part))).collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// `work` over each of `items`, taken by value, in parts on every core; results in order.
pub fn map_owned<I: Send, T: Send>(items: Vec<I>, min_len: usize, work: impl Fn(I) -> T + Sync) -> Vec<T> {
    let threads = cores();
    if threads < 2 || items.len() < min_len.max(2) {
        return items.into_iter().map(work).collect();
    }
    let part_len = items.len().div_ceil(threads);
    let mut items = items.into_iter();
    let parts: Vec<Vec<I>> = (0..threads).map(|_| items.by_ref().take(part_len).collect()).collect();
    let work = &work;
    std::thread::scope(|scope| {
        let parts: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || part.into_iter().map(work).collect::<Vec<T>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_keep_input_order_at_every_size() {
        for len in [0, 1, 2, 3, 17, 100, 1_001] {
            let items: Vec<usize> = (0..len).collect();
            let doubled = map_parts(&items, 2, |part| part.iter().map(|n| n * 2).collect());
            assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>(), "len {len}");
            let owned = map_owned(items.clone(), 2, |n| n.to_string());
            assert_eq!(owned, items.iter().map(usize::to_string).collect::<Vec<_>>(), "len {len}");
        }
    }

    #[test]
    #[should_panic(expected = "part failed")]
    fn a_panicking_part_panics_in_the_caller() {
        let items: Vec<usize> = (0..64).collect();
        map_owned(items, 2, |n| if n == 63 { panic!("part failed") } else { n });
    }
}
