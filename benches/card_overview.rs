//! What reading a card costs, on both layouts of the virtual card side by side: our overview
//! against OpenSC's `pkcs15-tool` on the same card, through a real pcscd and vpcd, plus the
//! bare APDU round trip that bounds both.
//!
//! Two pre-upgrade virtual cards, one per layout, are served in-process to one isolated pcscd
//! (vpcd's two slots), so the figures are the protocol's cost (APDUs, bytes) plus the local
//! PC/SC stack, without a reader's or a chip's latency. A real card adds its own time per APDU,
//! which is why the APDU count is the figure that carries over to real cards. OpenSC reads the
//! PKCS#15 card through its default driver, which opensc.conf must enable, and the IDPrime card
//! through its own `idprime` driver with the stock opensc.conf. Prints figures only; it
//! asserts nothing about speed.
//!
//! Run: `cargo bench --bench card_overview` (with pcscd, vsmartcard-vpcd and opensc).

#[allow(dead_code)]
#[path = "../tests/support/pcscd.rs"]
mod pcscd;

use std::error::Error;
use std::path::PathBuf;
use std::process::{Command as Process, ExitCode, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use siths_upgrade::apdu::Command;
use siths_upgrade::card::Card as _;
use siths_upgrade::card::SithsCard;
use siths_upgrade::idprime::files as idprime;
use siths_upgrade::layout;
use siths_upgrade::provision::{Codes, make_pre_upgrade_card, make_pre_upgrade_idprime_card};
use siths_upgrade::transport::pcsc::PcscTransport;
use siths_upgrade::transport::{Transmit, Transport, TransportError};
use siths_upgrade::virtual_card::{self, Layout, SharedVirtualCard, VirtualCard, vpcd};

type BenchResult<T> = Result<T, Box<dyn Error>>;

const OVERVIEW_RUNS: usize = 30;
const OPENSC_RUNS: usize = 10;
const ROUND_TRIPS: usize = 1000;
/// Certificates on a pre-upgrade card (authentication + signature of the legacy HSA-id pair).
const EXPECTED_CERTIFICATES: usize = 2;
/// Targets from the design: one APDU through pcscd+vpcd, and our overview against OpenSC's.
const TARGET_ROUND_TRIP_MS: f64 = 0.3;
const TARGET_APDU_RATIO: f64 = 0.5;
/// Hang guard while pcscd notices the card; not a timing expectation.
const CARD_WAIT: Duration = Duration::from_secs(20);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("card_overview bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One layout's card, served into one of vpcd's slots.
struct Served {
    layout: Layout,
    name: &'static str,
    /// The reader pcscd shows it in, and that reader's index for OpenSC's `--reader`.
    reader: &'static str,
    reader_index: usize,
    /// What OpenSC reads it with: a site's opensc.conf, or None for the stock one.
    opensc_conf: Option<PathBuf>,
    card: SharedVirtualCard,
    stop: Arc<AtomicBool>,
    server: Option<JoinHandle<Result<(), vpcd::VpcdError>>>,
}

/// Everything the bench started, torn down in order on drop (also on an early error return):
/// the card links first, then pcscd (its supervisor removes its own temp dir), then our temp
/// dir.
struct Rig {
    cards: Vec<Served>,
    pcscd: pcscd::Pcscd,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn start() -> BenchResult<Rig> {
        let pcscd = pcscd::Pcscd::start();
        // SAFETY: no other thread exists yet and no PC/SC context has been made; the client
        // library reads this once per process.
        unsafe { std::env::set_var(pcscd::SOCKET_ENV, pcscd.socket_path()) };

        let dir = tempfile::Builder::new().prefix("siths-bench-").tempdir()?;
        let person = siths_upgrade::provision::demo_holder();
        let codes = Codes::test_defaults();
        let serial = siths_upgrade::provision::DEMO_SERIAL;
        let mut cards = Vec::new();
        for (slot, layout) in [Layout::Pkcs15, Layout::Idprime].into_iter().enumerate() {
            let state = dir.path().join(format!("card-{slot}.json"));
            let made = Instant::now();
            let (name, opensc_conf) = match layout {
                Layout::Pkcs15 => {
                    make_pre_upgrade_card(&state, serial, &codes, &person)?;
                    // OpenSC has no driver for our ATR and binds an ISO 7816-4 card with a
                    // PKCS#15 application only through its "default" driver, which OpenSC >=
                    // 0.20 skips unless opensc.conf enables it (card.c: "ignore 'default' card
                    // driver"). Same setting as the OpenSC interop tests; the card is unchanged.
                    let conf = dir.path().join("opensc.conf");
                    std::fs::write(
                        &conf,
                        "app default {\n    enable_default_driver = true;\n}\n",
                    )?;
                    ("pkcs15", Some(conf))
                }
                Layout::Idprime => {
                    make_pre_upgrade_idprime_card(&state, serial, &codes, &person)?;
                    ("idprime", None)
                }
            };
            println!(
                "{name}: pre-upgrade card made in {:.1} s (RSA keys and test CA)",
                made.elapsed().as_secs_f64()
            );
            let card = virtual_card::share_virtual_card(VirtualCard::open(&state)?);
            let stop = Arc::new(AtomicBool::new(false));
            let addr = format!("127.0.0.1:{}", pcscd.vpcd_port() + slot as u16);
            let server = {
                let (card, stop) = (card.clone(), stop.clone());
                std::thread::spawn(move || vpcd::serve(card, &addr, stop))
            };
            cards.push(Served {
                layout,
                name,
                reader: [pcscd::READER_0, pcscd::READER_1][slot],
                reader_index: slot,
                opensc_conf,
                card,
                stop,
                server: Some(server),
            });
        }
        Ok(Rig {
            cards,
            pcscd,
            _dir: dir,
        })
    }

    /// Connect to `served`'s reader through pcscd once it reports the card (vpcd link up, ATR
    /// read).
    fn connect(&self, served: &Served) -> BenchResult<PcscTransport> {
        let deadline = Instant::now() + CARD_WAIT;
        loop {
            match PcscTransport::connect(Some(served.reader)) {
                Ok(t) => return Ok(t),
                Err(TransportError::NoCard(_) | TransportError::NoReader)
                    if Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    return Err(format!("{e}\npcscd log:\n{}", self.pcscd.log()).into());
                }
            }
        }
    }
}

impl Served {
    /// Card-side counters: commands answered, command bytes in, response bytes out.
    fn counters(&self) -> Traffic {
        let card = virtual_card::lock_virtual_card(&self.card);
        Traffic {
            apdus: card.command_count(),
            bytes_out: card.command_bytes(),
            bytes_in: card.response_bytes(),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

/// APDUs and bytes, seen from the host: out = command bytes, in = response bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Traffic {
    apdus: u64,
    bytes_out: u64,
    bytes_in: u64,
}

impl std::ops::Sub for Traffic {
    type Output = Traffic;
    fn sub(self, rhs: Traffic) -> Traffic {
        Traffic {
            apdus: self.apdus.saturating_sub(rhs.apdus),
            bytes_out: self.bytes_out.saturating_sub(rhs.bytes_out),
            bytes_in: self.bytes_in.saturating_sub(rhs.bytes_in),
        }
    }
}

/// Median and 90th percentile (nearest rank) in milliseconds.
fn median_p90(samples: &[Duration]) -> (f64, f64) {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let rank = |q: f64| {
        let i = ((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len().max(1)) - 1;
        ms.get(i).copied().unwrap_or(f64::NAN)
    };
    (rank(0.5), rank(0.9))
}

/// One figure per run if they all agree, else the range, so a varying count is not hidden.
fn per_run(values: &[u64]) -> String {
    match (values.iter().min(), values.iter().max()) {
        (Some(lo), Some(hi)) if lo == hi => lo.to_string(),
        (Some(lo), Some(hi)) => format!("{lo}..{hi}"),
        _ => "-".into(),
    }
}

struct Figures {
    traffic: Traffic,
    median_ms: f64,
}

/// One layout's figures.
struct Row {
    name: &'static str,
    /// A new session's first overview: every file read from the card.
    ours_cold: Figures,
    /// Later overviews of the same session: files from the session cache, tries asked.
    ours: Figures,
    opensc: Figures,
    round_trip: (f64, f64),
}

fn run() -> BenchResult<()> {
    let rig = Rig::start()?;
    let mut rows = Vec::new();
    for served in &rig.cards {
        println!(
            "\n######## {} layout, reader \"{}\" ########",
            served.name, served.reader
        );
        rows.push(Row {
            name: served.name,
            ours_cold: bench_ours_cold(&rig, served)?,
            ours: bench_ours(&rig, served)?,
            round_trip: bench_round_trip(&rig, served)?,
            opensc: bench_opensc(&rig, served)?,
        });
    }
    print_summary(&rows);
    Ok(())
}

/// A new session's first overview, as after putting the card in: a new connection each run
/// (opening it, the application select, is not counted), every file read from the card.
fn bench_ours_cold(rig: &Rig, served: &Served) -> BenchResult<Figures> {
    // Run 0 warms pcscd and the allocator up.
    let mut card = SithsCard::open(Box::new(rig.connect(served)?))?;
    checked_overview(&mut card)?;
    let mut measured = Vec::with_capacity(OVERVIEW_RUNS);
    for _ in 0..OVERVIEW_RUNS {
        let mut card = SithsCard::open(Box::new(rig.connect(served)?))?;
        measured.push(measure(&mut card)?);
    }
    Ok(report(
        &format!("a new session's first overview over PcscTransport, {OVERVIEW_RUNS} runs"),
        &measured,
    ))
}

/// Overviews after the first in one session: the files from the session cache.
fn bench_ours(rig: &Rig, served: &Served) -> BenchResult<Figures> {
    let mut card = SithsCard::open(Box::new(rig.connect(served)?))?;
    // Warm-up: the first overview also pays for pcscd's and the allocator's first use.
    checked_overview(&mut card)?;
    let card_before = served.counters();
    let mut measured = Vec::with_capacity(OVERVIEW_RUNS);
    for _ in 0..OVERVIEW_RUNS {
        measured.push(measure(&mut card)?);
    }
    let card_side = served.counters() - card_before;
    let host_side = measured
        .iter()
        .fold(Traffic::default(), |a, (_, r)| Traffic {
            apdus: a.apdus + r.apdus,
            bytes_out: a.bytes_out + r.bytes_out,
            bytes_in: a.bytes_in + r.bytes_in,
        });
    let figures = report(
        &format!(
            "SithsCard::overview() again in the same session over PcscTransport, {OVERVIEW_RUNS} runs"
        ),
        &measured,
    );
    println!(
        "card side over all runs: {} APDUs, {} command bytes, {} response bytes ({})",
        card_side.apdus,
        card_side.bytes_out,
        card_side.bytes_in,
        if card_side == host_side {
            "matches our counters"
        } else {
            "DIFFERS from our counters"
        }
    );
    Ok(figures)
}

/// An overview that lists the legacy pair, or why not.
fn checked_overview(card: &mut SithsCard) -> BenchResult<()> {
    let overview = card.overview()?;
    if overview.certificates.len() != EXPECTED_CERTIFICATES {
        return Err(format!(
            "our overview lists {} certificates, expected {EXPECTED_CERTIFICATES}",
            overview.certificates.len()
        )
        .into());
    }
    Ok(())
}

/// One overview's time and traffic, counted by the host.
fn measure(card: &mut SithsCard) -> BenchResult<(Duration, Traffic)> {
    card.reset_stats();
    let t = Instant::now();
    checked_overview(card)?;
    let elapsed = t.elapsed();
    let s = card.stats();
    Ok((
        elapsed,
        Traffic {
            apdus: s.apdus,
            bytes_out: s.bytes_sent,
            bytes_in: s.bytes_received,
        },
    ))
}

/// Print the runs' traffic and times under `title`; the first run's traffic and the median.
fn report(title: &str, measured: &[(Duration, Traffic)]) -> Figures {
    let times: Vec<Duration> = measured.iter().map(|(t, _)| *t).collect();
    let runs: Vec<Traffic> = measured.iter().map(|(_, r)| *r).collect();
    let (median, p90) = median_p90(&times);
    println!("\n== ours: {title} ==");
    println!(
        "APDUs per overview: {}   bytes out: {}   bytes in: {}",
        per_run(&runs.iter().map(|r| r.apdus).collect::<Vec<_>>()),
        per_run(&runs.iter().map(|r| r.bytes_out).collect::<Vec<_>>()),
        per_run(&runs.iter().map(|r| r.bytes_in).collect::<Vec<_>>()),
    );
    println!("wall time: median {median:.2} ms, p90 {p90:.2} ms");
    Figures {
        traffic: runs.first().copied().unwrap_or_default(),
        median_ms: median,
    }
}

/// Median and p90 of one APDU through pcscd+vpcd (VERIFY without data: tries left of PIN1).
fn bench_round_trip(rig: &Rig, served: &Served) -> BenchResult<(f64, f64)> {
    let mut transport = rig.connect(served)?;
    let (aid, pin1): (&[u8], u8) = match served.layout {
        Layout::Pkcs15 => (&layout::PKCS15_AID, layout::PIN1_REF),
        Layout::Idprime => (&idprime::AID, idprime::PIN1_REF),
    };
    let select = Command::select_aid(aid).to_bytes()?;
    let verify = Command::verify(pin1, None).to_bytes()?;
    let mut times = Vec::with_capacity(ROUND_TRIPS);
    let mut failure: Option<String> = None;
    let mut answer = Vec::new();
    transport.transaction(&mut |raw: &mut dyn Transmit| {
        if let Err(e) = raw.transmit(&select) {
            failure = Some(format!("SELECT application: {e}"));
            return;
        }
        for _ in 0..ROUND_TRIPS {
            let t = Instant::now();
            match raw.transmit(&verify) {
                Ok(a) => {
                    times.push(t.elapsed());
                    answer = a;
                }
                Err(e) => {
                    failure = Some(format!("VERIFY: {e}"));
                    return;
                }
            }
        }
    })?;
    if let Some(f) = failure {
        return Err(f.into());
    }
    if !matches!(answer.as_slice(), [0x63, sw2] if sw2 & 0xF0 == 0xC0) {
        return Err(format!("VERIFY without data answered {answer:02X?}, expected 63Cx").into());
    }
    let (median, p90) = median_p90(&times);
    println!(
        "\n== APDU round trip through pcscd+vpcd: {ROUND_TRIPS} x VERIFY (no data) in one transaction =="
    );
    println!("median {median:.3} ms, p90 {p90:.3} ms (answer {answer:02X?})");
    Ok((median, p90))
}

fn pkcs15_tool(rig: &Rig, served: &Served, args: &[&str], debug: bool) -> BenchResult<Output> {
    let mut cmd = Process::new("pkcs15-tool");
    cmd.args(["--reader", &served.reader_index.to_string()])
        .args(args)
        .envs(rig.pcscd.env());
    if let Some(conf) = &served.opensc_conf {
        cmd.env("OPENSC_CONF", conf);
    }
    if debug {
        cmd.env("OPENSC_DEBUG", "9");
    }
    cmd.output()
        .map_err(|e| format!("cannot run pkcs15-tool (Debian package opensc): {e}").into())
}

fn bench_opensc(rig: &Rig, served: &Served) -> BenchResult<Figures> {
    let args = ["--list-certificates", "--list-pins"];
    let mut times = Vec::with_capacity(OPENSC_RUNS);
    let mut runs = Vec::with_capacity(OPENSC_RUNS);
    for run in 0..OPENSC_RUNS {
        let before = served.counters();
        let t = Instant::now();
        let out = pkcs15_tool(rig, served, &args, false)?;
        times.push(t.elapsed());
        runs.push(served.counters() - before);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let certs = stdout
            .lines()
            .filter(|l| l.starts_with("X.509 Certificate ["))
            .count();
        let pins = stdout.lines().filter(|l| l.starts_with("PIN [")).count();
        if !out.status.success() || certs != EXPECTED_CERTIFICATES {
            return Err(opensc_failure(rig, served, run, &out, certs, &args));
        }
        if run == 0 {
            println!(
                "\n== OpenSC: pkcs15-tool {}, {OPENSC_RUNS} runs ==",
                args.join(" ")
            );
            println!("OpenSC lists {certs} certificates and {pins} PINs");
        }
    }
    let (median, p90) = median_p90(&times);
    println!(
        "APDUs per run: {}   bytes out: {}   bytes in: {}   (counted at the card)",
        per_run(&runs.iter().map(|r| r.apdus).collect::<Vec<_>>()),
        per_run(&runs.iter().map(|r| r.bytes_out).collect::<Vec<_>>()),
        per_run(&runs.iter().map(|r| r.bytes_in).collect::<Vec<_>>()),
    );
    println!(
        "wall time per run: median {median:.1} ms, p90 {p90:.1} ms (includes starting the process and loading OpenSC)"
    );
    // The median run's traffic, so a first run that differs (caches) does not skew the table.
    let mut sorted = runs.clone();
    sorted.sort_by_key(|r| r.apdus);
    let traffic = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    Ok(Figures {
        traffic,
        median_ms: median,
    })
}

/// Explain why OpenSC did not read the card: its output, then the tail of its APDU trace.
fn opensc_failure(
    rig: &Rig,
    served: &Served,
    run: usize,
    out: &Output,
    certs: usize,
    args: &[&str],
) -> Box<dyn Error> {
    eprintln!(
        "pkcs15-tool {} (run {}) exited with {} and listed {certs} certificates (expected {EXPECTED_CERTIFICATES})",
        args.join(" "),
        run + 1,
        out.status
    );
    eprintln!("--- stdout ---\n{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("--- stderr ---\n{}", String::from_utf8_lossy(&out.stderr));
    match pkcs15_tool(rig, served, args, true) {
        Ok(debug) => {
            let trace = String::from_utf8_lossy(&debug.stderr);
            let lines: Vec<&str> = trace.lines().collect();
            eprintln!("--- OPENSC_DEBUG=9 trace, lines that say why ---");
            for line in lines.iter().filter(|l| {
                [
                    "matched:",
                    "ignore 'default'",
                    "unable to find driver",
                    "init() failed",
                    "Failed",
                    "returning with: -",
                ]
                .iter()
                .any(|key| l.contains(key))
            }) {
                eprintln!("{line}");
            }
            let tail = lines.len().saturating_sub(80);
            eprintln!(
                "--- OPENSC_DEBUG=9 trace, last {} of {} lines (APDUs are the \"Outgoing APDU\" / \"Incoming APDU\" blocks) ---",
                lines.len() - tail,
                lines.len()
            );
            for line in lines.iter().skip(tail) {
                eprintln!("{line}");
            }
        }
        Err(e) => eprintln!("could not rerun with OPENSC_DEBUG=9: {e}"),
    }
    eprintln!(
        "Hint: rerun by hand with `OPENSC_DEBUG=9 pkcs15-tool -D` against a served card to see every APDU and where binding stopped."
    );
    "OpenSC could not read the card (see above)".into()
}

fn print_summary(rows: &[Row]) {
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!("\n== summary: both layouts, the same holder and legacy pair ==");
    println!(
        "{:<50} {:>6} {:>10} {:>9} {:>10}",
        "", "APDUs", "bytes out", "bytes in", "median ms"
    );
    for row in rows {
        for (who, f) in [
            ("ours: first overview of a session", &row.ours_cold),
            ("ours: overview again (session cache)", &row.ours),
            ("OpenSC: pkcs15-tool (per process)", &row.opensc),
        ] {
            println!(
                "{:<50} {:>6} {:>10} {:>9} {:>10.2}",
                format!("{}: {who}", row.name),
                f.traffic.apdus,
                f.traffic.bytes_out,
                f.traffic.bytes_in,
                f.median_ms
            );
        }
    }
    for row in rows {
        // Like for like: OpenSC reads the card afresh each run, as our first overview does.
        let ratio = if row.opensc.traffic.apdus == 0 {
            f64::NAN
        } else {
            row.ours_cold.traffic.apdus as f64 / row.opensc.traffic.apdus as f64
        };
        let (rt_median, rt_p90) = row.round_trip;
        // The APDU target is our own layout's (issue 3); an IDPrime card's files are OpenSC's.
        let target = if row.name == "pkcs15" {
            format!(
                " (target <= {TARGET_APDU_RATIO:.2}: {})",
                verdict(ratio <= TARGET_APDU_RATIO)
            )
        } else {
            String::new()
        };
        println!(
            "{}: APDU ratio ours (first overview)/OpenSC {ratio:.2}{target}; APDU round trip median {rt_median:.3} ms, p90 {rt_p90:.3} ms (target median <= {TARGET_ROUND_TRIP_MS} ms: {})",
            row.name,
            verdict(rt_median <= TARGET_ROUND_TRIP_MS)
        );
    }
    println!("(OpenSC's time includes process start; ours is one call in a running process.)");
}
