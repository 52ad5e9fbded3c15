//! Integer-like values and IP addresses as unions of ranges.

use std::net::IpAddr;

/// Integer-like values within the domain `lo..=hi`.
#[derive(Clone, Debug)]
pub(super) struct Ints {
    pub(super) lo: i128,
    pub(super) hi: i128,
    pub(super) set: Ranges<i128>,
}

impl Ints {
    pub(super) fn bool(value: bool) -> Self {
        let v = i128::from(value);
        Self {
            lo: 0,
            hi: 1,
            set: Ranges::new(vec![(v, v)]),
        }
    }
}

/// IP addresses: IPv4 and IPv6 are disjoint.
#[derive(Clone, Debug)]
pub(super) struct Ips {
    pub(super) v4: Ranges<u128>,
    pub(super) v6: Ranges<u128>,
}

const V4_MAX: u128 = u32::MAX as u128;

impl Ips {
    pub(super) fn of(networks: &[(IpAddr, u8)]) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (address, prefix) in networks {
            match address {
                IpAddr::V4(a) => v4.push(block(u128::from(u32::from(*a)), 32, *prefix)),
                IpAddr::V6(a) => v6.push(block(u128::from(*a), 128, *prefix)),
            }
        }
        Self {
            v4: Ranges::new(v4),
            v6: Ranges::new(v6),
        }
    }

    pub(super) fn complement(&self) -> Self {
        Self {
            v4: self.v4.complement(0, V4_MAX),
            v6: self.v6.complement(0, u128::MAX),
        }
    }
}

/// The addresses of a network: `base` with its low `width - prefix` bits free.
fn block(base: u128, width: u32, prefix: u8) -> (u128, u128) {
    let host_bits = width.saturating_sub(u32::from(prefix));
    let mask = match host_bits {
        0 => 0,
        bits => u128::MAX >> (128 - bits.min(128)),
    };
    (base & !mask, base | mask)
}

/// A point type of [`Ranges`].
pub(super) trait Point: Copy + Ord {
    fn next(self) -> Option<Self>;
    fn prev(self) -> Option<Self>;
}

impl Point for i128 {
    fn next(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn prev(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

impl Point for u128 {
    fn next(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn prev(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

/// A union of inclusive ranges: sorted, disjoint and not adjacent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Ranges<T>(Vec<(T, T)>);

impl<T: Point> Ranges<T> {
    pub(super) fn new(mut ranges: Vec<(T, T)>) -> Self {
        ranges.retain(|(start, end)| start <= end);
        ranges.sort();
        let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match out.last_mut() {
                Some(last) if last.1.next().is_none_or(|after| start <= after) => {
                    last.1 = last.1.max(end);
                }
                _ => out.push((start, end)),
            }
        }
        Self(out)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn intersect(&self, other: &Self) -> Self {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while let (Some(&(a0, a1)), Some(&(b0, b1))) = (self.0.get(i), other.0.get(j)) {
            let (start, end) = (a0.max(b0), a1.min(b1));
            if start <= end {
                out.push((start, end));
            }
            if a1 < b1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Self(out)
    }

    /// `lo..=hi` without `self`.
    pub(super) fn complement(&self, lo: T, hi: T) -> Self {
        let mut out = Vec::new();
        let mut cursor = Some(lo);
        for &(start, end) in &self.0 {
            let Some(from) = cursor else { break };
            if start > from
                && let Some(before) = start.prev()
            {
                out.push((from, before.min(hi)));
            }
            cursor = if end >= from { end.next() } else { Some(from) };
        }
        if let Some(from) = cursor {
            out.push((from, hi));
        }
        Self::new(out)
    }

    pub(super) fn is_subset(&self, other: &Self) -> bool {
        self.intersect(other) == *self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_cyclic_complements() {
        let r: Ranges<i128> = Ranges::new(vec![(5, 7), (1, 2), (3, 4), (10, 10)]);
        assert_eq!(r.0, vec![(1, 7), (10, 10)]);
        assert_eq!(r.complement(0, 12).0, vec![(0, 0), (8, 9), (11, 12)]);
        assert_eq!(
            Ranges::new(vec![(0u128, u128::MAX)])
                .complement(0, u128::MAX)
                .0,
            vec![]
        );
        assert!(Ranges::<i128>::new(vec![(2, 3)]).is_subset(&r));
        assert!(!Ranges::<i128>::new(vec![(7, 8)]).is_subset(&r));
        assert_eq!(block(0, 128, 0), (0, u128::MAX));
        assert_eq!(block(0x0a00_0000, 32, 8), (0x0a00_0000, 0x0aff_ffff));
        assert_eq!(block(7, 32, 32), (7, 7));
    }
}
