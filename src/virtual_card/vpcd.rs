//! The link to pcscd's vpcd reader driver, so real PC/SC clients see the virtual card.
//!
//! vpcd listens on TCP (35963 for its first slot) and the card connects to it. Each message is a
//! 2-byte big-endian length and a payload; a 1-byte payload is a control message (`00` power
//! off, `01` power on, `02` reset, `04` send the ATR), anything longer is an APDU to answer.
//! Only the ATR and APDUs get a reply.
//!
//! vpcd writes the length and the payload separately without TCP_NODELAY, so a card that lets
//! the kernel delay its ACKs waits ~40 ms per APDU; we set TCP_NODELAY and re-arm TCP_QUICKACK
//! before every read (measured ~0.16 ms per APDU through pcscd with both).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::shared::{SharedVirtualCard, lock_virtual_card};

/// Default address of vpcd's first slot.
pub const DEFAULT_ADDR: &str = "127.0.0.1:35963";

/// Pause between attempts to reach vpcd (not running yet, or pcscd restarting).
const RETRY: Duration = Duration::from_millis(200);
/// How often a blocked read wakes up to look at the stop flag.
const POLL: Duration = Duration::from_millis(200);
/// How long a pulled card stays out: longer than pcscd's presence poll (400 ms), so pcscd
/// reports the removal and then a new insertion.
const PULL_PAUSE: Duration = Duration::from_millis(1000);

const CTRL_OFF: u8 = 0x00;
const CTRL_ON: u8 = 0x01;
const CTRL_RESET: u8 = 0x02;
const CTRL_ATR: u8 = 0x04;

#[derive(Debug, thiserror::Error)]
pub enum VpcdError {
    #[error("\"{0}\" is not a usable vpcd address: give host:port, for example {DEFAULT_ADDR}")]
    BadAddress(String),
}

/// Why one connection to vpcd ended.
enum End {
    /// The stop flag was raised.
    Stopped,
    /// The card was pulled: stay away for a moment so pcscd notices.
    Pulled,
    /// vpcd went away or broke the protocol: reconnect.
    Lost(io::Error),
}

/// Serve `card` to vpcd at `addr` until `stop` is set. Reconnects every ~200 ms while vpcd is
/// not there (pcscd not started yet, or restarted); a pulled card drops the connection, comes
/// back after a pause and is inserted again, so pcscd sees a removal and a new card.
pub fn serve(card: SharedVirtualCard, addr: &str, stop: Arc<AtomicBool>) -> Result<(), VpcdError> {
    let target = resolve(addr)?;
    let mut announced = false;
    while !stop.load(Ordering::Relaxed) {
        let stream = match TcpStream::connect_timeout(&target, Duration::from_secs(1)) {
            Ok(s) => s,
            Err(e) => {
                if !announced {
                    log::info!("vpcd not reachable at {target} ({e}); retrying");
                    announced = true;
                }
                std::thread::sleep(RETRY);
                continue;
            }
        };
        announced = false;
        log::info!("virtual card connected to vpcd at {target}");
        match session(&card, stream, &stop) {
            End::Stopped => break,
            End::Pulled => {
                log::info!("virtual card pulled: disconnected from vpcd");
                sleep_unless_stopped(PULL_PAUSE, &stop);
                lock_virtual_card(&card).insert();
                log::info!("virtual card inserted again");
            }
            End::Lost(e) => {
                log::info!("vpcd connection lost ({e}); reconnecting");
                std::thread::sleep(RETRY);
            }
        }
    }
    Ok(())
}

fn resolve(addr: &str) -> Result<SocketAddr, VpcdError> {
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| VpcdError::BadAddress(addr.to_string()))
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(50);
    let mut slept = Duration::ZERO;
    while slept < total && !stop.load(Ordering::Relaxed) {
        let nap = step.min(total - slept);
        std::thread::sleep(nap);
        slept += nap;
    }
}

