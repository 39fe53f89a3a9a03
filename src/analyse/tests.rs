//! Detectors on synthetic series, built on a small recorded result (`testdata/base.json`).

use super::finding::{Confidence, Detail};
use super::memory::Leak;
use super::*;
use crate::result::{
    FindingKind, Floor, GcEvent, GcKind, NodeSample, Phase, PhaseName, ProcessSample, SeriesEntry,
    Warning,
};

const MB: f64 = 1e6;
/// Requests per second of the synthetic load.
const RATE: u64 = 1000;
/// Seconds of synthetic load.
const SECONDS: u64 = 20;
/// Where the load starts on the run's clock.
const START: f64 = 3.0;

/// A result with a 20 s load at 1000 requests/s after a 3 s baseline, and a 6 s cooldown.
fn run() -> RunResult {
    let mut result: RunResult = serde_json::from_str(include_str!("testdata/base.json")).unwrap();
    result.measure_start = START;
    result.duration = SECONDS as f64;
    result.requests.total = RATE * SECONDS;
    result.requests.overall = RATE as f64;
    result.series = (0..SECONDS)
        .map(|second| SeriesEntry {
            second,
            covered: 1.0,
            requests: RATE,
            bytes: 0,
            errors: 0,
            latency_p50: 1.0,
            latency_p90: 1.0,
            latency_p99: 1.0,
            latency_max: 1.0,
            histogram: None,
        })
        .collect();
    let end = START + SECONDS as f64;
    result.phases = vec![
        phase(PhaseName::Baseline, 0.0, START),
        phase(PhaseName::Load, START, end),
        phase(PhaseName::Cooldown, end, end + 6.0),
    ];
    let node = &mut result.node[0];
    node.samples.clear();
    node.gc.clear();
    node.warnings.clear();
    result
}

fn phase(name: PhaseName, start: f64, end: f64) -> Phase {
    Phase::new(name, start, end)
}

/// Sets the three floors (heap and external, bytes).
fn floors(result: &mut RunResult, heap: [f64; 3], external: [f64; 3]) {
    let times = [
        START,
        START + SECONDS as f64 + 0.1,
        START + SECONDS as f64 + 6.0,
    ];
    result.node[0].floors = [PhaseName::Baseline, PhaseName::Load, PhaseName::Cooldown]
        .iter()
        .enumerate()
        .map(|(i, phase)| Floor {
            t: times[i],
            phase: *phase,
            heap_used: heap[i] as u64,
            heap_total: (heap[i] * 2.0) as u64,
            external: external[i] as u64,
            array_buffers: external[i] as u64,
            rss: 50_000_000,
            ms: 5.0,
        })
        .collect();
}

/// Natural major GCs every second of the load with heap-after `heap(second)`.
fn majors(result: &mut RunResult, heap: impl Fn(f64) -> f64) {
    result.node[0].gc = (1..SECONDS)
        .map(|s| GcEvent {
            t: START + s as f64,
            kind: GcKind::Major,
            ms: 5.0,
            heap_after: Some(heap(s as f64) as u64),
        })
        .collect();
}

fn kinds(result: &RunResult) -> Vec<FindingKind> {
    analyse(result).findings.iter().map(Finding::kind).collect()
}

fn leak(result: &RunResult) -> Leak {
    let findings = analyse(result).findings;
    match findings.iter().find_map(|f| match &f.found {
        Found::MemoryLeak(leak) => Some(leak.clone()),
        _ => None,
    }) {
        Some(leak) => leak,
        None => panic!("no leak: {findings:?}"),
    }
}

