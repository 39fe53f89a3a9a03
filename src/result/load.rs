//! The load's part of a result: what was sent, the latency and throughput statistics, the
//! status codes and errors, the per-second series and the serialised latency histogram.

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One kind of request of a mix.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestEntry {
    /// Method.
    pub method: String,
    /// Path and query, placeholders unfilled.
    pub path: String,
    /// Relative share.
    pub weight: u64,
    /// Headers (secret values redacted), placeholders unfilled.
    pub headers: Vec<Header>,
    /// Body size in bytes before placeholders are filled.
    pub body_bytes: u64,
}

/// One kind of request's own figures: a `[[requests]]` entry, or the command line's one
/// request. The run's top-level figures are the whole; each kind's are its part (errors of
/// connections that carried no request belong to no kind).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KindResult {
    /// Its name: the entry's `name`, or its method and path as written.
    pub name: String,
    /// Its requests.
    pub requests: KindRequests,
    /// Latency in ms, as the top-level `latency`.
    pub latency: LatencyStats,
    /// Its errors: failed requests and responses that failed a check.
    pub errors: u64,
    /// Errors by kind (`check` for failed checks), with the first message seen for each.
    pub errors_by_kind: BTreeMap<String, ErrorCount>,
    /// Responses by status code.
    pub status_codes: BTreeMap<String, StatusCount>,
    /// Each check of its `expect`, in order.
    #[serde(default)]
    pub checks: Vec<CheckResult>,
    /// Its latency histogram (µs), so that `harness merge` adds kinds exactly; absent when
    /// the run has one kind (the top-level `histogram` is then its).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub histogram: Option<EncodedHistogram>,
    /// One entry per second of the measured window (the first 20 kinds only).
    #[serde(default)]
    pub series: Vec<KindSecondEntry>,
}

/// A kind's requests.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KindRequests {
    /// Responses completed in the measured window.
    pub total: u64,
    /// Requests sent in the window: each is in `total`, `failed` or `unfinished`.
    pub sent: u64,
    /// Requests sent in the window that ended in an error.
    pub failed: u64,
    /// Requests still in flight when the load stopped.
    pub unfinished: u64,
    /// Completed responses divided by the window's length.
    pub overall: f64,
}

/// One check of a kind.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    /// What it checks: `status 2xx`, `body contains "ok"`, `json /ok = true`.
    pub check: String,
    /// Responses that passed it.
    pub passed: u64,
    /// Responses that failed it.
    pub failed: u64,
    /// The first mismatch (cut to a line, secrets redacted).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub example: Option<String>,
}

/// One second of a kind.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KindSecondEntry {
    /// Seconds since the measured window opened.
    pub second: u64,
    /// Responses completed.
    pub requests: u64,
    /// Errors, failed checks included.
    pub errors: u64,
    /// Median latency, ms (0 when none).
    pub latency_p50: f64,
    /// 99th percentile, ms.
    pub latency_p99: f64,
    /// This second's latencies (µs, two significant digits), kept in sharded runs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub histogram: Option<EncodedHistogram>,
}

impl KindResult {
    /// Responses that passed every check, as a share of its responses; `None` without
    /// checks or responses.
    pub fn checks_passed(&self) -> Option<f64> {
        let failed = self.errors_by_kind.get("check").map_or(0, |e| e.count);
        (!self.checks.is_empty() && self.requests.total > 0)
            .then(|| 1.0 - failed as f64 / self.requests.total as f64)
    }
}

/// One stage of a ramp.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StageEntry {
    /// Seconds.
    pub duration: f64,
    /// Requests per second.
    pub rate: f64,
}

/// A request header as sent (secret values redacted).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Header name.
    pub name: String,
    /// Header value, or `[redacted]`.
    pub value: String,
}

/// Latency statistics in milliseconds, microsecond precision.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LatencyStats {
    /// Mean (autocannon keeps both names).
    pub average: f64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub stddev: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    #[serde(flatten)]
    /// Percentiles.
    pub percentiles: Percentiles,
    /// Number of latencies recorded.
    pub total_count: u64,
}

/// Requests-per-second statistics.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestStats {
    /// Mean requests per second.
    pub average: f64,
    /// Mean requests per second.
    pub mean: f64,
    /// Standard deviation across seconds.
    pub stddev: f64,
    /// Slowest second (zero seconds included).
    pub min: f64,
    /// Fastest second.
    pub max: f64,
    /// Responses completed in the measured window.
    pub total: u64,
    /// Requests sent in the measured window: each is in `total`, `failed` or the result's
    /// `unfinished`.
    pub sent: u64,
    /// Requests sent in the window that ended in an error (a subset of the result's
    /// `errors`, which also counts failed connections that carried no request).
    #[serde(default)]
    pub failed: u64,
    /// Completed responses divided by the window's length.
    pub overall: f64,
    #[serde(flatten)]
    /// Percentiles across seconds.
    pub percentiles: Percentiles,
}

/// Bytes-per-second statistics.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThroughputStats {
    /// Mean bytes per second.
    pub average: f64,
    /// Mean bytes per second.
    pub mean: f64,
    /// Standard deviation across seconds.
    pub stddev: f64,
    /// Slowest second.
    pub min: f64,
    /// Fastest second.
    pub max: f64,
    /// Bytes read in the measured window.
    pub total: u64,
    #[serde(flatten)]
    /// Percentiles across seconds.
    pub percentiles: Percentiles,
}

/// autocannon's percentile keys.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[allow(missing_docs)]
pub struct Percentiles {
    pub p0_001: f64,
    pub p0_01: f64,
    pub p0_1: f64,
    pub p1: f64,
    pub p2_5: f64,
    pub p10: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p97_5: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub p99_99: f64,
    pub p99_999: f64,
}

