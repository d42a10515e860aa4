//! An isolated pcscd for tests, with a vpcd reader on free TCP ports.
//!
//! pcsc-lite 1.9's daemon ignores `PCSCLITE_CSOCK_NAME` (only the client library reads it, once
//! per process) and always serves `/run/pcscd/pcscd.comm`, refusing to start if another pcscd owns
//! it. So each instance runs in its own mount namespace (`unshare`, we run as root) with a private
//! temp dir bind-mounted over `/run/pcscd`; clients reach it through `PCSCLITE_CSOCK_NAME`
//! pointing at that temp dir.
//!
//! A small shell supervisor inside the namespace starts and stops pcscd on request (lines on its
//! stdin) and, when its stdin closes — our Drop, or this process dying without running
//! destructors, as with a `static` — stops pcscd and removes the temp dir.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

pub const PCSCD: &str = "/usr/sbin/pcscd";
pub const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
/// The client library's environment variable for the daemon socket.
pub const SOCKET_ENV: &str = "PCSCLITE_CSOCK_NAME";
/// Reader names of the two vpcd slots (ports `vpcd_port()` and `vpcd_port() + 1`).
pub const READER_0: &str = "Virtual PCD 00 00";
pub const READER_1: &str = "Virtual PCD 00 01";

/// Hang guard for pcscd start-up and shutdown; not a timing expectation.
const READY_LIMIT: Duration = Duration::from_secs(20);

const SUPERVISOR: &str = r#"
base="$1"; conf="$base/conf"; run="$base/run"; log="$base/pcscd.log"
mkdir -p /run/pcscd || exit 1
mount --bind "$run" /run/pcscd || exit 1
pid=
start() {
    rm -f "$run/pcscd.comm" "$run/pcscd.pid"
    "$2" -f -c "$conf" >>"$log" 2>&1 </dev/null &
    pid=$!
}
stop() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=; fi
}
start "$@"
echo started
while read -r cmd; do
    case "$cmd" in
        stop) stop; echo stopped ;;
        start) stop; start "$@"; echo started ;;
    esac
done
stop
umount /run/pcscd
rm -rf "$base"
"#;

pub struct Pcscd {
    base: PathBuf,
    port: u16,
    supervisor: Child,
    commands: Option<ChildStdin>,
    replies: BufReader<ChildStdout>,
    running: bool,
}

impl Pcscd {
    /// Start a new isolated pcscd and wait until it accepts clients and vpcd listens.
    pub fn start() -> Pcscd {
        let base = tempfile::Builder::new()
            .prefix("siths-pcscd-")
            .tempdir()
            .expect("temp dir for pcscd")
            .keep();
        std::fs::create_dir_all(base.join("conf")).expect("conf dir");
        std::fs::create_dir_all(base.join("run")).expect("run dir");
        let port = free_port_pair();
        std::fs::write(
            base.join("conf").join("vpcd"),
            format!(
                "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:{port}\nLIBPATH {VPCD_DRIVER}\nCHANNELID {port}\n"
            ),
        )
        .expect("reader.conf for vpcd");
        let mut supervisor = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
            .arg(SUPERVISOR)
            .arg("pcscd-supervisor")
            .arg(&base)
            .arg(PCSCD)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start unshare + pcscd (tests run as root)");
        let commands = supervisor.stdin.take();
        let replies = BufReader::new(supervisor.stdout.take().expect("supervisor stdout"));
        let mut pcscd = Pcscd {
            base,
            port,
            supervisor,
            commands,
            replies,
            running: false,
        };
        pcscd.expect_reply("started");
        pcscd.wait_ready();
        pcscd
    }

    /// The socket clients must use (value of `PCSCLITE_CSOCK_NAME`).
    pub fn socket_path(&self) -> PathBuf {
        self.base.join("run").join("pcscd.comm")
    }

    /// TCP port of vpcd's first slot ("Virtual PCD 00 00"); the second slot is the next port.
    pub fn vpcd_port(&self) -> u16 {
        self.port
    }

