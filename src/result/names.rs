//! The closed sets of names on the wire: a finding's kind and severity, why the load stopped,
//! a phase, a garbage collection's kind. Each is an enum whose JSON spelling is declared once,
//! beside its variant, by [`wire_names!`]: serde, the committed schema (which then lists the
//! allowed values), `as_str` and `parse` all read that one spelling, and a `match` on the enum
//! makes the compiler name every place a new value must be handled.

/// Declares a wire enum: each variant with its JSON spelling. Generates serde and schema
/// derives with that spelling, `ALL` (in declaration order, which is also the order of `Ord`),
/// `as_str`, `parse` (any case) and `Display`.
macro_rules! wire_names {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Its spelling on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The value spelt `text`, in any case.
            pub fn parse(text: &str) -> Option<$name> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str().eq_ignore_ascii_case(text))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_names! {
    /// How much a finding matters, least first.
    pub enum Severity {
        /// Context for reading the numbers.
        Info = "info",
        /// A problem worth fixing.
        Warning = "warning",
        /// The run's main problem.
        Critical = "critical",
    }
}

wire_names! {
    /// The kind of a finding: `kind` in the result, and `finding!=KIND` in thresholds. The
    /// analysis declares what each kind finds beside its detector (`analyse::finding`).
    pub enum FindingKind {
        /// The target exited during the run.
        TargetCrashed = "targetCrashed",
        /// Requests failed.
        Errors = "errors",
        /// Responses outside 2xx.
        Non2xx = "non2xx",
        /// Memory grows with requests and is not given back.
        MemoryLeak = "memoryLeak",
        /// Memory grew, then levelled off.
        MemoryPlateau = "memoryPlateau",
        /// Listeners pile up on an emitter.
        ListenerLeak = "listenerLeak",
        /// Long synchronous work blocks the event loop.
        BlockedEventLoop = "blockedEventLoop",
        /// Garbage collection takes a large share of the time.
        GcPressure = "gcPressure",
        /// The server waits while requests are slow.
        IoWait = "ioWait",
        /// The target's CPU was the limit.
        CpuSaturated = "cpuSaturated",
        /// harness or the machine was saturated.
        GeneratorLimited = "generatorLimited",
        /// Memory kept that may be a leak, which no heap trace decided.
        LeakSuspect = "leakSuspect",
        /// Memory kept in the run that a fresh copy of the target did not keep.
        LeakRefuted = "leakRefuted",
    }
}

wire_names! {
    /// Why the load ended.
    pub enum StopReason {
        /// It ran its duration or amount.
        Completed = "completed",
        /// A signal (Ctrl-C, SIGTERM) stopped it.
        Interrupted = "interrupted",
        /// `--bailout` errors were reached.
        BailedOut = "bailedOut",
        /// The target exited during the load.
        TargetExited = "targetExited",
    }
}

wire_names! {
    /// The names of a run's phases (and of the heap trace's, on its second copy of the
    /// target).
    pub enum PhaseName {
        /// Idle, before the load.
        Baseline = "baseline",
        /// Load sent before measuring (`--warmup`), or the heap trace's warm-up.
        Warmup = "warmup",
        /// The measured load.
        Load = "load",
        /// Idle, after the load.
        Cooldown = "cooldown",
        /// The CPU trace: unmeasured load with the CPU profiler.
        Profile = "profile",
        /// The I/O trace: unmeasured load whose requests the probe follows.
        IoTrace = "io-trace",
        /// The heap trace's load, between its first two snapshots.
        Trace = "trace",
        /// The heap trace's idle time before its last snapshot.
        TraceCooldown = "trace-cooldown",
        /// A step of the capacity search (`--find-max`) other than the one at its answer,
        /// which is the measured load.
        Search = "search",
    }
}

