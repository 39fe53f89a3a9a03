//! Resolves parsed flags into a validated [`Plan`]: checks that the flags agree, reads the
//! body and CA files, resolves the host. Every failure is a one-line [`UsageError`] naming the
//! flag and the fix; nothing is sent before this succeeds.

use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use bytes::Bytes;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::Cli;
use crate::plan::{
    Idle, LoadPlan, OutputPlan, Plan, RequestSpec, Stop, Target, TargetSpec, TlsPlan, TraceMode,
    UsageError, WatchPlan,
};

macro_rules! usage {
    ($($arg:tt)*) => { UsageError(format!($($arg)*)) };
}

/// The default measured duration, as autocannon's.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// Turns flags into a plan, or says which flag is wrong and how to fix it.
pub(crate) fn plan(mut cli: Cli) -> Result<Plan, UsageError> {
    let mut target = target(&cli)?;
    let free_port = target.addrs.first().is_some_and(|a| a.port() == 0);
    if free_port {
        choose_port(&mut cli, &mut target)?;
    }
    let connections = usize::try_from(cli.opts.connections)
        .map_err(|_| usage!("--connections {} is too large", cli.opts.connections))?;
    let stop = match (cli.opts.amount, cli.opts.duration) {
        (Some(amount), _) if amount < cli.opts.connections => {
            return Err(usage!(
                "--amount {amount} is smaller than --connections {}: lower -c or raise -a",
                cli.opts.connections
            ))
        }
        (Some(amount), _) => Stop::Amount(amount),
        (None, Some(duration)) if duration.is_zero() => {
            return Err(usage!("--duration must be longer than 0; e.g. -d 10"))
        }
        (None, duration) => Stop::After(duration.unwrap_or(DEFAULT_DURATION)),
    };
    if cli.opts.timeout.is_zero() {
        return Err(usage!("--timeout must be longer than 0; e.g. -t 10"));
    }
    let pipelining = usize::try_from(cli.opts.pipelining.min(1 << 16)).unwrap_or(1);
    if cli.opts.pipelining > 1024 {
        return Err(usage!(
            "--pipelining {} is too deep; use at most 1024",
            cli.opts.pipelining
        ));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = cli
        .opts
        .workers
        .map_or(cores, |w| usize::try_from(w).unwrap_or(cores))
        .min(connections);
    let request = request(&cli, &target)?;
    let tls = tls(&cli)?;
    let url = display_url(&cli.url);
    let stdout_tty = std::io::stdout().is_terminal();
    let output = OutputPlan {
        json: cli.opts.json,
        latency_table: cli.opts.latency,
        progress: !cli.opts.no_progress && !cli.opts.json && std::io::stderr().is_terminal(),
        color: stdout_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        report_dir: cli.opts.report.clone(),
        fresh_dir: false,
        html: None,
        json_file: None,
        junit: cli.opts.junit.clone(),
        summary_md: summary_md(&cli.opts),
    };
    let load = LoadPlan {
        url,
        target,
        requests: vec![request],
        connections,
        pipelining,
        stop,
        warmup: cli.opts.warmup.unwrap_or(Duration::ZERO),
        rate: cli.opts.rate,
        stages: Vec::new(),
        timeout: cli.opts.timeout,
        workers,
        bailout: cli.opts.bailout,
        http2: cli.opts.http2,
        tls,
        shard: None,
    };
    let mut load = load;
    if let Some(shard) = cli.opts.shard {
        split(&mut load, shard)?;
    }
    let watch = watch(&cli, &load, free_port)?;
    let mut output = output;
    if output.report_dir.is_none() {
        if let Some(WatchPlan {
            target: TargetSpec::Command(command),
            ..
        }) = &watch
        {
            output.report_dir = Some(crate::report::files::default_dir(command));
            output.fresh_dir = true;
        }
    }
    Ok(Plan {
        load,
        output,
        watch,
        thresholds: cli.opts.thresholds.clone(),
        scenario: None,
        start_at: cli.opts.start_at,
        find_max: find_max(&cli)?,
    })
}

/// The capacity search the flags ask for, if any; the flags that cannot go with it, and
/// rules that do not judge responses, are refused.
fn find_max(cli: &Cli) -> Result<Option<crate::plan::FindMax>, UsageError> {
    let opts = &cli.opts;
    if opts.find_max.is_empty() {
        return Ok(None);
    }
    if opts.rate.is_some() {
        return Err(usage!(
            "--find-max chooses the rate itself: remove -R (or --start RATE to set its first step)"
        ));
    }
    if opts.amount.is_some() {
        return Err(usage!(
            "--find-max runs in timed steps: remove -a (--step-duration sets their length)"
        ));
    }
    if opts.shard.is_some() {
        return Err(usage!(
            "--find-max cannot be sharded: run it from one machine, without --shard"
        ));
    }
    if let Some(rule) = opts.find_max.iter().find(|r| !r.judges_responses()) {
        return Err(usage!(
            "--find-max '{rule}': a step is judged by its responses; use latency, rps, errors, non2xx or checks, like 'p99<50ms'"
        ));
    }
    if opts.step_duration < Duration::from_secs(1) {
        return Err(usage!(
            "--step-duration must be at least 1s; e.g. --step-duration 5s"
        ));
    }
    if !(0.1..=50.0).contains(&opts.precision) {
        return Err(usage!(
            "--precision must be from 0.1% to 50%; e.g. --precision 5%"
        ));
    }
    if opts.max_duration < opts.step_duration {
        return Err(usage!(
            "--max-duration must be at least one step (--step-duration); e.g. --max-duration 2m"
        ));
    }
    Ok(Some(crate::plan::FindMax {
        rules: opts.find_max.clone(),
        start: opts.start_rate,
        step: opts.step_duration,
        precision: opts.precision / 100.0,
        max_duration: opts.max_duration,
    }))
}

/// Makes `load` the `shard`'s part: its connections, rate and request count (the stages'
/// rates are split where they are set, in `scenarios`).
fn split(load: &mut LoadPlan, shard: crate::plan::Shard) -> Result<(), UsageError> {
    let (index, count) = (shard.index, shard.count);
    let connections = shard.part(load.connections as u64);
    if connections == 0 {
        return Err(usage!(
            "--shard {index}/{count}: {} connections cannot be split {count} ways; raise -c to at least {count}",
            load.connections
        ));
    }
    load.connections = connections as usize;
    load.workers = load.workers.min(load.connections);
    load.rate = load.rate.map(|rate| rate / count as f64);
    if let Stop::Amount(amount) = load.stop {
        let part = shard.part(amount);
        if part < connections {
            return Err(usage!(
                "--shard {index}/{count}: its {part} of --amount {amount} requests are fewer than its {connections} connections; raise -a"
            ));
        }
        load.stop = Stop::Amount(part);
    }
    load.shard = Some(shard);
    Ok(())
}

/// The target to start (`-- COMMAND`) or watch (`--pid`), if any.
fn watch(cli: &Cli, load: &LoadPlan, free_port: bool) -> Result<Option<WatchPlan>, UsageError> {
    if cli.opts.pid.is_some() && !cli.command.is_empty() {
        return Err(usage!(
            "--pid watches a running process; remove it or the command after --"
        ));
    }
    let target = match (&cli.opts.pid, cli.command.as_slice()) {
        (Some(pid), _) => {
            // SAFETY: signal 0 only checks that the process exists.
            if *pid == 0 || unsafe { libc::kill(*pid as i32, 0) } != 0 {
                if *pid != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
                {
                    return Err(usage!(
                        "--pid {pid}: the process is not yours (another user's); run harness as its user"
                    ));
                }
                return Err(usage!("--pid {pid}: no such process; check the pid"));
            }
            TargetSpec::Pid(*pid)
        }
        (None, []) => return Ok(None),
        (None, [program, ..]) if program.trim().is_empty() => {
            return Err(usage!("the target command after -- is empty"))
        }
        (None, command) => TargetSpec::Command(command.to_vec()),
    };
    if cli.opts.sample_interval < Duration::from_millis(10) {
        return Err(usage!(
            "--sample-interval must be at least 10ms; e.g. --sample-interval 100ms"
        ));
    }
    if cli.opts.ready_timeout.is_zero() {
        return Err(usage!(
            "--ready-timeout must be longer than 0; e.g. --ready-timeout 30s"
        ));
    }
    let mut env = Vec::new();
    let port_from_harness = std::env::var_os("PORT").is_none() && load.target.socket_path.is_none();
    if port_from_harness {
        if let Some(addr) = load.target.addrs.first() {
            env.push(("PORT".to_string(), addr.port().to_string()));
        }
    }
    Ok(Some(WatchPlan {
        probe: !cli.opts.no_probe,
        inspect: cli.opts.inspect,
        heap: match (cli.opts.no_probe || cli.opts.no_heap, cli.opts.heap) {
            (true, _) => TraceMode::Off,
            (false, true) => TraceMode::Always,
            (false, false) => TraceMode::Auto,
        },
        profile: match (cli.opts.no_probe || cli.opts.no_profile, cli.opts.profile) {
            (true, _) => TraceMode::Off,
            (false, true) => TraceMode::Always,
            (false, false) => TraceMode::Auto,
        },
        io_trace: match (cli.opts.no_probe || cli.opts.no_io_trace, cli.opts.io_trace) {
            (true, _) => TraceMode::Off,
            (false, true) => TraceMode::Always,
            (false, false) => TraceMode::Auto,
        },
        heap_limit: cli.opts.heap_limit,
        free_port: free_port && port_from_harness,
        target,
        env,
        cwd: None,
        ready_timeout: cli.opts.ready_timeout,
        baseline: cli
            .opts
            .baseline
            .map_or(Idle::UntilRest(Idle::BASELINE), Idle::Fixed),
        cooldown: cli
            .opts
            .cooldown
            .map_or(Idle::UntilRest(Idle::COOLDOWN), Idle::Fixed),
        sample_interval: cli.opts.sample_interval,
        grace: cli.opts.grace,
    }))
}

/// Where the Markdown summary goes: `--summary-md`, else GitHub Actions' job summary file.
pub(crate) fn summary_md(opts: &super::Options) -> Option<std::path::PathBuf> {
    opts.summary_md.clone().or_else(|| {
        std::env::var_os("GITHUB_STEP_SUMMARY")
            .filter(|path| !path.is_empty())
            .map(std::path::PathBuf::from)
    })
}

/// Parses and checks the URL and resolves its host (unless a Unix socket is given).
fn target(cli: &Cli) -> Result<Target, UsageError> {
    let uri: http::Uri = cli.url.parse().map_err(|_| {
        usage!(
            "URL '{}' is not valid; write it like http://localhost:3030/",
            display_url(&cli.url)
        )
    })?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        Some(other) => {
            return Err(usage!(
                "URL scheme '{other}' is not supported; use http:// or https://"
            ))
        }
        None => {
            return Err(usage!(
                "URL '{}' has no scheme; write it like http://{}",
                cli.url,
                cli.url
            ))
        }
    };
    let authority = uri
        .authority()
        .ok_or_else(|| usage!("URL '{}' has no host", cli.url))?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.is_empty() {
        return Err(usage!("URL '{}' has no host", cli.url));
    }
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    let addrs = match &cli.opts.socket_path {
        Some(_) => Vec::new(),
        None => resolve(host, port)?,
    };
    let authority = authority.as_str().rsplit('@').next().unwrap_or_default();
    Ok(Target {
        tls,
        host: host.to_string(),
        authority: authority.to_string(),
        path,
        addrs,
        socket_path: cli.opts.socket_path.clone(),
    })
}

