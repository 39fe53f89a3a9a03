//! What a memory finding says: its title, advice and evidence, for a leak (confirmed by the
//! heap trace or not), a plateau, a suspect and a refuted leak.

use super::{Leak, Plateau, Refuted, Suspect};
use crate::analyse::finding::{pair, Confidence, Detail};
use crate::analyse::trial::{Kept, Trial};
use crate::result::{Confirmation, Severity, TrialOutcome};
use crate::units::{bytes, signed_bytes};

impl Detail for Leak {
    fn severity(&self) -> Severity {
        match self.confidence {
            Confidence::Low => Severity::Warning,
            _ => Severity::Critical,
        }
    }

    fn title(&self) -> String {
        match self.holder() {
            Some(holder) => format!("Memory leak held by {holder}: {}", self.summary()),
            None => format!("Memory leak: {}", self.summary()),
        }
    }

    fn advice(&self) -> String {
        if self.handles.iter().any(|h| h.0 == "Timeout") {
            return "Timers are created per request and never cleared, and each keeps what its \
                    callback uses alive: clearTimeout/clearInterval them when the request ends."
                .to_string();
        }
        match self.holder() {
            Some(holder) if holder.starts_with("the event emitter") => format!(
                "{holder} gains a listener per request that is never removed, and each keeps its \
                 request alive: use once(), or remove the listener when the request ends."
            ),
            Some(holder) => {
                let buffers = if self.external_per_request > self.heap_per_request {
                    ", most of it off the JS heap (Buffers/ArrayBuffers),"
                } else {
                    ""
                };
                format!(
                    "{holder} keeps what each request adds{buffers} and never lets it go: bound it \
                     (a size or an age limit) or stop keeping it; \"Where the memory goes\" shows \
                     the path to it."
                )
            }
            None if self.pid.is_none() => "RSS kept growing with requests; without the Node \
                probe this may also be allocator caching. Take heap snapshots (or run under a \
                memory profiler) before and after the load."
                .to_string(),
            None if self.external_per_request > self.heap_per_request => "Most of it is off \
                the JS heap (Buffers/ArrayBuffers): look for Buffers kept in a cache, map or \
                closure that is never pruned."
                .to_string(),
            None => "Look for objects stored per request in something that lives forever: \
                module-level maps and arrays, caches without a bound, listeners, closures."
                .to_string(),
        }
    }

    fn evidence(&self) -> Vec<(String, String)> {
        self.evidence_lines()
    }

    fn cause(&self) -> Option<&'static str> {
        (self.confidence != Confidence::Low).then_some("the memory leak")
    }

    fn confirmation(&self) -> Option<Confirmation> {
        Some(self.trial.confirmation())
    }
}

impl Detail for Plateau {
    fn severity(&self) -> Severity {
        Severity::Info
    }

    fn title(&self) -> String {
        format!(
            "Memory grew by {} and then levelled off (bounded cache or warm-up, not a leak)",
            bytes(self.0.total())
        )
    }

    fn advice(&self) -> String {
        "Nothing to fix if the size is expected; check the cache's bound if it is not.".to_string()
    }

    fn evidence(&self) -> Vec<(String, String)> {
        self.0.evidence_lines()
    }
}

impl Detail for Suspect {
    fn severity(&self) -> Severity {
        Severity::Info
    }

    fn title(&self) -> String {
        let why = self.0.suspect.as_deref().unwrap_or("the evidence is thin");
        format!(
            "Memory may be leaking: {} ({why}); not confirmed",
            self.0.summary()
        )
    }

    fn advice(&self) -> String {
        "Run again with --heap and a longer --duration: a fresh copy of the target under the \
         same requests decides whether the memory is kept."
            .to_string()
    }

    fn evidence(&self) -> Vec<(String, String)> {
        self.0.evidence_lines()
    }

    fn confirmation(&self) -> Option<Confirmation> {
        Some(self.0.trial.confirmation())
    }
}

impl Detail for Refuted {
    fn severity(&self) -> Severity {
        Severity::Info
    }

    fn title(&self) -> String {
        format!(
            "Memory grew by {} during the run, but a fresh copy under the same requests kept {} of the {} it predicts: warm-up, caches or compiled code, not a leak",
            bytes(self.leak.total()),
            bytes(self.kept.retained as f64),
            bytes(self.kept.predicted as f64)
        )
    }

    fn advice(&self) -> String {
        "Nothing to fix; if memory keeps growing in production, a longer run (-d) shows whether \
         it levels off."
            .to_string()
    }

