//! An isolated pcscd for tests, with a vpcd reader reachable on 127.0.0.1 only.
//!
//! pcsc-lite 1.9's daemon ignores `PCSCLITE_CSOCK_NAME` (only the client library reads it, once
//! per process) and always serves `/run/pcscd/pcscd.comm`, refusing to start if another pcscd owns
//! it. So each instance runs in namespaces of its own, made without root: a user namespace
//! (`unshare --user --map-root-user`, where we are root), a mount namespace with a fresh tmpfs on
//! `/run` (so the host's `/run` need not hold a `/run/pcscd`, and nothing in it is touched) and a
//! private temp dir bind-mounted over `/run/pcscd` in it, and a network namespace. Clients reach the daemon through
//! `PCSCLITE_CSOCK_NAME` pointing at that temp dir (a Unix socket works across namespaces).
//!
//! vpcd listens on every address of its network namespace, which holds only loopback. Inside it,
//! `socat` forwards a Unix socket in the temp dir to each vpcd port; in this process a forwarder
//! listening on 127.0.0.1 only forwards each card's TCP connection to that Unix socket. So a
//! card still connects over TCP to `127.0.0.1:vpcd_port()`, and nothing off the machine can.
//!
//! A small shell supervisor inside the namespaces starts and stops pcscd on request (lines on its
//! stdin) and, when its stdin closes — our Drop, or this process dying without running
//! destructors, as with a `static` — stops pcscd and the forwarders and removes the temp dir.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
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

/// vpcd's ports inside the private network namespace (free there by construction).
const INNER_PORT: u16 = 35963;

/// Hang guard for pcscd start-up and shutdown; not a timing expectation.
const READY_LIMIT: Duration = Duration::from_secs(20);

const SUPERVISOR: &str = r#"
base="$1"; conf="$base/conf"; run="$base/run"; log="$base/pcscd.log"; inner="$3"
ip link set lo up || exit 1
# vpcd sends an answer's length and its bytes in two writes without TCP_NODELAY, so a reader
# that delays its ACKs (socat does) waits ~40 ms per APDU: no delayed ACKs on loopback here.
ip route replace local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1 quickack 1
ip route replace local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1 quickack 1
# A fresh /run of our own: the host's may lack /run/pcscd (a machine where no pcscd has run) or
# hold another pcscd's socket; nothing of the host's /run is seen or touched.
mount -t tmpfs -o mode=0755 siths-test-run /run || exit 1
mkdir /run/pcscd || exit 1
mount --bind "$run" /run/pcscd || exit 1
socat "UNIX-LISTEN:$base/vpcd0.sock,fork" "TCP:127.0.0.1:$inner" 2>>"$log" </dev/null &
fwd0=$!
socat "UNIX-LISTEN:$base/vpcd1.sock,fork" "TCP:127.0.0.1:$((inner + 1))" 2>>"$log" </dev/null &
fwd1=$!
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
kill -TERM "$fwd0" "$fwd1" 2>/dev/null; wait "$fwd0" "$fwd1" 2>/dev/null
umount /run/pcscd
umount /run
rm -rf "$base"
"#;