#[test]
fn steady_leak_is_found_with_its_rate_and_a_clean_fit() {
    let mut result = run();
    let per_request = 500.0;
    let grown = per_request * (RATE * SECONDS) as f64;
    floors(
        &mut result,
        [4.0 * MB, 4.0 * MB + grown, 4.0 * MB + grown],
        [2.0 * MB; 3],
    );
    majors(&mut result, |s| 4.0 * MB + per_request * RATE as f64 * s);
    let leak = leak(&result);
    assert!(
        (leak.heap_per_request - per_request).abs() < 20.0,
        "{leak:?}"
    );
    assert!(leak.r2.unwrap() > 0.99);
    assert_eq!(leak.confidence, Confidence::High);
    assert!(leak.exhaustion_s.is_some());
    let analysis = analyse(&result);
    assert_eq!(
        analysis.verdict().map(Finding::kind),
        Some(FindingKind::MemoryLeak)
    );
}

#[test]
fn growth_that_levels_off_is_a_plateau_not_a_leak() {
    let mut result = run();
    floors(&mut result, [4.0 * MB, 14.0 * MB, 14.0 * MB], [2.0 * MB; 3]);
    majors(&mut result, |s| 4.0 * MB + 10.0 * MB * (s / 6.0).min(1.0));
    assert_eq!(kinds(&result), [FindingKind::MemoryPlateau]);
}

#[test]
fn a_step_then_flat_is_a_plateau() {
    let mut result = run();
    floors(&mut result, [4.0 * MB, 24.0 * MB, 24.0 * MB], [2.0 * MB; 3]);
    majors(&mut result, |s| if s < 2.0 { 4.0 * MB } else { 24.0 * MB });
    assert_eq!(kinds(&result), [FindingKind::MemoryPlateau]);
}

#[test]
fn sawtooth_garbage_is_not_a_leak() {
    let mut result = run();
    floors(&mut result, [4.0 * MB, 4.6 * MB, 4.6 * MB], [2.0 * MB; 3]);
    majors(&mut result, |s| {
        4.0 * MB
            + if s as u64 % 2 == 0 {
                8.0 * MB
            } else {
                0.5 * MB
            }
    });
    assert!(kinds(&result).is_empty(), "{:?}", kinds(&result));
}

#[test]
fn noisy_flat_memory_is_not_a_leak() {
    let mut result = run();
    floors(
        &mut result,
        [10.0 * MB, 10.9 * MB, 10.4 * MB],
        [2.0 * MB, 2.3 * MB, 2.1 * MB],
    );
    majors(&mut result, |s| 10.0 * MB + ((s * 7.3).sin() * MB));
    assert!(kinds(&result).is_empty(), "{:?}", kinds(&result));
}

#[test]
fn a_rise_that_returns_in_the_cooldown_was_in_flight_work() {
    let mut result = run();
    floors(
        &mut result,
        [4.0 * MB, 60.0 * MB, 5.0 * MB],
        [2.0 * MB, 30.0 * MB, 2.0 * MB],
    );
    assert!(kinds(&result).is_empty(), "{:?}", kinds(&result));
}

#[test]
fn an_off_heap_leak_is_found_from_the_floors_alone() {
    let mut result = run();
    let grown = 1000.0 * (RATE * SECONDS) as f64;
    floors(
        &mut result,
        [4.0 * MB, 4.5 * MB, 4.5 * MB],
        [2.0 * MB, 2.0 * MB + grown, 2.0 * MB + grown],
    );
    let leak = leak(&result);
    assert!((leak.external_per_request - 1000.0).abs() < 1.0, "{leak:?}");
    assert_eq!(leak.confidence, Confidence::High);
    assert!(leak.advice().contains("off the JS heap"));
}

/// With few requests, kept growth is only a suspect: the heap trace decides it.
#[test]
fn too_few_requests_make_a_suspect_not_a_leak() {
    let mut result = run();
    result.requests.total = 500;
    floors(&mut result, [4.0 * MB, 40.0 * MB, 40.0 * MB], [2.0 * MB; 3]);
    assert_eq!(kinds(&result), [FindingKind::LeakSuspect]);
    result.requests.total = 150;
    assert!(kinds(&result).is_empty());
}