wire_names! {
    /// What limited the server in a capacity search (`--find-max`).
    pub enum LimitKind {
        /// The Node event loop was busy nearly all the time: the app's own code.
        EventLoop = "eventLoop",
        /// The target's CPU (without the probe): its processes used their cores.
        Cpu = "cpu",
        /// The loop idled while requests waited: a downstream service, a database, a pool
        /// or a queue.
        Waiting = "waiting",
        /// The connections: every one busy, each request no slower than below the limit.
        Connections = "connections",
        /// harness itself: its workers used their cores, or were late (waiting for a core).
        Harness = "harness",
        /// The machine: the target's loop, 50 % busy or more, was busy by the clock more
        /// than a third longer than the CPU it got, on a machine with no core to spare: it
        /// waited for a core that other work held.
        Machine = "machine",
        /// The target exited during the search.
        TargetExited = "targetExited",
        /// Nothing measured says (no probe and no CPU figure, or a limit not found).
        Unknown = "unknown",
    }
}

wire_names! {
    /// How a capacity search ended.
    pub enum SearchEnd {
        /// The answer was found to the precision and confirmed by a step at it.
        Found = "found",
        /// Even the lowest rate tried failed a rule.
        NonePassed = "nonePassed",
        /// harness was the limit before the server was.
        HarnessLimit = "harnessLimit",
        /// The connection count capped the rate.
        ConnectionLimit = "connectionLimit",
        /// The target exited.
        TargetExited = "targetExited",
        /// 20 steps, or `--max-duration`, before the answer was confirmed.
        OutOfSteps = "outOfSteps",
        /// Ctrl-C or SIGTERM.
        Interrupted = "interrupted",
    }
}

wire_names! {
    /// What the heap trace on a fresh copy of the target said of the measured run's leak.
    pub enum TrialOutcome {
        /// The copy kept enough of what the measured run predicts.
        Confirmed = "confirmed",
        /// The copy kept far less: not a leak.
        Refuted = "refuted",
        /// No trace decided (none ran, or it did not finish).
        Undecided = "undecided",
    }
}

wire_names! {
    /// What holds a group of leaked objects.
    pub enum RetainerKind {
        /// A closure on the path from the GC roots.
        Function = "function",
        /// A closure's context variable (a module's `const`, a captured `let`).
        Variable = "variable",
        /// An EventEmitter holding listeners.
        Emitter = "emitter",
    }
}

wire_names! {
    /// The kind of a garbage collection, as the probe reports it.
    pub enum GcKind {
        /// A young-generation collection (scavenge).
        Minor = "minor",
        /// A full mark-compact of the old generation.
        Major = "major",
        /// An incremental marking step.
        Incremental = "incremental",
        /// Weak callbacks.
        Weakcb = "weakcb",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_its_serde_spelling_and_parses_back() {
        fn check<T>(all: &[T], as_str: fn(&T) -> &'static str, parse: fn(&str) -> Option<T>)
        where
            T: serde::Serialize + PartialEq + std::fmt::Debug,
        {
            let names: std::collections::BTreeSet<&str> = all.iter().map(as_str).collect();
            assert_eq!(names.len(), all.len(), "two values share a name");
            for value in all {
                let json = serde_json::to_string(value).unwrap();
                assert_eq!(json, format!("\"{}\"", as_str(value)));
                assert_eq!(
                    parse(&as_str(value).to_ascii_uppercase()).as_ref(),
                    Some(value)
                );
            }
        }
        check(Severity::ALL, |v| v.as_str(), Severity::parse);
        check(FindingKind::ALL, |v| v.as_str(), FindingKind::parse);
        check(StopReason::ALL, |v| v.as_str(), StopReason::parse);
        check(PhaseName::ALL, |v| v.as_str(), PhaseName::parse);
        check(GcKind::ALL, |v| v.as_str(), GcKind::parse);
        check(RetainerKind::ALL, |v| v.as_str(), RetainerKind::parse);
        check(TrialOutcome::ALL, |v| v.as_str(), TrialOutcome::parse);
        assert_eq!(FindingKind::parse("leak"), None);
        assert!(Severity::Critical > Severity::Warning && Severity::Warning > Severity::Info);
    }
}