/// Port 0 in the URL: harness picks a free port and gives it to the target as `PORT`, so
/// that scenarios never collide with another server (or another CI job).
fn choose_port(cli: &mut Cli, target: &mut Target) -> Result<(), UsageError> {
    if cli.command.is_empty() {
        return Err(usage!(
            "URL port 0 means 'pick a free port for the target', which needs a target command; give a port"
        ));
    }
    let addr = target.addrs[0];
    let port = crate::target::free_port(addr)
        .map_err(|err| usage!("could not find a free port on {}: {err}", addr.ip()))?;
    let authority = target.authority.clone();
    let Some(host) = authority.strip_suffix(":0") else {
        return Err(usage!("URL '{}': could not place the free port", cli.url));
    };
    target.authority = format!("{host}:{port}");
    cli.url = cli.url.replacen(&authority, &target.authority, 1);
    for addr in &mut target.addrs {
        addr.set_port(port);
    }
    Ok(())
}

fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, UsageError> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|err| usage!("could not resolve host '{host}': {err}; check the URL"))?
        .collect();
    if addrs.is_empty() {
        return Err(usage!("host '{host}' has no addresses; check the URL"));
    }
    Ok(addrs)
}

/// Builds the request spec: method, headers, and the body from -b or -i.
fn request(cli: &Cli, target: &Target) -> Result<RequestSpec, UsageError> {
    let body = match (&cli.opts.body, &cli.opts.input) {
        (Some(body), _) => Bytes::from(body.clone().into_bytes()),
        (None, Some(path)) => read_body(path)?,
        (None, None) => Bytes::new(),
    };
    if cli.opts.http2
        && cli
            .opts
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("connection"))
    {
        return Err(usage!(
            "--header: 'Connection' is not allowed with --http2; remove it"
        ));
    }
    Ok(RequestSpec {
        name: RequestSpec::default_name(&cli.opts.method, &target.path),
        method: cli.opts.method.clone(),
        path: target.path.clone(),
        headers: cli.opts.headers.clone(),
        body,
        weight: 1,
        placeholders: false,
        expect: crate::plan::Expect {
            status: cli.opts.expect_status.clone(),
            body_contains: cli.opts.expect_body.clone(),
            ..crate::plan::Expect::default()
        },
    })
}