/// The heap trace's record and one analysed process that kept `retained` bytes, held by the
/// variable `sessions`.
fn traced(result: &mut RunResult, retained: u64, predicted: u64) {
    let mut trace = crate::result::HeapTrace::new("memory leak found");
    trace.pid = Some(99);
    trace.predicted = Some(predicted);
    result.heap_trace = Some(trace);
    let retainer = crate::result::Retainer {
        kind: crate::result::RetainerKind::Variable,
        name: "sessions".to_string(),
        location: None,
        class: None,
    };
    let group = crate::result::LeakGroup {
        class: "Object".to_string(),
        count: 20_000,
        bytes: retained,
        retainer: Some(retainer),
        path: Vec::new(),
        path_share: 1.0,
        holder_retains: None,
        function: None,
        after_load: 0,
    };
    result.heap = vec![crate::result::HeapProcess {
        pid: 99,
        snapshots: Vec::new(),
        analysis: Some(crate::result::HeapAnalysis {
            leaked_objects: 20_000,
            leaked_bytes: retained,
            grown_bytes: retained as i64,
            groups: vec![group],
            classes: Vec::new(),
        }),
        note: None,
        allocations: Vec::new(),
    }];
}

/// A fresh copy that keeps what the measured run predicts confirms the leak, which then
/// names its holder; one that keeps next to nothing refutes it, and it is not the verdict.
#[test]
fn the_heap_trace_confirms_or_refutes_a_leak() {
    let mut result = run();
    let grown = 500.0 * (RATE * SECONDS) as f64;
    floors(
        &mut result,
        [4.0 * MB, 4.0 * MB + grown, 4.0 * MB + grown],
        [2.0 * MB; 3],
    );
    traced(&mut result, 12_000_000, 16_000_000);
    let analysis = analyse(&result);
    let verdict = analysis.verdict().unwrap();
    assert_eq!(verdict.kind(), FindingKind::MemoryLeak);
    assert!(
        verdict
            .title()
            .starts_with("Memory leak held by variable `sessions`"),
        "{}",
        verdict.title()
    );
    assert!(verdict.advice().contains("variable `sessions` keeps"));

    traced(&mut result, 20_000, 16_000_000);
    let analysis = analyse(&result);
    assert_eq!(kinds(&result), [FindingKind::LeakRefuted]);
    assert!(analysis.verdict().is_none());
    let title = analysis.findings[0].title();
    assert!(
        title.contains("a fresh copy under the same requests kept 20 kB"),
        "{title}"
    );
}

/// A suspect under the floor that the trace confirms is a leak, and the verdict.
#[test]
fn a_confirmed_suspect_is_the_leak_verdict() {
    let mut result = run();
    result.requests.total = 500;
    floors(&mut result, [4.0 * MB, 5.9 * MB, 5.9 * MB], [2.0 * MB; 3]);
    assert_eq!(kinds(&result), [FindingKind::LeakSuspect]);
    traced(&mut result, 900_000, 1_900_000);
    assert_eq!(
        analyse(&result).verdict().map(Finding::kind),
        Some(FindingKind::MemoryLeak)
    );
}

/// A table filled within the first second and then only replaced: the natural collections
/// of the load are all at the same height above the baseline's floor.
#[test]
fn growth_that_stops_in_the_first_second_is_a_plateau() {
    let mut result = run();
    floors(&mut result, [4.0 * MB, 12.0 * MB, 12.0 * MB], [2.0 * MB; 3]);
    majors(&mut result, |s| 12.0 * MB + (s % 3.0) * 0.2 * MB);
    assert_eq!(kinds(&result), [FindingKind::MemoryPlateau]);
}

#[test]
fn rss_growth_without_the_probe_is_a_low_confidence_leak() {
    let mut result = run();
    result.node.clear();
    let points = result.process.as_mut().unwrap();
    points.points = (0..290)
        .map(|i| {
            let t = i as f64 * 0.1;
            let served = ((t - START).clamp(0.0, SECONDS as f64)) * RATE as f64;
            ProcessSample {
                t,
                rss: (30.0 * MB + served * 2000.0) as u64,
                cpu: 50.0,
                threads: 4,
                fds: 10,
                processes: 1,
                harness_cpu: 20.0,
                system_cpu: 50.0,
                cores: 2,
                others: Vec::new(),
            }
        })
        .collect();
    let leak = leak(&result);
    assert_eq!(leak.confidence, Confidence::Low);
    assert!((leak.heap_per_request - 2000.0).abs() < 50.0, "{leak:?}");
}