/// A count of errors of one kind.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ErrorCount {
    /// How many.
    pub count: u64,
    /// The first message seen.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub example: Option<String>,
}

/// A count of responses with one status code.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StatusCount {
    /// How many.
    pub count: u64,
}

/// A serialised HdrHistogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EncodedHistogram {
    /// Always `hdr-v2-deflate-base64`: HdrHistogram's V2 compressed format, base64.
    pub encoding: String,
    /// Unit of the recorded values: `us`.
    pub unit: String,
    /// The data.
    pub data: String,
}

/// One second of the run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeriesEntry {
    /// Seconds since the measured window opened.
    pub second: u64,
    /// Seconds of this entry the run covered (1 but for the last).
    pub covered: f64,
    /// Responses completed.
    pub requests: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Errors.
    pub errors: u64,
    /// Median latency of this second's responses, ms.
    pub latency_p50: f64,
    /// 90th percentile, ms.
    pub latency_p90: f64,
    /// 99th percentile, ms.
    pub latency_p99: f64,
    /// Maximum, ms.
    pub latency_max: f64,
    /// This second's latencies (µs), kept in sharded runs so that `harness merge` can add
    /// them exactly.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub histogram: Option<EncodedHistogram>,
}

impl SeriesEntry {
    /// Whether the run covered all of this second: only full seconds count in per-second
    /// statistics (the last, partial one would lower them).
    pub fn is_full(&self) -> bool {
        is_full_second(self.covered)
    }
}

/// Whether `covered` seconds of a second are all of it (to the millisecond).
pub fn is_full_second(covered: f64) -> bool {
    covered >= 0.999
}

const HISTOGRAM_ENCODING: &str = "hdr-v2-deflate-base64";

impl From<&[f64; 15]> for Percentiles {
    fn from(v: &[f64; 15]) -> Percentiles {
        Percentiles {
            p0_001: v[0],
            p0_01: v[1],
            p0_1: v[2],
            p1: v[3],
            p2_5: v[4],
            p10: v[5],
            p25: v[6],
            p50: v[7],
            p75: v[8],
            p90: v[9],
            p97_5: v[10],
            p99: v[11],
            p99_9: v[12],
            p99_99: v[13],
            p99_999: v[14],
        }
    }
}

impl Percentiles {
    /// The values in the order of `analyse::stats::PERCENTILES`.
    pub fn values(&self) -> [f64; 15] {
        [
            self.p0_001,
            self.p0_01,
            self.p0_1,
            self.p1,
            self.p2_5,
            self.p10,
            self.p25,
            self.p50,
            self.p75,
            self.p90,
            self.p97_5,
            self.p99,
            self.p99_9,
            self.p99_99,
            self.p99_999,
        ]
    }
}

/// Serialises a histogram for the result.
pub fn encode(histogram: &Histogram<u64>) -> EncodedHistogram {
    let mut bytes = Vec::new();
    let data = match V2DeflateSerializer::new().serialize(histogram, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(&bytes),
        Err(_) => String::new(),
    };
    EncodedHistogram {
        encoding: HISTOGRAM_ENCODING.to_string(),
        unit: "us".to_string(),
        data,
    }
}

/// Reads a histogram back from a saved result.
pub fn decode(encoded: &EncodedHistogram) -> anyhow::Result<Histogram<u64>> {
    anyhow::ensure!(
        encoded.encoding == HISTOGRAM_ENCODING,
        "unknown histogram encoding '{}'",
        encoded.encoding
    );
    anyhow::ensure!(
        encoded.data.len() <= MAX_ENCODED,
        "the histogram's data is {} bytes; harness writes at most {MAX_ENCODED}",
        encoded.data.len()
    );
    let bytes = base64::engine::general_purpose::STANDARD.decode(&encoded.data)?;
    bounded_inflate(&bytes)?;
    Ok(Deserializer::new().deserialize(&mut bytes.as_slice())?)
}

/// The most base64 a histogram of harness's range takes (a full 1 µs-1 h histogram with
/// every bucket counted deflates to well under 1 MB).
const MAX_ENCODED: usize = 4 << 20;
/// The most a histogram of harness's range inflates to: its V2 payload holds one LEB128
/// count (at most 9 bytes) per bucket, about 30,000 buckets.
const MAX_INFLATED: u64 = 1 << 20;
/// The highest value harness's histograms track, µs (1 h), with room.
const MAX_TRACKED: u64 = 1 << 40;

/// Checks that a V2-deflate histogram inflates to no more than [`MAX_INFLATED`] and tracks
/// no more than harness's range, before the deserializer allocates for it: a deflate bomb
/// (2.7 MB inflating to 2 GiB) or a declared range of 2^63 is refused in one line.
fn bounded_inflate(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Read;
    anyhow::ensure!(bytes.len() >= 8, "the histogram is truncated");
    let mut inner = Vec::new();
    flate2::read::ZlibDecoder::new(&bytes[8..])
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut inner)?;
    anyhow::ensure!(
        inner.len() as u64 <= MAX_INFLATED,
        "the histogram inflates past {} MiB; harness's histograms hold at most that: not a histogram harness wrote",
        MAX_INFLATED >> 20
    );
    // V2: cookie, payload length, normalising offset, significant digits (4 bytes each),
    // lowest and highest trackable values (8 bytes each).
    anyhow::ensure!(inner.len() >= 32, "the histogram's header is truncated");
    let digits = u32::from_be_bytes(inner[12..16].try_into()?);
    let highest = u64::from_be_bytes(inner[24..32].try_into()?);
    anyhow::ensure!(
        digits <= 5 && highest <= MAX_TRACKED,
        "the histogram declares {digits} significant digits up to {highest}: more than harness records"
    );
    Ok(())
}