/// Serve one connection until it ends.
fn session(card: &SharedVirtualCard, mut stream: TcpStream, stop: &AtomicBool) -> End {
    if let Err(e) = stream
        .set_nodelay(true)
        .and_then(|()| stream.set_read_timeout(Some(POLL)))
    {
        return End::Lost(e);
    }
    // Command data may be a PIN: wiped after each APDU and on every way out of the session.
    let mut payload = zeroize::Zeroizing::new(Vec::new());
    loop {
        let mut header = [0u8; 2];
        match read_full(&mut stream, &mut header, stop) {
            Ok(true) => {}
            Ok(false) => return End::Stopped,
            Err(e) => return End::Lost(e),
        }
        let len = usize::from(u16::from_be_bytes(header));
        // Any length up to 64 KiB is read and answered (an extended APDU gets 6700 from the
        // engine); only an empty message breaks the protocol.
        if len == 0 {
            return End::Lost(io::Error::new(
                io::ErrorKind::InvalidData,
                "vpcd sent an empty message",
            ));
        }
        payload.resize(len, 0);
        match read_full(&mut stream, &mut payload, stop) {
            Ok(true) => {}
            Ok(false) => return End::Stopped,
            Err(e) => return End::Lost(e),
        }
        let (reply, busy) = {
            let mut guard = lock_virtual_card(card);
            if !guard.is_present() {
                return End::Pulled;
            }
            match payload.as_slice() {
                [CTRL_OFF] | [CTRL_ON] | [CTRL_RESET] => {
                    log::debug!("vpcd: control {:02X}", payload[0]);
                    guard.reset();
                    (None, Duration::ZERO)
                }
                [CTRL_ATR] => (Some(guard.atr().to_vec()), Duration::ZERO),
                [other] => {
                    log::debug!("vpcd: unknown control {other:02X} ignored");
                    (None, Duration::ZERO)
                }
                apdu => match guard.respond_timed(apdu) {
                    Ok((answer, busy)) => (Some(answer), busy),
                    Err(_) => return End::Pulled,
                },
            }
        };
        zeroize::Zeroize::zeroize(&mut *payload);
        // The card is busy (slow answers, real pace) without holding its lock, so a test can
        // pull it meanwhile; then the answer is lost, as when a card is torn out after it
        // wrote but before it answered.
        if !busy.is_zero() {
            sleep_unless_stopped(busy, stop);
            if stop.load(Ordering::Relaxed) {
                return End::Stopped;
            }
            if !lock_virtual_card(card).is_present() {
                return End::Pulled;
            }
        }
        if let Some(reply) = reply {
            if let Err(e) = send(&mut stream, &reply) {
                return End::Lost(e);
            }
        }
    }
}

fn send(stream: &mut TcpStream, reply: &[u8]) -> io::Result<()> {
    let len = u16::try_from(reply.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "answer too long for vpcd"))?;
    let mut message = Vec::with_capacity(2 + reply.len());
    message.extend_from_slice(&len.to_be_bytes());
    message.extend_from_slice(reply);
    // One write, so the length and the answer leave in one segment.
    stream.write_all(&message)
}