fn samples(result: &mut RunResult, delay: f64, elu: f64) {
    result.node[0].samples = (0..200)
        .map(|i| NodeSample {
            t: START + i as f64 * 0.1,
            delay_p50: delay / 2.0,
            delay_p99: delay,
            delay_max: delay,
            elu,
            rss: 0,
            heap_total: 0,
            heap_used: 0,
            external: 0,
            array_buffers: 0,
            handles: Default::default(),
            gc_observed: true,
        })
        .collect();
}

#[test]
fn gc_share_counts_only_the_intervals_whose_gc_events_were_observed() {
    let mut result = run();
    samples(&mut result, 1.0, 0.5);
    let mut gc = Vec::new();
    for (i, sample) in result.node[0].samples.iter_mut().enumerate() {
        // Every other interval unobserved; the observed ones spent 20 ms of 100 in GC.
        sample.gc_observed = i % 2 == 0;
        if sample.gc_observed {
            gc.push(GcEvent {
                t: sample.t,
                kind: GcKind::Minor,
                ms: 20.0,
                heap_after: None,
            });
        }
    }
    result.node[0].gc = gc;
    let analysis = analyse(&result);
    let finding = analysis
        .findings
        .iter()
        .find(|f| f.kind() == FindingKind::GcPressure)
        .expect("20 % of the time in GC is GC pressure");
    let Found::GcPressure(super::gc::GcPressure {
        share,
        observed,
        worst_second,
        ..
    }) = &finding.found
    else {
        unreachable!()
    };
    assert!((share - 0.2).abs() < 0.01, "{share}");
    assert!((observed - 0.5).abs() < 0.02, "{observed}");
    assert!((worst_second - 0.2).abs() < 0.02, "{worst_second}");
}

/// Process samples through the load at `cpu` percent of a core.
fn busy(result: &mut RunResult, cpu: f64) {
    result.process.as_mut().unwrap().points = (0..200)
        .map(|i| ProcessSample {
            t: START + i as f64 * 0.1,
            rss: 0,
            cpu,
            threads: 4,
            fds: 10,
            processes: 1,
            harness_cpu: 1.0,
            system_cpu: 60.0,
            cores: 2,
            others: Vec::new(),
        })
        .collect();
}

/// Serves `per_second` responses a second instead of 1000.
fn served(result: &mut RunResult, per_second: u64) {
    result.requests.total = per_second * SECONDS;
    result.requests.overall = per_second as f64;
    for second in &mut result.series {
        second.requests = per_second;
    }
}

/// Times out `count` requests.
fn timeouts(result: &mut RunResult, count: u64) {
    result.errors = count;
    result.timeouts = count;
    result.errors_by_kind.insert(
        "timeout".to_string(),
        crate::result::ErrorCount {
            count,
            example: None,
        },
    );
}

/// A CPU profile whose hot code is `function` (app.js:`line`), 90 % of the busy time.
fn profile(result: &mut RunResult, function: &str, line: u32) {
    result.profiles = vec![profile::CpuProfile {
        pid: Some(result.node[0].pid),
        reason: "blocked event loop".to_string(),
        file: None,
        responses: Some(100),
        seconds: 3.0,
        samples: 3000,
        interval_us: 1000.0,
        busy_ms: 3000.0,
        gc_ms: 0.0,
        idle_ms: 0.0,
        program_ms: 0.0,
        hot: vec![profile::HotFunction {
            function: function.to_string(),
            url: "file:///srv/app.js".to_string(),
            line,
            column: 1,
            app: true,
            ms: 2700.0,
            share: 0.9,
            callee: None,
            within: None,
        }],
        by_self: Vec::new(),
        by_total: Vec::new(),
        flame: Vec::new(),
        allocations: Vec::new(),
    }];
}