/// `HOME` and the XDG folders under `home` (made on first use by whoever needs them; the
/// settings folder is never made by the tests, so there are none unless a test writes them).
pub fn home_env(home: &Path) -> Vec<(String, String)> {
    let at = |sub: &str| home.join(sub).to_string_lossy().into_owned();
    vec![
        ("HOME".to_owned(), home.to_string_lossy().into_owned()),
        ("XDG_CONFIG_HOME".to_owned(), at("config")),
        ("XDG_DATA_HOME".to_owned(), at("data")),
        ("XDG_CACHE_HOME".to_owned(), at("cache")),
    ]
}

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
        std::fs::create_dir_all(base.join("home")).expect("home dir");
        let inner = INNER_PORT;
        std::fs::write(
            base.join("conf").join("vpcd"),
            format!(
                "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:{inner}\nLIBPATH {VPCD_DRIVER}\nCHANNELID {inner}\n"
            ),
        )
        .expect("reader.conf for vpcd");
        let (port, listeners) = loopback_port_pair();
        for (slot, listener) in listeners.into_iter().enumerate() {
            forward(listener, base.join(format!("vpcd{slot}.sock")));
        }
        let mut supervisor = Command::new("unshare")
            .args([
                "--user",
                "--map-root-user",
                "--mount",
                "--net",
                "--propagation",
                "private",
                "--",
                "/bin/sh",
                "-c",
            ])
            .arg(SUPERVISOR)
            .arg("pcscd-supervisor")
            .arg(&base)
            .arg(PCSCD)
            .arg(inner.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start unshare + pcscd (needs util-linux, user namespaces, pcscd, socat)");
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

    /// TCP port (on 127.0.0.1) of vpcd's first slot ("Virtual PCD 00 00"); the second slot is
    /// the next port.
    pub fn vpcd_port(&self) -> u16 {
        self.port
    }

    /// Environment a child process needs to talk to this pcscd.
    /// The environment for a program that uses this pcscd: its socket, and a home in this
    /// pcscd's temp dir (OpenSC makes `~/.cache` when it binds a card; our binary reads its
    /// settings from the XDG folders), so no test touches the user's real home.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = home_env(&self.base.join("home"));
        env.push((
            SOCKET_ENV.to_owned(),
            self.socket_path().to_string_lossy().into_owned(),
        ));
        env
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
            let tables = format!("/proc/{}/net", self.supervisor.id());
            let vpcd_ok = listening(&tables, INNER_PORT) && listening(&tables, INNER_PORT + 1);
            let forwarders_ok =
                (0..2).all(|slot| self.base.join(format!("vpcd{slot}.sock")).exists());
            if socket_ok && vpcd_ok && forwarders_ok {
                self.running = true;
                return;
            }
            if let Ok(Some(status)) = self.supervisor.try_wait() {
                panic!("pcscd supervisor exited ({status}); log:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "pcscd did not become ready (socket {}, vpcd {}, forwarders {}); log:\n{}",
                socket_ok,
                vpcd_ok,
                forwarders_ok,
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

/// Two consecutive free TCP ports on 127.0.0.1, bound (vpcd's slots are PORT and PORT+1).
/// Chosen by binding port 0 so parallel test binaries do not collide.
fn loopback_port_pair() -> (u16, [TcpListener; 2]) {
    for _ in 0..100 {
        let first = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = first.local_addr().expect("local addr").port();
        if port == u16::MAX {
            continue;
        }
        if let Ok(second) = TcpListener::bind(("127.0.0.1", port + 1)) {
            return (port, [first, second]);
        }
    }
    panic!("no two consecutive free TCP ports found on 127.0.0.1");
}

/// Forward every connection to `listener` to the Unix socket `to`, both ways, until either
/// side closes. A card that connects while vpcd is down is closed at once, as vpcd's own
/// listener would refuse it. The threads end with this process.
fn forward(listener: TcpListener, to: PathBuf) {
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let _ = tcp.set_nodelay(true);
            let Ok(unix) = UnixStream::connect(&to) else {
                continue;
            };
            pump(tcp, unix);
        }
    });
}

fn pump(tcp: TcpStream, unix: UnixStream) {
    let (Ok(mut tcp_in), Ok(mut unix_in)) = (tcp.try_clone(), unix.try_clone()) else {
        return;
    };
    let (mut tcp_out, mut unix_out) = (tcp, unix);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut tcp_in, &mut unix_out);
        let _ = unix_out.shutdown(Shutdown::Both);
        let _ = tcp_in.shutdown(Shutdown::Both);
    });
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut unix_in, &mut tcp_out);
        let _ = tcp_out.shutdown(Shutdown::Both);
        let _ = unix_in.shutdown(Shutdown::Both);
    });
}

/// Whether something listens on TCP `port` (IPv4 or IPv6) in the network namespace whose
/// tables are under `net` (`/proc/PID/net`), read from there so that checking does not look
/// like a card connecting to vpcd.
fn listening(net: &str, port: u16) -> bool {
    let want = format!(":{port:04X}");
    ["tcp", "tcp6"].iter().any(|table| {
        std::fs::read_to_string(Path::new(net).join(table)).is_ok_and(|text| {
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
