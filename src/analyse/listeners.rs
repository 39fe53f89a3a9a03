//! Listeners piling up on an emitter, from `MaxListenersExceededWarning`. Node marks the
//! event's listener array as warned and creates a new, unmarked array only once every listener
//! is removed: a second warning for the same emitter and event proves the listeners were
//! removed in between (they pile up under concurrency but do not leak); a leak warns exactly
//! once ([`REPEATED`]).

use super::finding::{pair, Detail};
use crate::result::{NodeProcess, Severity};

/// Warnings for the same emitter and event at least this often mean listeners are removed.
const REPEATED: usize = 2;

/// Listeners pile up on an emitter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Listeners {
    /// The process.
    pub pid: u32,
    /// The emitter's class.
    pub emitter: String,
    /// The event.
    pub event: String,
    /// Listeners when Node warned.
    pub count: u64,
    /// The `.on()` call.
    pub location: Option<String>,
    /// The warning repeated: listeners are removed again.
    pub repeated: bool,
    /// The emitter as the heap trace names it (`the event emitter \`connector\``), when it
    /// found the listeners still attached.
    pub holder: Option<String>,
}

impl Detail for Listeners {
    fn severity(&self) -> Severity {
        if self.repeated {
            Severity::Info
        } else {
            Severity::Warning
        }
    }

    fn title(&self) -> String {
        let at = self
            .location
            .as_deref()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        let (count, event, emitter) = (self.count, &self.event, &self.emitter);
        match &self.holder {
            _ if self.repeated => format!(
                "{count} '{event}' listeners on one {emitter} at once{at}, removed again after each event"
            ),
            Some(holder) => format!(
                "Listener leak: {holder} gains a '{event}' listener per request, added{at}, and never loses it"
            ),
            None => format!("Listener leak: {count}+ '{event}' listeners on one {emitter}, added{at}"),
        }
    }

    fn advice(&self) -> String {
        let at = self
            .location
            .as_deref()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        if self.repeated {
            "Many requests wait on the same event at once; consider setMaxListeners or a \
             different design."
                .to_string()
        } else {
            format!(
                "A listener is added on every request{at} and never removed: use once() or remove \
                 it when the request ends."
            )
        }
    }

    fn evidence(&self) -> Vec<(String, String)> {
        vec![
            pair("process", self.pid.to_string()),
            pair("emitter", self.emitter.clone()),
            pair("event", self.event.clone()),
            pair("listeners", self.count.to_string()),
            pair(
                "added at",
                self.location
                    .clone()
                    .unwrap_or_else(|| "unknown".to_string()),
            ),
        ]
    }
}

pub(crate) fn leaks(process: &NodeProcess) -> Vec<Listeners> {
    let mut seen: Vec<(String, String, usize, usize)> = Vec::new();
    for (i, warning) in process.warnings.iter().enumerate() {
        if warning.name != "MaxListenersExceededWarning" {
            continue;
        }
        let key = (
            warning.emitter.clone().unwrap_or_default(),
            warning.event.clone().unwrap_or_default(),
        );
        let times = warning.occurrences as usize;
        match seen.iter_mut().find(|s| s.0 == key.0 && s.1 == key.1) {
            Some(entry) => entry.3 += times,
            None => seen.push((key.0, key.1, i, times)),
        }
    }
    seen.into_iter()
        .map(|(emitter, event, first, times)| {
            let warning = &process.warnings[first];
            Listeners {
                pid: process.pid,
                emitter,
                event,
                count: warning.count.unwrap_or(0),
                location: warning.location.clone(),
                repeated: times >= REPEATED,
                holder: None,
            }
        })
        .collect()
}