#[test]
fn long_callbacks_are_a_blocked_loop_named_by_the_profile() {
    let mut result = run();
    // 40 requests a second with the loop always busy: 25 ms of loop time each.
    samples(&mut result, 210.0, 1.0);
    served(&mut result, 40);
    busy(&mut result, 100.0);
    profile(&mut result, "renderPage", 12);
    let analysis = analyse(&result);
    let verdict = analysis.verdict().unwrap();
    assert_eq!(verdict.kind(), FindingKind::BlockedEventLoop);
    assert_eq!(verdict.severity(), Severity::Critical);
    assert!(
        verdict
            .title()
            .starts_with("Blocked event loop: `renderPage` (app.js:12) holds it for about 25 ms per request (90 % of the busy time)"),
        "{}",
        verdict.title()
    );
    assert!(verdict.advice().contains("renderPage"));
}

#[test]
fn short_callbacks_queued_at_capacity_are_not_a_blocked_loop() {
    let mut result = run();
    // The same delays at 1000 requests a second: 1 ms of loop time each, queued.
    samples(&mut result, 210.0, 1.0);
    busy(&mut result, 100.0);
    let analysis = analyse(&result);
    let verdict = analysis.verdict().unwrap();
    assert_eq!(verdict.kind(), FindingKind::CpuSaturated);
    assert!(!kinds(&result).contains(&FindingKind::BlockedEventLoop));
    assert_eq!(verdict.severity(), Severity::Warning);
    assert!(
        verdict.title().starts_with("At capacity")
            && verdict.title().contains("1.0 ms of CPU per request")
            && verdict.title().contains("queued 210 ms"),
        "{}",
        verdict.title()
    );
    assert!(verdict.found.detail().wants_profile().is_some());
}

/// A loop half busy whose process used 9 % of a core was waiting for one: the delay is the
/// machine's, not a callback's. With the CPU its utilisation implies, it is blocked.
#[test]
fn a_delayed_loop_without_the_cpu_to_show_for_it_waited_for_a_core() {
    let mut result = run();
    samples(&mut result, 60.0, 0.5);
    busy(&mut result, 9.0);
    assert!(!kinds(&result).contains(&FindingKind::BlockedEventLoop));
    busy(&mut result, 50.0);
    assert!(kinds(&result).contains(&FindingKind::BlockedEventLoop));
}

#[test]
fn timeouts_that_come_with_a_blocked_loop_are_its_consequence() {
    let mut result = run();
    samples(&mut result, 120.0, 1.0);
    served(&mut result, 40);
    busy(&mut result, 100.0);
    timeouts(&mut result, 500);
    let analysis = analyse(&result);
    let verdict = analysis.verdict().unwrap();
    assert_eq!(verdict.kind(), FindingKind::BlockedEventLoop);
    // 120 ms alone is a warning; 38 % of requests failing makes it critical.
    assert_eq!(verdict.severity(), Severity::Critical);
    assert!(
        verdict
            .title()
            .ends_with("; 38.5 % of requests failed as a result, mostly timeout"),
        "{}",
        verdict.title()
    );
    let errors = analysis
        .findings
        .iter()
        .find(|f| f.kind() == FindingKind::Errors)
        .unwrap();
    assert_eq!(errors.severity(), Severity::Info);
    assert!(errors
        .title()
        .ends_with("as a result of the blocked event loop"));
}

#[test]
fn errors_without_a_cause_stay_the_verdict() {
    let mut result = run();
    samples(&mut result, 1.0, 0.3);
    timeouts(&mut result, 3000);
    let analysis = analyse(&result);
    assert_eq!(
        analysis.verdict().map(Finding::kind),
        Some(FindingKind::Errors)
    );
    assert_eq!(analysis.verdict().unwrap().severity(), Severity::Critical);
}