    fn evidence(&self) -> Vec<(String, String)> {
        self.leak.evidence_lines()
    }

    fn confirmation(&self) -> Option<Confirmation> {
        Some(self.leak.trial.confirmation())
    }
}

impl Trial {
    /// The trace's verdict as saved beside the finding.
    fn confirmation(&self) -> Confirmation {
        let (outcome, kept, note) = match self {
            Trial::Confirmed(kept) => (TrialOutcome::Confirmed, Some(kept), None),
            Trial::Refuted(kept) => (TrialOutcome::Refuted, Some(kept), None),
            Trial::Undecided(why) => (TrialOutcome::Undecided, None, Some(why.clone())),
            Trial::Pending => (TrialOutcome::Undecided, None, None),
        };
        Confirmation {
            outcome,
            retained: kept.map(|k| k.retained),
            predicted: kept.map(|k| k.predicted),
            holder: kept.and_then(|k| k.holder.clone()),
            note,
        }
    }

    /// One line of evidence: what the fresh copy kept, or why it did not decide.
    fn evidence(&self) -> Option<(String, String)> {
        let kept = |k: &Kept| {
            format!(
                "kept {} of the {} predicted ({:.0} %)",
                bytes(k.retained as f64),
                bytes(k.predicted as f64),
                100.0 * k.retained as f64 / (k.predicted as f64).max(1.0)
            )
        };
        match self {
            Trial::Confirmed(k) => Some(pair("confirmed by a fresh copy", kept(k))),
            Trial::Refuted(k) => Some(pair("refuted by a fresh copy", kept(k))),
            Trial::Undecided(why) => Some(pair("not confirmed", why.clone())),
            Trial::Pending => None,
        }
    }
}

impl Leak {
    /// Heap and external memory retained, bytes.
    pub(super) fn total(&self) -> f64 {
        self.heap_growth.max(0.0) + self.external_growth.max(0.0)
    }

    /// The code the heap trace found holding it, once the trace confirmed the leak.
    fn holder(&self) -> Option<&str> {
        match &self.trial {
            Trial::Confirmed(kept) => kept.holder.as_deref(),
            _ => None,
        }
    }

    /// "1.2 kB of memory retained per request (…), 12 MB in all after 10000 requests, …"
    fn summary(&self) -> String {
        let per_request = self.heap_per_request + self.external_per_request;
        let what = if self.pid.is_none() { "RSS" } else { "memory" };
        let split = if self.pid.is_some() && self.external_per_request >= 1.0 {
            format!(
                " ({} heap + {} external)",
                bytes(self.heap_per_request),
                bytes(self.external_per_request)
            )
        } else {
            String::new()
        };
        format!(
            "{} of {what} retained per request{split}, {} in all after {} requests, still held after the cooldown",
            bytes(per_request),
            bytes(self.total()),
            self.requests
        )
    }

    fn evidence_lines(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(pid) = self.pid {
            out.push(pair("process", pid.to_string()));
            out.push(pair(
                "heap retained after full GC",
                signed_bytes(self.heap_growth),
            ));
            out.push(pair(
                "external retained after full GC",
                signed_bytes(self.external_growth),
            ));
        } else {
            out.push(pair("RSS growth", signed_bytes(self.heap_growth)));
        }
        out.push(pair(
            "per request",
            format!(
                "{} heap, {} external",
                bytes(self.heap_per_request),
                bytes(self.external_per_request)
            ),
        ));
        if let Some(r2) = self.r2 {
            out.push(pair("fit against requests (r²)", format!("{r2:.3}")));
        }
        for (kind, before, after) in &self.handles {
            out.push((
                format!("{kind} handles"),
                format!("{before} before the load, {after} at the end"),
            ));
        }
        out.push(pair(
            "given back by the cooldown",
            format!("{:.0} %", self.returned.max(0.0) * 100.0),
        ));
        if let Some(seconds) = self.exhaustion_s {
            out.push(pair("heap limit reached in", duration(seconds)));
        }
        let confidence = match self.confidence {
            Confidence::Low => "low (RSS only)",
            Confidence::Medium => "medium (GC floors)",
            Confidence::High => "high",
        };
        out.push(pair("confidence", confidence.to_string()));
        out.extend(self.trial.evidence());
        out
    }
}

fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 120.0 => format!("about {s:.0} s at the load's rate"),
        s if s < 7200.0 => format!("about {:.0} min at the load's rate", s / 60.0),
        s => format!("about {:.1} h at the load's rate", s / 3600.0),
    }
}