/// Largest request body (`-i`): a request is not a file transfer, and `-i /dev/zero` must
/// not read until memory runs out.
pub(crate) const MAX_BODY: u64 = 64 * 1024 * 1024;

/// Reads a body file, at most [`MAX_BODY`].
fn read_body(path: &std::path::Path) -> Result<Bytes, UsageError> {
    use std::io::Read;
    let failed = |err: std::io::Error| {
        usage!(
            "--input: could not read body file '{}': {err}",
            path.display()
        )
    };
    let mut body = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_BODY + 1).read_to_end(&mut body))
        .map_err(failed)?;
    if body.len() as u64 > MAX_BODY {
        return Err(usage!(
            "--input: '{}' is larger than {} MiB; send a smaller body",
            path.display(),
            MAX_BODY / 1024 / 1024
        ));
    }
    Ok(Bytes::from(body))
}

/// Reads the CA file now so that a bad file stops the run before anything is sent.
fn tls(cli: &Cli) -> Result<TlsPlan, UsageError> {
    let mut roots = Vec::new();
    if let Some(path) = &cli.opts.cacert {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
            .map_err(|err| {
                usage!(
                    "--cacert: could not read certificates from '{}': {err}",
                    path.display()
                )
            })?;
        if certs.is_empty() {
            return Err(usage!(
                "--cacert: '{}' holds no PEM certificate; give a file with -----BEGIN CERTIFICATE-----",
                path.display()
            ));
        }
        roots = certs;
    }
    Ok(TlsPlan {
        insecure: cli.opts.insecure,
        extra_roots: roots,
    })
}

