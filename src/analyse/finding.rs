//! A finding: one kind's evidence as data, how much it matters, what it says, and the failed
//! requests it caused.
//!
//! Each kind is one declaration beside its detector: a struct of evidence that implements
//! [`Detail`] (severity, title, advice, evidence, and whether it can cause failures or wants
//! a CPU profile). The list of kinds is one [`findings!`] invocation (in `analyse/mod.rs`),
//! which generates [`Found`] and ties each variant to its wire name
//! ([`crate::result::FindingKind`]) and its rank. Adding a kind is a variant of
//! `FindingKind`, a line in that list, and the detector's own file.

use crate::result::{FindingKind, Severity};

use super::errors::ERROR_RATE_HIGH;

/// What every kind of finding says about itself.
pub(crate) trait Detail {
    /// How much it matters on its own (the failures it caused may raise it).
    fn severity(&self) -> Severity;
    /// One line that says what was found.
    fn title(&self) -> String;
    /// What to do next.
    fn advice(&self) -> String;
    /// The numbers behind it, as label and value pairs.
    fn evidence(&self) -> Vec<(String, String)>;
    /// How the errors finding names this finding when failed requests are its consequence
    /// ("the blocked event loop"); `None` when they cannot be.
    fn cause(&self) -> Option<&'static str> {
        None
    }
    /// Why a CPU profile would name code worth looking at ("blocked event loop"), if it would.
    fn wants_profile(&self) -> Option<&'static str> {
        None
    }
    /// For a memory finding, what the heap trace said of it.
    fn confirmation(&self) -> Option<crate::result::Confirmation> {
        None
    }
}

/// Declares the kinds of finding, most important first among findings of one severity:
/// `Variant(EvidenceType)`, where `Variant` is also the `FindingKind` it is saved as.
macro_rules! findings {
    ($( $(#[$meta:meta])* $kind:ident($detail:ty), )+) => {
        /// The evidence of one finding, by kind.
        #[derive(Debug, Clone, PartialEq)]
        pub(crate) enum Found {
            $( $(#[$meta])* $kind($detail), )+
        }

        impl Found {
            /// Its kind on the wire.
            pub(crate) fn kind(&self) -> $crate::result::FindingKind {
                match self {
                    $( Found::$kind(_) => $crate::result::FindingKind::$kind, )+
                }
            }

            /// What it says about itself.
            pub(crate) fn detail(&self) -> &dyn $crate::analyse::finding::Detail {
                match self {
                    $( Found::$kind(detail) => detail, )+
                }
            }

            /// Order among findings of the same severity: the order of declaration.
            fn rank(&self) -> usize {
                let kinds = [$( $crate::result::FindingKind::$kind ),+];
                kinds.iter().position(|k| *k == self.kind()).unwrap_or(kinds.len())
            }
        }

        $(
            impl From<$detail> for $crate::analyse::finding::Finding {
                fn from(detail: $detail) -> Self {
                    $crate::analyse::finding::Finding::new(Found::$kind(detail))
                }
            }
        )+

        /// Every kind the analysis can find, in rank order.
        #[cfg(test)]
        pub(crate) const KINDS: &[$crate::result::FindingKind] =
            &[$( $crate::result::FindingKind::$kind ),+];
    };
}
pub(crate) use findings;

/// One thing the analysis found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    /// Its kind and evidence.
    pub found: super::Found,
    /// Requests that failed because of it, when it is their cause.
    pub consequence: Option<Consequence>,
}

impl Finding {
    pub(crate) fn new(found: super::Found) -> Finding {
        Finding {
            found,
            consequence: None,
        }
    }

    /// Its kind on the wire.
    pub(crate) fn kind(&self) -> FindingKind {
        self.found.kind()
    }

    /// How much it matters: its own weight, or the failures it caused, whichever is more.
    pub(crate) fn severity(&self) -> Severity {
        let own = self.found.detail().severity();
        self.consequence
            .as_ref()
            .map_or(own, |c| own.max(c.severity()))
    }

    /// One line that says what was found, and how many requests failed as a result.
    pub(crate) fn title(&self) -> String {
        let title = self.found.detail().title();
        match &self.consequence {
            Some(consequence) => format!("{title}; {}", consequence.text()),
            None => title,
        }
    }

    /// What to do next.
    pub(crate) fn advice(&self) -> String {
        self.found.detail().advice()
    }

    /// The numbers behind it.
    pub(crate) fn evidence(&self) -> Vec<(String, String)> {
        self.found.detail().evidence()
    }

    /// Order: most severe first; within a severity, in the order the kinds are declared.
    pub(crate) fn order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
        b.severity()
            .cmp(&a.severity())
            .then(a.found.rank().cmp(&b.found.rank()))
    }
}

/// How sure a memory finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Confidence {
    /// RSS only: allocators keep freed memory, so growth may not be a leak.
    Low,
    /// Forced-GC floors only.
    Medium,
    /// A clean trend over many collections, or off-heap growth measured after full GCs.
    High,
}

/// Requests that failed because of the problem they are attached to (a blocked loop, GC
/// pressure, a crash, a leak): that problem is the verdict, the failures its consequence.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Consequence {
    /// Errors, timeouts included.
    pub errors: u64,
    /// errors / (responses + errors).
    pub rate: f64,
    /// The most frequent kind.
    pub main_kind: String,
}

impl Consequence {
    fn severity(&self) -> Severity {
        if self.rate >= ERROR_RATE_HIGH {
            Severity::Critical
        } else {
            Severity::Warning
        }
    }

    fn text(&self) -> String {
        format!(
            "{:.1} % of requests failed as a result, mostly {}",
            self.rate * 100.0,
            self.main_kind
        )
    }
}

/// The hot code of a process, from its CPU profile.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hot {
    /// "`busyWork` (blocked-loop.js:15)", or the Node function an app function called.
    pub code: String,
    /// Share of the profile's busy time.
    pub share: f64,
    /// Whether it is the app's own code (else no app function was on the stack).
    pub app: bool,
}

/// One line of evidence.
pub(crate) fn pair(label: &str, value: String) -> (String, String) {
    (label.to_string(), value)
}

/// The hot code and its share, when a CPU profile named it.
pub(crate) fn hot_evidence(hot: Option<&Hot>) -> Vec<(String, String)> {
    hot.map(|hot| {
        vec![pair(
            "hot code (CPU profile)",
            format!("{}, {:.0} % of the busy time", hot.code, hot.share * 100.0),
        )]
    })
    .unwrap_or_default()
}

/// A headline figure, then how busy the target was: CPU, and event-loop utilisation for Node.
pub(crate) fn busy_evidence(
    first: (String, String),
    cpu: f64,
    elu: Option<f64>,
) -> Vec<(String, String)> {
    let mut out = vec![first, pair("target CPU", format!("{cpu:.0} % of a core"))];
    if let Some(elu) = elu {
        out.push(pair(
            "event-loop utilisation",
            format!("{:.0} %", elu * 100.0),
        ));
    }
    out
}