    /// Environment a child process needs to talk to this pcscd.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![(
            SOCKET_ENV.to_owned(),
            self.socket_path().to_string_lossy().into_owned(),
        )]
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    /// pcscd's own log, to explain a failure.
    /// Wait until this pcscd reports the card in its first reader present (or gone), asking
    /// through the CLI as a user would. The limit only guards against a hang.
    pub fn wait_for_card(&self, present: bool) {
        let limit = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_siths-upgrade"))
                .args(["readers", "--json"])
                .envs(self.env())
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            if out.status.success()
                && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout)
                && v["readers"][0]["card_present"] == serde_json::Value::Bool(present)
            {
                return;
            }
            assert!(
                std::time::Instant::now() < limit,
                "the card never became {}: {}",
                if present { "present" } else { "absent" },
                self.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.base.join("pcscd.log")).unwrap_or_default()
    }

    /// Stop pcscd (SIGTERM, waits for it to exit); clients then see the service as gone.
    pub fn stop(&mut self) {
        self.command("stop");
        self.expect_reply("stopped");
        self.running = false;
    }

    /// Start pcscd again after [`Pcscd::stop`], same socket and ports.
    pub fn start_again(&mut self) {
        self.command("start");
        self.expect_reply("started");
        self.wait_ready();
    }

    /// Stop and start pcscd, as a system update or `systemctl restart pcscd` would.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    fn command(&mut self, line: &str) {
        let stdin = self.commands.as_mut().expect("supervisor stdin");
        writeln!(stdin, "{line}").expect("send command to pcscd supervisor");
        stdin.flush().expect("flush supervisor stdin");
    }

    fn expect_reply(&mut self, want: &str) {
        let mut line = String::new();
        let n = self
            .replies
            .read_line(&mut line)
            .expect("read pcscd supervisor");
        assert!(
            n > 0 && line.trim() == want,
            "pcscd supervisor said {line:?} instead of {want:?}; pcscd log:\n{}",
            self.log()
        );
    }

    /// Bounded wait until the socket accepts connections and vpcd listens on both ports.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_LIMIT;
        loop {
            let socket_ok = UnixStream::connect(self.socket_path()).is_ok();
            if socket_ok && listening(self.port) && listening(self.port + 1) {
                self.running = true;
                return;
            }
            if let Ok(Some(status)) = self.supervisor.try_wait() {
                panic!("pcscd supervisor exited ({status}); log:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "pcscd did not become ready (socket {}, vpcd port {}); log:\n{}",
                socket_ok,
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        // Closing stdin makes the supervisor stop pcscd and clean up.
        drop(self.commands.take());
        let _ = self.supervisor.wait();
    }
}

/// Two consecutive free TCP ports, since vpcd listens on PORT and PORT+1. Chosen by binding port
/// 0 so parallel test binaries do not collide.
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let first = TcpListener::bind("0.0.0.0:0").expect("bind a free port");
        let port = first.local_addr().expect("local addr").port();
        if port == u16::MAX {
            continue;
        }
        if TcpListener::bind(("0.0.0.0", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two consecutive free TCP ports found");
}

/// Whether something listens on TCP `port` (IPv4 or IPv6), read from /proc so that checking
/// does not look like a card connecting to vpcd.
fn listening(port: u16) -> bool {
    let want = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        std::fs::read_to_string(table).is_ok_and(|text| {
            text.lines().skip(1).any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                // local_address is field 1, st is field 3 (0A = LISTEN).
                fields.len() > 3 && fields[1].ends_with(&want) && fields[3] == "0A"
            })
        })
    })
}

static SHARED: OnceLock<Mutex<Pcscd>> = OnceLock::new();

/// The pcscd of this test binary, locked for the calling test.
///
/// The client library reads `PCSCLITE_CSOCK_NAME` once per process, so every in-process test of
/// a binary must use the same pcscd; holding the lock also keeps tests from seeing each other's
/// cards and restarts. pcscd is (re)started if an earlier failed test left it stopped.
pub fn shared() -> MutexGuard<'static, Pcscd> {
    let lock = SHARED.get_or_init(|| {
        let pcscd = Pcscd::start();
        // SAFETY: set once, inside OnceLock initialisation, before any PC/SC context exists in
        // this process; every test that touches the environment or PC/SC waits on this lock
        // first.
        unsafe { std::env::set_var(SOCKET_ENV, pcscd.socket_path()) };
        Mutex::new(pcscd)
    });
    let mut guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
    if !guard.is_running() {
        guard.start_again();
    }
    guard
}