/// The URL without any `user:password@` part and with secret query values redacted, as it
/// may be printed and saved.
pub(crate) fn display_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let url = match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    };
    crate::redact::query(&url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("harness").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn defaults_match_autocannon() {
        let plan = plan(cli(&["http://127.0.0.1:3030"])).unwrap();
        assert_eq!(plan.load.connections, 10);
        assert_eq!(plan.load.pipelining, 1);
        assert_eq!(plan.load.stop, Stop::After(Duration::from_secs(10)));
        assert_eq!(plan.load.timeout, Duration::from_secs(10));
        assert_eq!(plan.load.target.path, "/");
        assert_eq!(plan.load.target.authority, "127.0.0.1:3030");
    }

    #[test]
    fn amount_below_connections_names_both_flags() {
        let err = plan(cli(&["-c", "10", "-a", "5", "http://127.0.0.1:1"])).unwrap_err();
        assert!(
            err.0.contains("--amount") && err.0.contains("--connections"),
            "{err}"
        );
    }

    #[test]
    fn unsupported_scheme_is_refused() {
        let err = plan(cli(&["ftp://127.0.0.1/x"])).unwrap_err();
        assert!(err.0.contains("http://"), "{err}");
    }

    #[test]
    fn missing_body_file_names_the_flag_and_file() {
        let err = plan(cli(&["-i", "/nonexistent/body.json", "http://127.0.0.1:1"])).unwrap_err();
        assert!(
            err.0.contains("--input") && err.0.contains("body.json"),
            "{err}"
        );
    }

    #[test]
    fn workers_never_exceed_connections() {
        let plan = plan(cli(&["-c", "1", "-w", "8", "http://127.0.0.1:1"])).unwrap();
        assert_eq!(plan.load.workers, 1);
    }

    #[test]
    fn credentials_are_removed_from_the_displayed_url() {
        assert_eq!(
            display_url("http://user:secret@localhost:3000/a?b=c@d"),
            "http://localhost:3000/a?b=c@d"
        );
        assert_eq!(display_url("http://localhost/x"), "http://localhost/x");
    }
}
