//! What an upgrade costs, and how fast the CA mock issues.
//!
//! 1. The full upgrade through a real (isolated) pcscd and vpcd, the card served in-process, the
//!    CA mock in-process over real mutual TLS: five runs, each on a fresh copy of the same
//!    person's pre-upgrade card and a fresh CA store, split into card, CA and client time as
//!    [`Timing`] measures them, plus the APDUs and bytes the card answered.
//!    Then one more run with the virtual card at a real card's pace (`--pace real`, the fixed
//!    default seed): the predicted wall time of a whole upgrade with a physical card, split
//!    the same way, and the card's time by cause as the pace model (`virtual_card::pace`)
//!    charged it.
//!    The full upgrade and its real-pace run are done on both layouts of the card (PKCS#15 and
//!    IDPrime, each from its own `ca-mock init --layout` world) and their APDUs, bytes and
//!    times printed side by side.
//! 2. The same upgrade through PKCS#11 (the pkcs11 backend) on SoftHSM2 tokens made from the same
//!    card (one token per PIN, as OpenSC and Net iD show a SITHS card), with the same split.
//! 3. A renewal of a due card (`"renewal_due": true`) through the same pcscd and vpcd: four
//!    fresh keys, `simplereenroll`, checks, writes, proofs, and the old pairs removed; five runs
//!    with the same split.
//! 4. CA mock issuance throughput: two concurrent clients, each enrolling for persons of its own
//!    (the CA gives a person one current certificate per profile), each person with a TLS client
//!    certificate and key in memory, distinct pre-made RSA-2048 keys for the four profiles over
//!    one kept-alive connection per person.
//! 4. APDUs and bytes of one upgrade through pcscd with `SithsCard`'s session cache off
//!    ("before") and on ("after"), and where the APDUs go, operation by operation (issue 14).
//!
//! Prints figures and a summary against the targets of issue 3; asserts nothing about speed.
//! It does stop with an error if an upgrade or an enrolment does not do what it should, since
//! a figure for a run that failed would mean nothing.
//!
//! Run: `cargo bench --bench upgrade` (as root, with pcscd and vsmartcard-vpcd).

#[allow(dead_code)]
#[path = "../tests/support/pcscd.rs"]
mod pcscd;
#[allow(dead_code)]
#[path = "../tests/support/persons.rs"]
mod persons;
#[allow(dead_code)]
#[path = "../tests/support/softhsm.rs"]
mod softhsm;
#[allow(dead_code)]
#[path = "../tests/support/watched_card.rs"]
mod watched_card;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use siths_upgrade::ca::Profile;
use siths_upgrade::ca::mock::persons::BUILTIN_PERSONS_JSON;
use siths_upgrade::ca::mock::{self, CaName, MockDir, MockHandle};
use siths_upgrade::ca::{contract, pkcs7, tls};
use siths_upgrade::card::Card as _;
use siths_upgrade::card::{SecretCode, SithsCard};
use siths_upgrade::pkcs11::Pkcs11Card;
use siths_upgrade::pki::keys::{RsaSpki, generate_rsa_key, private_key_pkcs8_der};
use siths_upgrade::pki::{CertInfo, PersonCertRequest, Purpose};
use siths_upgrade::transport::TransportError;
use siths_upgrade::transport::pcsc::PcscTransport;
use siths_upgrade::virtual_card::{self, Layout, Pace, PaceSpent, VirtualCard, pace, vpcd};
use siths_upgrade::workflow::renew::{RenewRequest, renew};
use siths_upgrade::workflow::steps::Timing;
use siths_upgrade::workflow::upgrade::{UpgradeRequest, upgrade};

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// The person whose pre-upgrade card every upgrade run starts from.
const KARIN: &str = persons::HOLDER.hsa_id;
/// The person whose upgraded card expires in 20 days: every renewal run starts from it.
const RENEWAL_DUE: &str = persons::RENEWAL_DUE.hsa_id;
/// The two concurrent enrolling clients: ordinary holders allowed all four profiles.
/// Two concurrent clients. The CA issues a person one current certificate per profile (a second
/// key is refused as `already_enrolled`), so each client enrols for its own persons, added to
/// the bench's copy of the directory after the pattern of `CLIENT_TEMPLATE`: one kept-alive
/// connection per person, four profiles each. All connections are opened before timing and come
/// from one address, which the mock lets hold 64 (`Limits::per_client`).
const CLIENTS: usize = 2;
const PERSONS_PER_CLIENT: usize = 30;
const CLIENT_TEMPLATE: &str = persons::OTHER_HOLDER.hsa_id;
const UPGRADE_RUNS: usize = 5;
const ENROLMENTS_PER_CLIENT: usize = PERSONS_PER_CLIENT * 4;
/// Key slots of the legacy pair, which a completed upgrade removes.
const LEGACY_SLOTS: [u8; 2] = [1, 5];

/// Targets from issue 3.
const TARGET_CLIENT_MS: f64 = 100.0;
const TARGET_TOTAL_MS: f64 = 3000.0;
const TARGET_ENROLMENTS_PER_S: f64 = 150.0;
/// Hang guard while pcscd notices the card; not a timing expectation.
const CARD_WAIT: Duration = Duration::from_secs(20);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("upgrade bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> BenchResult<()> {
    // pcscd first: the PC/SC client library reads the socket variable once, and no other
    // thread may exist while the environment changes.
    let pcscd = pcscd::Pcscd::start();
    // SAFETY: no other thread exists yet and no PC/SC context has been made.
    unsafe { std::env::set_var(pcscd::SOCKET_ENV, pcscd.socket_path()) };

    print_machine();
    let tmp = tempfile::Builder::new()
        .prefix("siths-bench-upgrade-")
        .tempdir()?;
    let world = tmp.path().join("world");
    let made = mock::init(&world)?;
    println!(
        "ca-mock init: {} persons, {} cards in {:.1} s (RSA-4096 root, issuing CAs, a card per person)",
        made.persons, made.cards, made.seconds
    );

    let world_idprime = tmp.path().join("world-idprime");
    let made =
        mock::init::init_with_persons(&world_idprime, BUILTIN_PERSONS_JSON, Layout::Idprime)?;
    println!(
        "ca-mock init --layout idprime: {} persons, {} cards in {:.1} s",
        made.persons, made.cards, made.seconds
    );

    let upgrades = bench_upgrade(&pcscd, &world, tmp.path())?;
    let upgrades_idprime = bench_upgrade(&pcscd, &world_idprime, tmp.path())?;
    let renewals = bench_renewal(&pcscd, &world, tmp.path())?;
    let pkcs11 = bench_pkcs11_upgrade(&world, tmp.path())?;
    let issuance = bench_issuance(&world, tmp.path())?;
    print_summary(&upgrades, &pkcs11, &issuance);
    print_layouts(&[("pkcs15", &upgrades), ("idprime", &upgrades_idprime)]);
    print_renewal_summary(&renewals);
    bench_session_cache(&pcscd, &world, tmp.path())?;
    // tmp (both CA copies, card states) and pcscd (its own temp dir) go on drop.
    Ok(())
}