#[test]
fn long_delays_are_a_blocked_loop_and_short_ones_are_not() {
    let mut result = run();
    samples(&mut result, 210.0, 1.0);
    let analysis = analyse(&result);
    assert_eq!(
        analysis.verdict().map(Finding::kind),
        Some(FindingKind::BlockedEventLoop)
    );
    assert_eq!(analysis.verdict().unwrap().severity(), Severity::Critical);
    samples(&mut result, 5.0, 0.5);
    assert!(!kinds(&result).contains(&FindingKind::BlockedEventLoop));
}

#[test]
fn slow_responses_from_an_idle_loop_are_io_wait() {
    let mut result = run();
    samples(&mut result, 1.0, 0.05);
    result.latency.percentiles.p50 = 50.0;
    let points = result.process.as_mut().unwrap();
    points.points = (0..200)
        .map(|i| ProcessSample {
            t: START + i as f64 * 0.1,
            rss: 0,
            cpu: 3.0,
            threads: 4,
            fds: 10,
            processes: 1,
            harness_cpu: 1.0,
            system_cpu: 10.0,
            cores: 2,
            others: Vec::new(),
        })
        .collect();
    assert_eq!(
        analyse(&result).verdict().map(Finding::kind),
        Some(FindingKind::IoWait)
    );
}

fn warning(t: f64) -> Warning {
    Warning {
        t,
        name: "MaxListenersExceededWarning".to_string(),
        message: "Possible EventEmitter memory leak detected".to_string(),
        stack: None,
        location: Some("/app/server.js:26:13".to_string()),
        event: Some("connected".to_string()),
        count: Some(11),
        emitter: Some("EventEmitter".to_string()),
        occurrences: 1,
    }
}

#[test]
fn a_single_listener_warning_is_a_leak_and_a_repeating_one_is_not() {
    let mut result = run();
    result.node[0].warnings = vec![warning(5.0)];
    let analysis = analyse(&result);
    let verdict = analysis.verdict().unwrap();
    assert_eq!(verdict.kind(), FindingKind::ListenerLeak);
    assert!(verdict.title().contains("/app/server.js:26:13"));
    result.node[0].warnings = (0..2).map(|i| warning(5.0 + f64::from(i))).collect();
    let analysis = analyse(&result);
    assert_eq!(analysis.verdict(), None);
    assert_eq!(analysis.findings[0].severity(), Severity::Info);
}

#[test]
fn errors_and_a_crash_head_the_verdict() {
    let mut result = run();
    result.errors = 3000;
    result.errors_by_kind.insert(
        "timeout".to_string(),
        crate::result::ErrorCount {
            count: 3000,
            example: None,
        },
    );
    assert_eq!(
        analyse(&result).verdict().map(Finding::kind),
        Some(FindingKind::Errors)
    );
    result.target.as_mut().unwrap().failure = Some("the target exited during the load".to_string());
    result.target.as_mut().unwrap().exit = Some("exit code 1".to_string());
    assert_eq!(
        analyse(&result).verdict().map(Finding::kind),
        Some(FindingKind::TargetCrashed)
    );
}

#[test]
fn a_healthy_run_has_no_verdict() {
    let mut result = run();
    floors(&mut result, [4.0 * MB, 4.5 * MB, 4.5 * MB], [2.0 * MB; 3]);
    samples(&mut result, 1.0, 0.5);
    assert_eq!(analyse(&result).verdict(), None);
}

#[test]
fn requests_are_interpolated_within_seconds() {
    let window = LoadWindow::new(&run());
    assert_eq!(window.requests_at(START), 0.0);
    assert_eq!(window.requests_at(START + 1.5), 1500.0);
    assert_eq!(window.requests_at(START + 100.0), (RATE * SECONDS) as f64);
}

