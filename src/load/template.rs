//! Request templates: placeholders in a scenario's paths, header values and bodies, filled in
//! for every request, and the weighted choice between several requests.
//!
//! Placeholders: `{{counter}}` (1, 2, 3, ... shared by all connections, so every request gets
//! a different number), `{{random}}` (0 to 2^32-1), `{{random:N}}` (0 to N-1) and `{{uuid}}`
//! (a random version 4 UUID). Many leaks, like a cache keyed by URL, only show with unique
//! keys.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Text with placeholders, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(Vec<u8>),
    Counter,
    Random(Option<u64>),
    Uuid,
}

impl Template {
    /// Parses `text`; `{{` opens a placeholder, and an unknown one is an error naming it.
    pub(crate) fn parse(text: &[u8]) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = Vec::new();
        let mut rest = text;
        while let Some(open) = find(rest, b"{{") {
            literal.extend_from_slice(&rest[..open]);
            let after = &rest[open + 2..];
            let close = find(after, b"}}").ok_or("a '{{' has no closing '}}'")?;
            let name = String::from_utf8_lossy(&after[..close]).trim().to_string();
            let part = match name.as_str() {
                "counter" => Part::Counter,
                "uuid" => Part::Uuid,
                "random" => Part::Random(None),
                _ => match name
                    .strip_prefix("random:")
                    .map(|n| n.trim().parse::<u64>())
                {
                    Some(Ok(n)) if n > 0 => Part::Random(Some(n)),
                    _ => {
                        return Err(format!(
                            "unknown placeholder '{{{{{name}}}}}'; use {{{{counter}}}}, \
                             {{{{random}}}}, {{{{random:N}}}} or {{{{uuid}}}}"
                        ))
                    }
                },
            };
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(part);
            rest = &after[close + 2..];
        }
        literal.extend_from_slice(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// A template of fixed text.
    pub(crate) fn literal(text: &[u8]) -> Template {
        Template {
            parts: vec![Part::Text(text.to_vec())],
        }
    }

    /// Whether every rendering is the same.
    pub(crate) fn is_fixed(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// Appends one rendering to `out`.
    pub(crate) fn render(&self, values: &Values, out: &mut Vec<u8>) {
        for part in &self.parts {
            match part {
                Part::Text(text) => out.extend_from_slice(text),
                Part::Counter => {
                    let n = values.counter.fetch_add(1, Ordering::Relaxed);
                    // Shard I of N takes I, I+N, I+2N, ...: no two shards collide.
                    let (index, count) = values.shard;
                    let value = n * count + index;
                    out.extend_from_slice(value.to_string().as_bytes());
                }
                Part::Random(None) => {
                    out.extend_from_slice((values.next() >> 32).to_string().as_bytes());
                }
                Part::Random(Some(n)) => {
                    out.extend_from_slice((values.next() % n).to_string().as_bytes());
                }
                Part::Uuid => {
                    let (a, b) = (values.next(), values.next());
                    let hi = (a & !0xf000) | 0x4000; // version 4
                    let lo = (b & !(0xc << 60)) | (0x8 << 60); // variant 10
                    let hex = format!("{hi:016x}{lo:016x}");
                    out.extend_from_slice(
                        format!(
                            "{}-{}-{}-{}-{}",
                            &hex[..8],
                            &hex[8..12],
                            &hex[12..16],
                            &hex[16..20],
                            &hex[20..]
                        )
                        .as_bytes(),
                    );
                }
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Where placeholder values come from: one counter shared by all workers, and a random
/// generator per worker (splitmix64; statistical quality is plenty for keys).
#[derive(Debug)]
pub(crate) struct Values {
    counter: Arc<AtomicU64>,
    state: Cell<u64>,
    /// (I, N) of a sharded run, (1, 1) otherwise.
    shard: (u64, u64),
}

impl Values {
    /// Values for one worker; `seed` should differ between workers.
    pub(crate) fn new(counter: Arc<AtomicU64>, seed: u64) -> Values {
        Values {
            counter,
            state: Cell::new(seed ^ 0x9e37_79b9_7f4a_7c15),
            shard: (1, 1),
        }
    }

    /// Values for shard `shard` of a sharded run: its counter values interleave with the
    /// other shards'.
    pub(crate) fn sharded(mut self, shard: Option<crate::plan::Shard>) -> Values {
        if let Some(shard) = shard {
            self.shard = (shard.index, shard.count);
        }
        self
    }

    /// The next random 64-bit number.
    pub(crate) fn next(&self) -> u64 {
        let state = self.state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        self.state.set(state);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Picks an index by weight: `cumulative` holds running totals of the weights.
    pub(crate) fn pick(&self, cumulative: &[u64]) -> usize {
        let total = cumulative.last().copied().unwrap_or(0);
        if cumulative.len() <= 1 || total == 0 {
            return 0;
        }
        let r = self.next() % total;
        cumulative.partition_point(|&c| c <= r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str, values: &Values) -> String {
        let mut out = Vec::new();
        Template::parse(text.as_bytes())
            .unwrap()
            .render(values, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn placeholders_are_filled_and_the_counter_is_shared() {
        let counter = Arc::new(AtomicU64::new(0));
        let a = Values::new(counter.clone(), 1);
        let b = Values::new(counter, 2);
        assert_eq!(render("/k/{{counter}}?x=1", &a), "/k/1?x=1");
        assert_eq!(render("/k/{{ counter }}", &b), "/k/2");
        let shard = |index| {
            Values::new(Arc::new(AtomicU64::new(0)), 3)
                .sharded(Some(crate::plan::Shard { index, count: 3 }))
        };
        let (second, third) = (shard(2), shard(3));
        let seen: Vec<String> = (0..2)
            .flat_map(|_| {
                [
                    render("{{counter}}", &second),
                    render("{{counter}}", &third),
                ]
            })
            .collect();
        assert_eq!(seen, ["2", "3", "5", "6"], "shards 2 and 3 of 3 interleave");
        let n: u64 = render("{{random:10}}", &a).parse().unwrap();
        assert!(n < 10);
        let uuid = render("{{uuid}}", &a);
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4", "{uuid}");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"), "{uuid}");
        assert_ne!(render("{{uuid}}", &a), uuid);
    }

    #[test]
    fn fixed_text_stays_fixed() {
        let t = Template::parse(b"/plain { not a placeholder }").unwrap();
        assert!(t.is_fixed());
        assert!(!Template::parse(b"/{{uuid}}").unwrap().is_fixed());
    }

    #[test]
    fn bad_placeholders_are_named() {
        let err = Template::parse(b"/{{count}}").unwrap_err();
        assert!(err.contains("'{{count}}'"), "{err}");
        assert!(Template::parse(b"/{{random:0}}").is_err());
        assert!(Template::parse(b"/{{uuid").unwrap_err().contains("closing"));
    }

    #[test]
    fn weights_are_respected() {
        let values = Values::new(Arc::new(AtomicU64::new(0)), 7);
        let cumulative = [1, 4]; // weights 1 and 3
        let mut counts = [0u32; 2];
        for _ in 0..40_000 {
            counts[values.pick(&cumulative)] += 1;
        }
        let share = f64::from(counts[1]) / 40_000.0;
        assert!((share - 0.75).abs() < 0.02, "{counts:?}");
    }
}