fn print_machine() {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "machine: {cores} cores, load average {} (shared with other work; figures vary with it)",
        load.join(" ")
    );
}

// ---------------------------------------------------------------------------------------------
// 1. Full upgrade through pcscd + vpcd

/// One upgrade run: the workflow's own timing and what the card answered.
struct UpgradeRun {
    timing: Timing,
    apdus: u64,
    command_bytes: u64,
    response_bytes: u64,
    /// Card-side counters before and after the run (a fresh card starts at 0).
    counters: (Counters, Counters),
    /// Whether the host's own counters (SithsCard::stats) saw the same traffic.
    host_agrees: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    apdus: u64,
    command_bytes: u64,
    response_bytes: u64,
}

struct UpgradeFigures {
    runs: Vec<UpgradeRun>,
    /// Mean time of one RSA-2048 key generation with the code the virtual card uses.
    keygen_ms: f64,
    /// The run at a real card's pace.
    real_pace: RealPaceRun,
}

/// The upgrade run with the virtual card at [`Pace::Real`].
struct RealPaceRun {
    seed: u64,
    run: UpgradeRun,
    spent: PaceSpent,
    /// Full and resumed TLS handshakes the CA finished during the run.
    handshakes: (u64, u64),
}

/// The served card and the CA of the upgrade runs; torn down in order on drop.
struct UpgradeRig {
    stop: Arc<AtomicBool>,
    server: Option<JoinHandle<Result<(), vpcd::VpcdError>>>,
    card: virtual_card::SharedVirtualCard,
    mock: Option<MockHandle>,
    dir: MockDir,
    world: PathBuf,
    /// Whose card is served.
    person: &'static str,
    /// The reader it is served in.
    reader: &'static str,
}

impl Drop for UpgradeRig {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
        if let Some(mock) = self.mock.take() {
            mock.stop();
        }
    }
}

impl UpgradeRig {
    fn start(
        pcscd: &pcscd::Pcscd,
        world: &Path,
        tmp: &Path,
        person: &'static str,
    ) -> BenchResult<UpgradeRig> {
        let world_name = world
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("world");
        let path = tmp.join(format!("ca-{world_name}-{person}"));
        copy_dir(world, &path)?;
        let dir = MockDir::new(&path);
        let card = virtual_card::share_virtual_card(VirtualCard::open(dir.card_state(person))?);
        let stop = Arc::new(AtomicBool::new(false));
        // Each layout's card in a vpcd slot of its own: pcscd then never mistakes a card just
        // served for the one whose link just closed (their ATRs and protocols differ).
        let layout = MockDir::new(world).config()?.card_layout;
        let (port, reader) = match layout {
            Layout::Pkcs15 => (pcscd.vpcd_port(), pcscd::READER_0),
            Layout::Idprime => (pcscd.vpcd_port() + 1, pcscd::READER_1),
        };
        let addr = format!("127.0.0.1:{port}");
        let server = {
            let (card, stop) = (card.clone(), stop.clone());
            std::thread::spawn(move || vpcd::serve(card, &addr, stop))
        };
        Ok(UpgradeRig {
            stop,
            server: Some(server),
            card,
            mock: None,
            dir,
            world: world.to_path_buf(),
            person,
            reader,
        })
    }

    /// The person's pre-upgrade card and the CA's store as `ca-mock init` made them, and the CA
    /// serving again.
    fn fresh_card_and_store(&mut self) -> BenchResult<()> {
        if let Some(mock) = self.mock.take() {
            mock.stop();
        }
        for suffix in ["", "-wal", "-shm"] {
            let name = format!("store.sqlite{suffix}");
            let target = self.dir.path().join(&name);
            if target.exists() {
                std::fs::remove_file(&target)?;
            }
            let pristine = self.world.join(&name);
            if pristine.exists() {
                std::fs::copy(pristine, &target)?;
            }
        }
        self.mock = Some(mock::start(self.dir.path(), "127.0.0.1:0")?);
        let state = self.dir.card_state(self.person);
        std::fs::copy(MockDir::new(&self.world).card_state(self.person), &state)?;
        *virtual_card::lock_virtual_card(&self.card) = VirtualCard::open(&state)?;
        Ok(())
    }

    fn counters(&self) -> Counters {
        let card = virtual_card::lock_virtual_card(&self.card);
        Counters {
            apdus: card.command_count(),
            command_bytes: card.command_bytes(),
            response_bytes: card.response_bytes(),
        }
    }

    /// Connect through pcscd once it reports the card (vpcd link up, ATR read).
    fn connect(&self, pcscd: &pcscd::Pcscd) -> BenchResult<PcscTransport> {
        let deadline = Instant::now() + CARD_WAIT;
        loop {
            match PcscTransport::connect(Some(self.reader)) {
                Ok(t) => return Ok(t),
                Err(TransportError::NoCard(_) | TransportError::NoReader)
                    if Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(format!("{e}\npcscd log:\n{}", pcscd.log()).into()),
            }
        }
    }

    fn url(&self) -> BenchResult<String> {
        Ok(self
            .mock
            .as_ref()
            .ok_or("the CA mock is not running")?
            .url())
    }
}

/// PIN1 and PIN2 from the person's code letter in the CA directory.
fn codes(dir: &MockDir, person: &str) -> BenchResult<(SecretCode, SecretCode)> {
    let pins = std::fs::read_to_string(dir.card_pins(person))?;
    let code = |key: &str| -> BenchResult<SecretCode> {
        let value = pins
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .ok_or_else(|| format!("{person}.pins has no {key} line"))?;
        Ok(SecretCode::pin(value.trim().to_string())?)
    };
    Ok((code("PIN1")?, code("PIN2")?))
}