/// Fill `buf`, re-arming TCP_QUICKACK before each read and checking `stop` whenever the read
/// times out. `Ok(false)` when stopped; an error when the peer closed or the link broke.
fn read_full(stream: &mut TcpStream, buf: &mut [u8], stop: &AtomicBool) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        quickack(stream);
        match stream.read(&mut buf[filled..]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "vpcd closed the connection",
                ));
            }
            Ok(n) => filled += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn quickack(stream: &TcpStream) {
    // Quick-ack mode is not sticky: the kernel drops back to delayed ACKs, so re-arm it.
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn quickack(_stream: &TcpStream) {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::virtual_card::{CardState, VirtualCard, share_virtual_card};
    use std::net::TcpListener;

    /// Plays vpcd: sends exactly what vpcd sends (length, then payload, as two writes).
    struct FakeVpcd {
        stream: TcpStream,
    }

    impl FakeVpcd {
        fn accept(listener: &TcpListener) -> FakeVpcd {
            let (stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            FakeVpcd { stream }
        }

        fn send(&mut self, payload: &[u8]) {
            self.stream
                .write_all(&(payload.len() as u16).to_be_bytes())
                .unwrap();
            self.stream.write_all(payload).unwrap();
        }

        fn recv(&mut self) -> io::Result<Vec<u8>> {
            let mut header = [0u8; 2];
            self.stream.read_exact(&mut header)?;
            let mut payload = vec![0; usize::from(u16::from_be_bytes(header))];
            self.stream.read_exact(&mut payload)?;
            Ok(payload)
        }

        fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
            self.send(apdu);
            self.recv().unwrap()
        }
    }

    fn start() -> (
        SharedVirtualCard,
        TcpListener,
        Arc<AtomicBool>,
        std::thread::JoinHandle<()>,
    ) {
        let mut state = CardState::new("5550001");
        state
            .add_ef(0x3F00, 0x2F00, Some(0x1E), b"EF.DIR".to_vec(), 100)
            .unwrap();
        let card = share_virtual_card(VirtualCard::new(state));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (card.clone(), stop.clone());
        let handle = std::thread::spawn(move || serve(c, &addr, s).unwrap());
        (card, listener, stop, handle)
    }

    #[test]
    fn answers_control_messages_and_apdus_like_a_card() {
        let (card, listener, stop, handle) = start();
        let mut vpcd = FakeVpcd::accept(&listener);
        vpcd.send(&[CTRL_ON]);
        vpcd.send(&[CTRL_ATR]);
        assert_eq!(vpcd.recv().unwrap(), lock_virtual_card(&card).atr());
        // SELECT EF.DIR by path, read it.
        assert_eq!(
            vpcd.transmit(&[0x00, 0xA4, 0x08, 0x0C, 0x02, 0x2F, 0x00]),
            [0x90, 0x00]
        );
        let answer = vpcd.transmit(&[0x00, 0xB0, 0x00, 0x00, 0x00]);
        assert_eq!(answer, [&b"EF.DIR"[..], &[0x62, 0x82]].concat());
        // A reset forgets the selection.
        vpcd.send(&[CTRL_RESET]);
        assert_eq!(vpcd.transmit(&[0x00, 0xB0, 0x00, 0x00, 0x00]), [0x69, 0x86]);
        // An extended-length APDU is answered, not a reason to drop the link.
        let mut extended = vec![0x00, 0xD6, 0x00, 0x00, 0x00, 0x01, 0x2C];
        extended.extend([0u8; 300]);
        assert_eq!(vpcd.transmit(&extended), [0x67, 0x00]);
        vpcd.send(&[CTRL_OFF]);
        stop.store(true, Ordering::Relaxed);
        handle.join().unwrap();
    }

    #[test]
    fn a_pulled_card_disconnects_and_comes_back() {
        let (card, listener, stop, handle) = start();
        let mut vpcd = FakeVpcd::accept(&listener);
        vpcd.send(&[CTRL_ON]);
        assert_eq!(
            vpcd.transmit(&[0x00, 0xCA, 0x00, 0x5A, 0x00]),
            [&b"5550001"[..], &[0x90, 0x00]].concat()
        );
        lock_virtual_card(&card).pull_after(0);
        vpcd.send(&[0x00, 0xCA, 0x00, 0x5A, 0x00]);
        // vpcd sees the connection close: the card is gone.
        assert!(vpcd.recv().is_err());
        // Then the card connects again, inserted.
        let mut vpcd = FakeVpcd::accept(&listener);
        assert!(lock_virtual_card(&card).is_present());
        vpcd.send(&[CTRL_ATR]);
        assert_eq!(vpcd.recv().unwrap(), lock_virtual_card(&card).atr());
        assert_eq!(
            vpcd.transmit(&[0x00, 0xCA, 0x00, 0x5A, 0x00]),
            [&b"5550001"[..], &[0x90, 0x00]].concat()
        );
        stop.store(true, Ordering::Relaxed);
        handle.join().unwrap();
    }

    #[test]
    fn reconnects_when_vpcd_goes_away() {
        let (card, listener, stop, handle) = start();
        let vpcd = FakeVpcd::accept(&listener);
        // pcscd restarted: vpcd's side of the connection closes.
        drop(vpcd);
        let mut vpcd = FakeVpcd::accept(&listener);
        vpcd.send(&[CTRL_ATR]);
        assert_eq!(vpcd.recv().unwrap(), lock_virtual_card(&card).atr());
        stop.store(true, Ordering::Relaxed);
        handle.join().unwrap();
    }

    #[test]
    fn waits_for_vpcd_to_appear_and_stops_on_request() {
        // Reserve a port, then close it so nothing listens there yet.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let card = share_virtual_card(VirtualCard::new(CardState::new("1")));
        let stop = Arc::new(AtomicBool::new(false));
        let addr = format!("127.0.0.1:{port}");
        let (c, s, a) = (card.clone(), stop.clone(), addr.clone());
        let handle = std::thread::spawn(move || serve(c, &a, s));
        std::thread::sleep(Duration::from_millis(300));
        let listener = TcpListener::bind(&addr).unwrap();
        let mut vpcd = FakeVpcd::accept(&listener);
        vpcd.send(&[CTRL_ATR]);
        assert_eq!(vpcd.recv().unwrap(), lock_virtual_card(&card).atr());
        stop.store(true, Ordering::Relaxed);
        assert!(handle.join().unwrap().is_ok());
    }

    #[test]
    fn a_bad_address_is_an_error_not_a_hang() {
        let card = share_virtual_card(VirtualCard::new(CardState::new("1")));
        let stop = Arc::new(AtomicBool::new(false));
        assert!(matches!(
            serve(card, "no port here", stop),
            Err(VpcdError::BadAddress(_))
        ));
    }
}