#[test]
fn timers_that_pile_up_are_named_in_a_leak() {
    let mut result = run();
    let grown = 500.0 * (RATE * SECONDS) as f64;
    floors(
        &mut result,
        [4.0 * MB, 4.0 * MB + grown, 4.0 * MB + grown],
        [2.0 * MB; 3],
    );
    samples(&mut result, 1.0, 0.5);
    let node = &mut result.node[0];
    node.samples[0].t = START - 0.5;
    for (i, sample) in node.samples.iter_mut().enumerate() {
        sample.handles.insert("Timeout".to_string(), i as u64 * 100);
        sample.handles.insert("TCPSocketWrap".to_string(), 10);
    }
    let leak = leak(&result);
    assert_eq!(leak.handles.len(), 1, "{:?}", leak.handles);
    assert_eq!(leak.handles[0].0, "Timeout");
    let finding = Finding::from(leak);
    assert!(finding.advice().contains("clearTimeout"));
    assert!(finding
        .evidence()
        .iter()
        .any(|(label, _)| label == "Timeout handles"));
}

#[test]
fn a_blocked_loop_that_reports_late_is_still_blocked() {
    // A queue of 100 requests of 80 ms: the probe's timer fires only between batches, so
    // three samples cover the whole 20 s load, two of them 8 s long and late.
    let mut result = run();
    let sample = |t: f64, delay: f64| NodeSample {
        t,
        delay_p50: delay,
        delay_p99: delay,
        delay_max: delay,
        elu: 1.0,
        rss: 0,
        heap_total: 0,
        heap_used: 0,
        external: 0,
        array_buffers: 0,
        handles: Default::default(),
        gc_observed: true,
    };
    result.node[0].samples = vec![
        sample(START + 0.1, 1.0),
        sample(START + 8.1, 7990.0),
        sample(START + 16.1, 7990.0),
        sample(START + 24.1, 7990.0),
    ];
    served(&mut result, 12);
    let analysis = analyse(&result);
    let verdict = analysis.verdict().unwrap();
    assert_eq!(verdict.kind(), FindingKind::BlockedEventLoop);
    let Found::BlockedEventLoop(blocked) = &verdict.found else {
        unreachable!()
    };
    assert_eq!(blocked.delay_p90_ms, 7990.0);
}

#[test]
fn every_finding_kind_on_the_wire_has_one_declaration() {
    let declared: std::collections::BTreeSet<FindingKind> = KINDS.iter().copied().collect();
    let wire: std::collections::BTreeSet<FindingKind> = FindingKind::ALL.iter().copied().collect();
    assert_eq!(declared.len(), KINDS.len(), "a kind is declared twice");
    assert_eq!(
        declared, wire,
        "every FindingKind needs its line in findings!"
    );
}

#[test]
fn the_readme_documents_every_kind() {
    let readme = include_str!("../../README.md");
    for kind in FindingKind::ALL {
        assert!(
            readme.contains(&format!("| `{kind}`")) || readme.contains(&format!("`{kind}`, `")),
            "the README's findings table lacks {kind}"
        );
    }
}

#[test]
fn a_harness_that_woke_late_says_its_wait_is_in_the_latencies() {
    let mut result = run();
    busy(&mut result, 50.0);
    result.latency.percentiles.p99 = 40.0;
    result.harness_delay_p99 = Some(25.0);
    let analysis = analyse(&result);
    let generator = analysis
        .findings
        .iter()
        .find(|f| f.kind() == FindingKind::GeneratorLimited)
        .unwrap_or_else(|| panic!("{:?}", kinds(&result)));
    assert!(
        generator.title().contains("woke 25 ms late at p99"),
        "{}",
        generator.title()
    );
    result.process = None;
    assert!(
        kinds(&result).contains(&FindingKind::GeneratorLimited),
        "a load by URL only is told too"
    );
    for (delay, why) in [
        (8.0, "8 ms is on time"),
        (15.0, "15 ms of a 40 ms p99 is the server's"),
    ] {
        result.harness_delay_p99 = Some(delay);
        assert!(
            !kinds(&result).contains(&FindingKind::GeneratorLimited),
            "{why}"
        );
    }
}