fn bench_upgrade(pcscd: &pcscd::Pcscd, world: &Path, tmp: &Path) -> BenchResult<UpgradeFigures> {
    let mut rig = UpgradeRig::start(pcscd, world, tmp, KARIN)?;
    let root_pem = std::fs::read(rig.dir.root_pem())?;
    let (pin1, pin2) = codes(&rig.dir, KARIN)?;
    let layout = rig.dir.config()?.card_layout;

    println!(
        "\n== full upgrade of {KARIN}'s {layout:?} card through pcscd+vpcd, {UPGRADE_RUNS} runs (fresh card and CA store each) =="
    );
    println!(
        "{:>3} {:>9} {:>9} {:>9} {:>9} {:>6} {:>9} {:>9}   card counters before -> after, host",
        "run", "total ms", "card ms", "CA ms", "client ms", "APDUs", "cmd B", "resp B"
    );
    let mut runs = Vec::with_capacity(UPGRADE_RUNS);
    for n in 1..=UPGRADE_RUNS {
        rig.fresh_card_and_store()?;
        let url = rig.url()?;
        let mut opened = SithsCard::open(Box::new(rig.connect(pcscd)?))?;
        // Count from here: the upgrade's own APDUs, not opening the connection.
        opened.reset_stats();
        let before = rig.counters();
        let card = siths_upgrade::card::share(opened);
        let summary = upgrade(
            &card,
            &UpgradeRequest {
                ca_url: &url,
                ca_root_pem: &root_pem,
                pin1: &pin1,
                pin2: &pin2,
            },
            &mut |_| {},
        )?;
        let host = card.lock().map_err(|_| "card lock poisoned")?.stats();
        drop(card);
        let after = rig.counters();
        let certificates = summary.overview.certificates.len();
        if summary.written.len() != Profile::ALL.len()
            || summary
                .removed_slots
                .iter()
                .map(|s| s.number())
                .ne(LEGACY_SLOTS)
            || certificates != Profile::ALL.len()
        {
            return Err(format!(
                "run {n} did not upgrade the card: wrote {:?}, removed slots {:?}, {certificates} certificates on the card",
                summary.written, summary.removed_slots
            )
            .into());
        }
        let run = UpgradeRun {
            timing: summary.timing,
            apdus: after.apdus.saturating_sub(before.apdus),
            command_bytes: after.command_bytes.saturating_sub(before.command_bytes),
            response_bytes: after.response_bytes.saturating_sub(before.response_bytes),
            counters: (before, after),
            host_agrees: (host.apdus, host.bytes_sent, host.bytes_received)
                == (
                    after.apdus.saturating_sub(before.apdus),
                    after.command_bytes.saturating_sub(before.command_bytes),
                    after.response_bytes.saturating_sub(before.response_bytes),
                ),
        };
        let t = &run.timing;
        println!(
            "{n:>3} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>6} {:>9} {:>9}   {}/{}/{} -> {}/{}/{}, {}",
            ms(t.total),
            ms(t.card),
            ms(t.ca),
            ms(t.client()),
            run.apdus,
            run.command_bytes,
            run.response_bytes,
            run.counters.0.apdus,
            run.counters.0.command_bytes,
            run.counters.0.response_bytes,
            run.counters.1.apdus,
            run.counters.1.command_bytes,
            run.counters.1.response_bytes,
            if run.host_agrees {
                "host counts the same"
            } else {
                "host counts DIFFER"
            },
        );
        runs.push(run);
    }
    let col = |f: &dyn Fn(&UpgradeRun) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    println!(
        "med {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>6} {:>9} {:>9}",
        col(&|r| ms(r.timing.total)),
        col(&|r| ms(r.timing.card)),
        col(&|r| ms(r.timing.ca)),
        col(&|r| ms(r.timing.client())),
        col(&|r| r.apdus as f64),
        col(&|r| r.command_bytes as f64),
        col(&|r| r.response_bytes as f64),
    );
    println!(
        "(APDUs and bytes from the card's own counters (APDUs/command bytes/response bytes), \
         counted from after the connection was opened; \"host\" compares SithsCard::stats)"
    );

    // What one on-card key generation costs here: the virtual card makes its keys with the
    // same `rsa` crate code; four keys per upgrade.
    let keygen_ms = time_keygen(4)?;
    println!(
        "card time = every card operation through PC/SC (pcscd + vpcd + the in-process virtual \
         card, which saves its state file after each write): reading the card, VERIFY, four \
         on-card RSA-2048 key generations ({keygen_ms:.0} ms each on this machine, so ~{:.0} ms \
         per upgrade; real cards take seconds too), CSR signing, certificate writes, the \
         signature proofs and removing the legacy pair.",
        4.0 * keygen_ms
    );
    println!(
        "CA time = requests to the CA mock, including TLS handshakes (where the card signs the \
         handshake: those card signatures count as CA time). client time = the rest: \
         certificate checks, parsing, building requests."
    );
    let real_pace = bench_real_pace(&mut rig, pcscd, &root_pem, &pin1, &pin2)?;
    Ok(UpgradeFigures {
        runs,
        keygen_ms,
        real_pace,
    })
}

/// One more upgrade, the virtual card at a real card's pace with the fixed default seed: what a
/// whole upgrade would take with a physical card (issue 14). The CA mock keeps its default
/// limits, so it closes connections idle for 10 s as it would any client's.
fn bench_real_pace(
    rig: &mut UpgradeRig,
    pcscd: &pcscd::Pcscd,
    root_pem: &[u8],
    pin1: &SecretCode,
    pin2: &SecretCode,
) -> BenchResult<RealPaceRun> {
    let seed = pace::DEFAULT_SEED;
    println!(
        "\n== the same upgrade at a real card's pace (virtual card --pace real, seed {seed}; \
         CA mock with its default limits), one run =="
    );
    rig.fresh_card_and_store()?;
    let url = rig.url()?;
    let mut opened = SithsCard::open(Box::new(rig.connect(pcscd)?))?;
    opened.reset_stats();
    // From here on: opening the connection above ran at full speed.
    virtual_card::lock_virtual_card(&rig.card).set_pace(Pace::Real { seed });
    let before = rig.counters();
    let card = siths_upgrade::card::share(opened);
    let summary = upgrade(
        &card,
        &UpgradeRequest {
            ca_url: &url,
            ca_root_pem: root_pem,
            pin1,
            pin2,
        },
        &mut |_| {},
    )?;
    let host = card.lock().map_err(|_| "card lock poisoned")?.stats();
    drop(card);
    let after = rig.counters();
    let spent = virtual_card::lock_virtual_card(&rig.card).pace_spent();
    virtual_card::lock_virtual_card(&rig.card).set_pace(Pace::Fast);
    if summary.written.len() != Profile::ALL.len()
        || summary.overview.certificates.len() != Profile::ALL.len()
    {
        return Err(format!(
            "the real-pace run did not upgrade the card: wrote {:?}",
            summary.written
        )
        .into());
    }
    let handshakes = rig.mock.as_ref().map_or((0, 0), |m| {
        (m.handshakes().full(), m.handshakes().resumed())
    });
    let run = UpgradeRun {
        timing: summary.timing,
        apdus: after.apdus.saturating_sub(before.apdus),
        command_bytes: after.command_bytes.saturating_sub(before.command_bytes),
        response_bytes: after.response_bytes.saturating_sub(before.response_bytes),
        counters: (before, after),
        host_agrees: host.apdus == after.apdus.saturating_sub(before.apdus),
    };
    let t = &run.timing;
    println!(
        "predicted wall time of a whole upgrade: {:.1} s (card {:.1} s, CA {:.1} s, client \
         {:.1} ms); {} APDUs, {} command bytes, {} response bytes",
        t.total.as_secs_f64(),
        t.card.as_secs_f64(),
        t.ca.as_secs_f64(),
        ms(t.client()),
        run.apdus,
        run.command_bytes,
        run.response_bytes
    );
    println!(
        "card busy by cause (virtual_card::pace): {} APDUs x {} ms = {:.1} s; {} bytes on the \
         wire (T=1, IFSC {}) at {} bit/s = {:.1} s; {} key generations = {:.1} s; {} \
         signatures = {:.1} s; in all {:.1} s (the emulation's own work is counted in these; \
         a TLS handshake's signature counts as CA time, as above)",
        spent.apdus,
        pace::APDU_OVERHEAD.as_millis(),
        spent.overhead.as_secs_f64(),
        spent.wire_bytes,
        pace::IFSC,
        pace::BIT_RATE,
        spent.bytes.as_secs_f64(),
        spent.key_generations,
        spent.key_generation.as_secs_f64(),
        spent.signatures,
        spent.signing.as_secs_f64(),
        spent.total().as_secs_f64()
    );
    let default_rate = 9_600.0;
    let slow_bytes = spent.bytes.as_secs_f64() * pace::BIT_RATE as f64 / default_rate;
    println!(
        "at ISO 7816-3's default 9600 bit/s (a card whose ATR proposes no faster rate) the \
         bytes would take {slow_bytes:.1} s, the whole upgrade about {:.0} s",
        t.total.as_secs_f64() - spent.bytes.as_secs_f64() + slow_bytes
    );
    println!(
        "CA connections: {} full TLS handshake(s), each signed by the card; {} resumed",
        handshakes.0, handshakes.1
    );
    Ok(RealPaceRun {
        seed,
        run,
        spent,
        handshakes,
    })
}

// ---------------------------------------------------------------------------------------------
// 3. A renewal of a due card through pcscd

struct RenewalRun {
    timing: Timing,
    apdus: u64,
    bytes: u64,
}

fn bench_renewal(pcscd: &pcscd::Pcscd, world: &Path, tmp: &Path) -> BenchResult<Vec<RenewalRun>> {
    let mut rig = UpgradeRig::start(pcscd, world, tmp, RENEWAL_DUE)?;
    let root_pem = std::fs::read(rig.dir.root_pem())?;
    let (pin1, pin2) = codes(&rig.dir, RENEWAL_DUE)?;
    // The last rig's vpcd link takes a moment to go down in pcscd; a connection made before
    // that gets a pulled card's empty answer.
    std::thread::sleep(Duration::from_millis(500));

    println!(
        "\n== renewal of {RENEWAL_DUE} (four certificates due in 20 days) through pcscd+vpcd, \
         {UPGRADE_RUNS} runs (fresh card and CA store each) =="
    );
    println!(
        "{:>3} {:>9} {:>9} {:>9} {:>9} {:>6} {:>9}",
        "run", "total ms", "card ms", "CA ms", "client ms", "APDUs", "bytes"
    );
    let mut runs = Vec::with_capacity(UPGRADE_RUNS);
    for n in 1..=UPGRADE_RUNS {
        rig.fresh_card_and_store()?;
        let url = rig.url()?;
        let mut opened = SithsCard::open(Box::new(rig.connect(pcscd)?))?;
        opened.reset_stats();
        let before = rig.counters();
        let card = siths_upgrade::card::share(opened);
        let summary = renew(
            &card,
            &RenewRequest {
                ca_url: &url,
                ca_root_pem: &root_pem,
                pin1: &pin1,
                pin2: &pin2,
                only: &[],
            },
            &mut |_| {},
        )?;
        drop(card);
        let after = rig.counters();
        if summary.renewed.len() != Profile::ALL.len() || summary.removed_slots.len() != 4 {
            return Err(format!(
                "run {n} did not renew the card: renewed {:?}, removed slots {:?}",
                summary.renewed, summary.removed_slots
            )
            .into());
        }
        let run = RenewalRun {
            timing: summary.timing,
            apdus: after.apdus.saturating_sub(before.apdus),
            bytes: (after.command_bytes + after.response_bytes)
                .saturating_sub(before.command_bytes + before.response_bytes),
        };
        let t = &run.timing;
        println!(
            "{n:>3} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>6} {:>9}",
            ms(t.total),
            ms(t.card),
            ms(t.ca),
            ms(t.client()),
            run.apdus,
            run.bytes
        );
        runs.push(run);
    }
    Ok(runs)
}

fn print_renewal_summary(runs: &[RenewalRun]) {
    let med = |f: &dyn Fn(&RenewalRun) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    println!(
        "renewal split (median ms): total {:.0}, card {:.0}, CA {:.0}, client {:.1}; APDUs {:.0}, \
         bytes {:.0}",
        med(&|r| ms(r.timing.total)),
        med(&|r| ms(r.timing.card)),
        med(&|r| ms(r.timing.ca)),
        med(&|r| ms(r.timing.client())),
        med(&|r| r.apdus as f64),
        med(&|r| r.bytes as f64),
    );
}

// ---------------------------------------------------------------------------------------------
// 2. The same upgrade through PKCS#11 on SoftHSM2

/// The pkcs11 backend's upgrade runs: the workflow's own timing per run.
struct Pkcs11Figures {
    runs: Vec<Timing>,
}

fn bench_pkcs11_upgrade(world: &Path, tmp: &Path) -> BenchResult<Pkcs11Figures> {
    if !Path::new(softhsm::MODULE).is_file() {
        return Err(format!("{} is missing: apt-get install softhsm2", softhsm::MODULE).into());
    }
    let path = tmp.join("ca-pkcs11");
    copy_dir(world, &path)?;
    let dir = MockDir::new(&path);
    let state = dir.card_state(KARIN);
    let codes = softhsm::codes_of(&state);
    // A module reads its configuration once per process: every run's token is made first.
    let hsm = softhsm::SoftHsm::new();
    let label = |n: usize| format!("Bench card {n}");
    for n in 1..=UPGRADE_RUNS {
        hsm.load_card_as(&state, &codes, softhsm::Model::TokenPerPin, &label(n));
    }
    hsm.use_here();
    let root_pem = std::fs::read(dir.root_pem())?;
    let pin1 = SecretCode::pin(codes.pin1.clone())?;
    let pin2 = SecretCode::pin(codes.pin2.clone())?;
    println!(
        "\n== the same upgrade through PKCS#11 on SoftHSM2 (one token per PIN), {UPGRADE_RUNS} runs (fresh token and CA store each) =="
    );
    println!(
        "{:>3} {:>9} {:>9} {:>9} {:>9}",
        "run", "total ms", "card ms", "CA ms", "client ms"
    );
    let mut runs = Vec::with_capacity(UPGRADE_RUNS);
    for n in 1..=UPGRADE_RUNS {
        for suffix in ["", "-wal", "-shm"] {
            let name = format!("store.sqlite{suffix}");
            let target = path.join(&name);
            if target.exists() {
                std::fs::remove_file(&target)?;
            }
            let pristine = world.join(&name);
            if pristine.exists() {
                std::fs::copy(pristine, &target)?;
            }
        }
        let ca = mock::start(&path, "127.0.0.1:0")?;
        let card = Pkcs11Card::open(Path::new(softhsm::MODULE), Some(&label(n)))?;
        let card = siths_upgrade::card::share(card);
        let summary = upgrade(
            &card,
            &UpgradeRequest {
                ca_url: &ca.url(),
                ca_root_pem: &root_pem,
                pin1: &pin1,
                pin2: &pin2,
            },
            &mut |_| {},
        )?;
        ca.stop();
        if summary.written.len() != Profile::ALL.len()
            || summary.overview.certificates.len() != Profile::ALL.len()
        {
            return Err(format!(
                "PKCS#11 run {n} did not upgrade the token: wrote {:?}",
                summary.written
            )
            .into());
        }
        let t = summary.timing;
        println!(
            "{n:>3} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            ms(t.total),
            ms(t.card),
            ms(t.ca),
            ms(t.client())
        );
        runs.push(t);
    }
    let col = |f: &dyn Fn(&Timing) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    println!(
        "med {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        col(&|t| ms(t.total)),
        col(&|t| ms(t.card)),
        col(&|t| ms(t.ca)),
        col(&|t| ms(t.client()))
    );
    println!(
        "card time = every call into the PKCS#11 module (SoftHSM2 keeps each object in a file \
         and makes its RSA-2048 keys with its own crypto library); CA and client time as above."
    );
    Ok(Pkcs11Figures { runs })
}

/// Mean milliseconds of one RSA-2048 key generation over `count` keys.
fn time_keygen(count: usize) -> BenchResult<f64> {
    let started = Instant::now();
    for _ in 0..count {
        std::hint::black_box(generate_rsa_key(2048)?);
    }
    Ok(ms(started.elapsed()) / count as f64)
}

// ---------------------------------------------------------------------------------------------
// 2. CA mock issuance throughput

struct IssuanceFigures {
    enrolments: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl IssuanceFigures {
    fn per_second(&self) -> f64 {
        self.enrolments as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// One person a client enrols for: its HTTP client (one kept-alive mutual-TLS connection) and
/// its pre-built CSRs, one per profile, with the key each certifies.
struct Login {
    hsa_id: String,
    http: reqwest::blocking::Client,
    work: Vec<(Profile, Vec<u8>, RsaSpki)>,
}

/// What one client saw: the latency of each enrolment and, per person, the certificates it got.
struct EnrolResult {
    latencies: Vec<Duration>,
    issued: Vec<(String, Vec<Issued>)>,
}

/// A certificate the CA answered and the key its CSR carried.
type Issued = (Vec<u8>, RsaSpki);

/// A personnummer born on 1980-01-01 with birth number `n` and its Luhn check digit.
fn bench_personnummer(n: usize) -> String {
    let body = format!("800101{:03}", n % 1000);
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0') * if i % 2 == 0 { 2 } else { 1 };
            d / 10 + d % 10
        })
        .sum();
    format!("19{body}{}", (10 - sum % 10) % 10)
}

/// The bench's persons, `CLIENTS * PERSONS_PER_CLIENT` copies of `CLIENT_TEMPLATE` with ids of
/// their own, added to the copy's persons.json. Their HSA-ids, by client.
fn add_bench_persons(dir: &MockDir) -> BenchResult<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(dir.persons_json())?;
    let mut all: Vec<serde_json::Value> = serde_json::from_str(&text)?;
    let template = all
        .iter()
        .find(|p| p["hsa_id"] == CLIENT_TEMPLATE)
        .cloned()
        .ok_or("the template person is not in the directory")?;
    let mut by_client = vec![Vec::new(); CLIENTS];
    for i in 0..CLIENTS * PERSONS_PER_CLIENT {
        let hsa_id = format!("TST5565594230-{}", 5000 + i);
        let mut person = template.clone();
        person["hsa_id"] = hsa_id.clone().into();
        person["personnummer"] = bench_personnummer(i).into();
        person["card_serial"] = format!("97522690000{:05}", 50000 + i).into();
        person["upn"] = serde_json::Value::Null;
        all.push(person);
        by_client[i % CLIENTS].push(hsa_id);
    }
    std::fs::write(dir.persons_json(), serde_json::to_string_pretty(&all)?)?;
    Ok(by_client)
}

fn bench_issuance(world: &Path, tmp: &Path) -> BenchResult<IssuanceFigures> {
    let path = tmp.join("ca-issuance");
    copy_dir(world, &path)?;
    let dir = MockDir::new(&path);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(path.join(format!("store.sqlite{suffix}")));
    }
    let clients = add_bench_persons(&dir)?;
    let handle = mock::start(&path, "127.0.0.1:0")?;
    let url = handle.url();
    let root_pem = std::fs::read(dir.root_pem())?;
    let legacy = dir.load_ca(CaName::Legacy)?;
    let persons = dir.persons()?;

    println!(
        "\n== CA mock issuance: {CLIENTS} concurrent clients x {ENROLMENTS_PER_CLIENT} enrolments ({PERSONS_PER_CLIENT} persons each, 4 profiles per person) =="
    );
    let total = CLIENTS * ENROLMENTS_PER_CLIENT;
    let pool_started = Instant::now();
    let pools = std::thread::scope(|s| {
        let workers: Vec<_> = (0..CLIENTS)
            .map(|_| s.spawn(|| key_pool(ENROLMENTS_PER_CLIENT)))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().map_err(|_| "key generation thread panicked")?)
            .collect::<BenchResult<Vec<_>>>()
    })?;
    println!(
        "key pool: {total} RSA-2048 keys and CSRs (rcgen, empty subject) made before timing in {:.1} s",
        pool_started.elapsed().as_secs_f64()
    );

    let mut enrollers = Vec::new();
    for (hsa_ids, pool) in clients.iter().zip(pools) {
        let mut pool = pool.into_iter();
        let mut logins = Vec::new();
        for hsa_id in hsa_ids {
            let person = persons
                .by_hsa_id(hsa_id)
                .ok_or_else(|| format!("{hsa_id} is not in the directory"))?;
            // A TLS client certificate from DIR's legacy CA, as on the person's pre-upgrade
            // card, for a key held in memory.
            let key = generate_rsa_key(2048)?;
            let spki = RsaSpki::from_key(&key.to_public_key())?;
            let cert = legacy.issue_person_cert(
                &PersonCertRequest {
                    subject: person.name_with(hsa_id),
                    purpose: Purpose::Authentication,
                    trust_level: None,
                    upn: None,
                    not_before: None,
                    not_after: None,
                },
                &spki.spki_der,
            )?;
            let pkcs8 = private_key_pkcs8_der(&key)?;
            let http = http_client(&root_pem, cert, pkcs8.to_vec())?;
            // Open the connection (TLS handshake) before timing: the figure is enrolments on a
            // kept-alive connection, as an upgrade makes them.
            let me = http.get(format!("{url}{}", contract::ME)).send()?;
            if me.status() != 200 {
                return Err(format!("{hsa_id}: {} answered {}", contract::ME, me.status()).into());
            }
            let _ = me.bytes()?;
            let work: Vec<_> = pool.by_ref().take(Profile::ALL.len()).collect();
            logins.push(Login {
                hsa_id: hsa_id.clone(),
                http,
                work,
            });
        }
        enrollers.push(logins);
    }

    let start = Arc::new(Barrier::new(enrollers.len() + 1));
    let threads: Vec<JoinHandle<BenchResult<EnrolResult>>> = enrollers
        .into_iter()
        .map(|logins| {
            let (start, url) = (start.clone(), url.clone());
            std::thread::spawn(move || enrol_all(logins, &url, &start))
        })
        .collect();
    start.wait();
    let started = Instant::now();
    let mut results = Vec::new();
    for t in threads {
        results.push(t.join().map_err(|_| "enrolling thread panicked")??);
    }
    let elapsed = started.elapsed();

    // After timing: each answer certifies the key its CSR carried, and the store holds one new
    // certificate per enrolment (none was an idempotent repeat).
    for result in &results {
        for (hsa_id, issued) in &result.issued {
            for (der, spki) in issued {
                let info = CertInfo::from_der(der)?;
                if !info.matches_rsa_key(&spki.modulus, &spki.exponent) {
                    return Err(format!("{hsa_id}: a certificate for another key came back").into());
                }
            }
            let stored = handle.certificates_for(hsa_id)?.len();
            if stored != Profile::ALL.len() {
                return Err(format!(
                    "{hsa_id}: the store holds {stored} certificates, expected {}",
                    Profile::ALL.len()
                )
                .into());
            }
        }
    }
    handle.stop();

    let latencies: Vec<Duration> = results.into_iter().flat_map(|r| r.latencies).collect();
    let figures = IssuanceFigures {
        enrolments: latencies.len(),
        elapsed,
        latencies,
    };
    let (lat_median, lat_p90) = median_p90(&figures.latencies);
    println!(
        "{} enrolments (all 200, one certificate each, each for its own key; store holds {} per person) in {:.2} s",
        figures.enrolments,
        Profile::ALL.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "throughput: {:.0} enrolments/s; latency per enrolment median {lat_median:.1} ms, p90 {lat_p90:.1} ms",
        figures.per_second()
    );
    println!(
        "(the CA mock's 2 tokio workers, both clients and their reqwest runtimes share this machine's cores)"
    );
    Ok(figures)
}

/// `count` distinct RSA-2048 keys, each with a CSR for the next of the four profiles in turn.
fn key_pool(count: usize) -> BenchResult<Vec<(Profile, Vec<u8>, RsaSpki)>> {
    let mut pool = Vec::with_capacity(count);
    for i in 0..count {
        let profile = Profile::ALL
            .get(i % Profile::ALL.len())
            .copied()
            .ok_or("no profiles")?;
        let key = generate_rsa_key(2048)?;
        let spki = RsaSpki::from_key(&key.to_public_key())?;
        let pkcs8 = private_key_pkcs8_der(&key)?;
        let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(pkcs8.as_slice()),
            &rcgen::PKCS_RSA_SHA256,
        )?;
        let mut params = rcgen::CertificateParams::default();
        // The CA fills the subject from the directory; an empty one is allowed.
        params.distinguished_name = rcgen::DistinguishedName::new();
        let csr = params.serialize_request(&pair)?;
        pool.push((profile, csr.der().to_vec(), spki));
    }
    Ok(pool)
}

/// reqwest (blocking) over rustls on ring, trusting DIR's root, logging in with an in-memory
/// certificate and key.
fn http_client(
    root_pem: &[u8],
    cert_der: Vec<u8>,
    key_pkcs8: Vec<u8>,
) -> BenchResult<reqwest::blocking::Client> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_root_certificates(tls::root_store(&siths_upgrade::ca::roots::Roots::read(
            root_pem,
        )?)?)
        .with_client_auth_cert(
            vec![CertificateDer::from(cert_der)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8)),
        )?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(config)
        .https_only(true)
        .timeout(Duration::from_secs(30))
        .build()?)
}

fn enrol_all(logins: Vec<Login>, url: &str, start: &Barrier) -> BenchResult<EnrolResult> {
    let mut latencies = Vec::with_capacity(logins.len() * Profile::ALL.len());
    let mut issued = Vec::with_capacity(logins.len());
    start.wait();
    for e in logins {
        let mut got = Vec::with_capacity(e.work.len());
        for (profile, csr, spki) in e.work {
            let t = Instant::now();
            let answer = e
                .http
                .post(format!(
                    "{url}{}",
                    contract::est_path(Some(profile), contract::SIMPLEENROLL)
                ))
                .header("Content-Type", "application/pkcs10")
                .header("Content-Transfer-Encoding", "base64")
                .body(base64::engine::general_purpose::STANDARD.encode(&csr))
                .send()?;
            let status = answer.status();
            let body = answer.bytes()?;
            latencies.push(t.elapsed());
            if status != 200 {
                return Err(format!(
                    "{}: {} enrolment answered {status}: {}",
                    e.hsa_id,
                    profile.label(),
                    String::from_utf8_lossy(&body)
                )
                .into());
            }
            let mut certs = pkcs7::parse_certs_only_base64(&body)?;
            let (Some(cert), true) = (certs.pop(), certs.is_empty()) else {
                return Err(format!(
                    "{}: {} enrolment did not answer exactly one certificate",
                    e.hsa_id,
                    profile.label()
                )
                .into());
            };
            got.push((cert, spki));
        }
        issued.push((e.hsa_id, got));
    }
    Ok(EnrolResult { latencies, issued })
}

// ---------------------------------------------------------------------------------------------
// Summary and helpers

/// APDUs, bytes and time per upgrade on each layout, side by side.
fn print_layouts(layouts: &[(&str, &UpgradeFigures)]) {
    println!("\n== one upgrade per layout (medians of {UPGRADE_RUNS} runs; real pace: one run) ==");
    println!(
        "{:<10} {:>6} {:>10} {:>10} {:>10} {:>10} {:>14}",
        "layout", "APDUs", "cmd bytes", "resp bytes", "total ms", "card ms", "real pace s"
    );
    for (name, f) in layouts {
        let med =
            |g: &dyn Fn(&UpgradeRun) -> f64| median(&f.runs.iter().map(g).collect::<Vec<_>>());
        println!(
            "{:<10} {:>6.0} {:>10.0} {:>10.0} {:>10.0} {:>10.0} {:>14.1}",
            name,
            med(&|r| r.apdus as f64),
            med(&|r| r.command_bytes as f64),
            med(&|r| r.response_bytes as f64),
            med(&|r| ms(r.timing.total)),
            med(&|r| ms(r.timing.card)),
            f.real_pace.run.timing.total.as_secs_f64()
        );
    }
}

fn print_summary(upgrades: &UpgradeFigures, pkcs11: &Pkcs11Figures, issuance: &IssuanceFigures) {
    let runs = &upgrades.runs;
    let med = |f: &dyn Fn(&UpgradeRun) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let worst = |f: &dyn Fn(&UpgradeRun) -> f64| runs.iter().map(f).fold(f64::NAN, f64::max);
    let client = med(&|r| ms(r.timing.client()));
    let client_worst = worst(&|r| ms(r.timing.client()));
    let total = med(&|r| ms(r.timing.total));
    let total_worst = worst(&|r| ms(r.timing.total));
    let rate = issuance.per_second();
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };

    println!("\n== summary ==");
    println!(
        "{:<44} {:>14} {:>12} {:>8}",
        "", "median (worst)", "target", "verdict"
    );
    println!(
        "{:<44} {:>14} {:>12} {:>8}",
        "upgrade: client time (ms)",
        format!("{client:.1} ({client_worst:.1})"),
        format!("< {TARGET_CLIENT_MS:.0}"),
        verdict(client_worst < TARGET_CLIENT_MS)
    );
    println!(
        "{:<44} {:>14} {:>12} {:>8}",
        "upgrade: whole upgrade, virtual card (ms)",
        format!("{total:.0} ({total_worst:.0})"),
        format!("< {TARGET_TOTAL_MS:.0}"),
        verdict(total_worst < TARGET_TOTAL_MS)
    );
    let p11 = |f: &dyn Fn(&Timing) -> f64| median(&pkcs11.runs.iter().map(f).collect::<Vec<_>>());
    let p11_worst = |f: &dyn Fn(&Timing) -> f64| pkcs11.runs.iter().map(f).fold(f64::NAN, f64::max);
    let p11_client = p11(&|t| ms(t.client()));
    let p11_client_worst = p11_worst(&|t| ms(t.client()));
    println!(
        "{:<44} {:>14} {:>12} {:>8}",
        "upgrade via PKCS#11: client time (ms)",
        format!("{p11_client:.1} ({p11_client_worst:.1})"),
        format!("< {TARGET_CLIENT_MS:.0}"),
        verdict(p11_client_worst < TARGET_CLIENT_MS)
    );
    println!(
        "{:<44} {:>14}",
        "upgrade via PKCS#11: whole upgrade (ms)",
        format!(
            "{:.0} ({:.0})",
            p11(&|t| ms(t.total)),
            p11_worst(&|t| ms(t.total))
        )
    );
    println!(
        "{:<44} {:>14} {:>12} {:>8}",
        "CA mock: enrolments/s, 2 clients",
        format!("{rate:.0}"),
        format!(">= {TARGET_ENROLMENTS_PER_S:.0}"),
        verdict(rate >= TARGET_ENROLMENTS_PER_S)
    );
    println!(
        "upgrade split (median ms): card {:.0}, CA {:.0}, client {client:.1}; APDUs {:.0}; \
         on-card key generation ~{:.0} ms of the card time",
        med(&|r| ms(r.timing.card)),
        med(&|r| ms(r.timing.ca)),
        med(&|r| r.apdus as f64),
        4.0 * upgrades.keygen_ms
    );
    println!(
        "upgrade via PKCS#11 split (median ms): card {:.0}, CA {:.0}, client {p11_client:.1}",
        p11(&|t| ms(t.card)),
        p11(&|t| ms(t.ca))
    );
    let real = &upgrades.real_pace;
    println!(
        "upgrade at a real card's pace (seed {}, one run): predicted wall time {:.1} s (card \
         {:.1} s of which key generation {:.1} s and bytes {:.1} s; CA {:.1} s; client {:.1} \
         ms); {} full TLS handshake(s)",
        real.seed,
        real.run.timing.total.as_secs_f64(),
        real.run.timing.card.as_secs_f64(),
        real.spent.key_generation.as_secs_f64(),
        real.spent.bytes.as_secs_f64(),
        real.run.timing.ca.as_secs_f64(),
        ms(real.run.timing.client()),
        real.handshakes.0
    );
    println!("(verdicts use the worst of the {UPGRADE_RUNS} upgrade runs, not the median)");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v.get(n / 2).copied().unwrap_or(f64::NAN),
        n => match (v.get(n / 2 - 1), v.get(n / 2)) {
            (Some(a), Some(b)) => (a + b) / 2.0,
            _ => f64::NAN,
        },
    }
}

/// Median and 90th percentile (nearest rank) in milliseconds.
fn median_p90(samples: &[Duration]) -> (f64, f64) {
    let mut v: Vec<f64> = samples.iter().map(|d| ms(*d)).collect();
    v.sort_by(f64::total_cmp);
    let rank = |q: f64| {
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len().max(1)) - 1;
        v.get(i).copied().unwrap_or(f64::NAN)
    };
    (rank(0.5), rank(0.9))
}

fn copy_dir(from: &Path, to: &Path) -> BenchResult<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 4. Fewer APDUs (issue 14): the session cache off and on, and where the APDUs go

/// One upgrade with `SithsCard`'s session cache off ("before": every file is read from the
/// card whenever an operation needs it) and one with it on ("after"), each on a fresh copy of
/// the same card and CA store, counted by the card itself; then the "after" run's APDUs by
/// card operation, so the next cut goes where it counts.
fn bench_session_cache(pcscd: &pcscd::Pcscd, world: &Path, tmp: &Path) -> BenchResult<()> {
    let tmp = tmp.join("session-cache");
    std::fs::create_dir_all(&tmp)?;
    let mut rig = UpgradeRig::start(pcscd, world, &tmp, KARIN)?;
    let root_pem = std::fs::read(rig.dir.root_pem())?;
    let (pin1, pin2) = codes(&rig.dir, KARIN)?;

    println!(
        "
== APDUs and bytes of one upgrade of {KARIN} through pcscd+vpcd (issue 14) =="
    );
    println!(
        "{:<40} {:>6} {:>9} {:>9} {:>9}",
        "", "APDUs", "cmd B", "resp B", "total B"
    );
    let mut by_operation = Vec::new();
    for cached in [false, true] {
        rig.fresh_card_and_store()?;
        let url = rig.url()?;
        let mut card = SithsCard::open(Box::new(rig.connect(pcscd)?))?;
        if !cached {
            card = card.without_session_cache();
        }
        card.reset_stats();
        let before = rig.counters();
        let card = watched_card::WatchedCard::new(card);
        let operations = card.operations();
        let shared = siths_upgrade::card::share(card);
        let summary = upgrade(
            &shared,
            &UpgradeRequest {
                ca_url: &url,
                ca_root_pem: &root_pem,
                pin1: &pin1,
                pin2: &pin2,
            },
            &mut |_| {},
        )?;
        let after = rig.counters();
        if summary.written.len() != Profile::ALL.len()
            || summary.overview.certificates.len() != Profile::ALL.len()
        {
            return Err(format!(
                "the upgrade (session cache {}) did not upgrade the card: wrote {:?}",
                if cached { "on" } else { "off" },
                summary.written
            )
            .into());
        }
        let (cmd, resp) = (
            after.command_bytes.saturating_sub(before.command_bytes),
            after.response_bytes.saturating_sub(before.response_bytes),
        );
        println!(
            "{:<40} {:>6} {:>9} {:>9} {:>9}",
            if cached {
                "after: session cache on"
            } else {
                "before: session cache off"
            },
            after.apdus.saturating_sub(before.apdus),
            cmd,
            resp,
            cmd + resp
        );
        if cached {
            by_operation = std::mem::take(&mut *operations.lock().map_err(|_| "poisoned")?);
        }
    }
    println!(
        "(\"before\" reads every file from the card whenever an operation needs it; the card \
         counts; files are written by short EF identifier either way; main before issue 14's \
         work took 207 APDUs)"
    );

    // The "after" run by card operation, in the order the upgrade first calls each.
    let mut table: Vec<(&'static str, u64, u64, u64)> = Vec::new();
    for (name, stats) in by_operation {
        let bytes = stats.bytes_sent + stats.bytes_received;
        match table.iter_mut().find(|row| row.0 == name) {
            Some(row) => {
                row.1 += 1;
                row.2 += stats.apdus;
                row.3 += bytes;
            }
            None => table.push((name, 1, stats.apdus, bytes)),
        }
    }
    println!(
        "\nthe \"after\" upgrade by card operation (one transaction each, SELECT of the application first):"
    );
    println!(
        "{:<20} {:>6} {:>6} {:>9}",
        "operation", "calls", "APDUs", "bytes"
    );
    for (name, calls, apdus, bytes) in &table {
        println!("{name:<20} {calls:>6} {apdus:>6} {bytes:>9}");
    }
    Ok(())
}
