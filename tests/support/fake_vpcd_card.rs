//! A minimal card on the card side of vpcd, to test the PC/SC path without the real virtual card.
//!
//! vpcd protocol: each message is a 2-byte big-endian length and the payload. A 1-byte payload
//! from vpcd is a control byte (00 power off, 01 power on, 02 reset, 04 "send your ATR"); only
//! 04 is answered. Anything longer is an APDU, answered by the `respond` closure. Connecting is
//! inserting the card, closing the connection is pulling it.
//!
//! vpcd writes length and data in two segments without TCP_NODELAY, so the card sets
//! TCP_NODELAY and re-arms TCP_QUICKACK before every read; otherwise delayed ACKs cost ~40 ms
//! per APDU.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread::JoinHandle;

use socket2::{Domain, SockRef, Socket, Type};

pub const CTRL_OFF: u8 = 0x00;
pub const CTRL_ON: u8 = 0x01;
pub const CTRL_RESET: u8 = 0x02;
pub const CTRL_ATR: u8 = 0x04;

/// The shortest well-formed ATR offering T=0 and T=1 (no historical bytes).
pub const FAKE_ATR: &[u8] = &[0x3B, 0x80, 0x80, 0x01, 0x01];

/// Answers one APDU; `None` pulls the card instead of answering (a user yanking it mid-command).
pub type Respond = Box<dyn FnMut(&[u8]) -> Option<Vec<u8>> + Send>;

/// An inserted fake card; dropping it pulls the card.
pub struct FakeCard {
    control: TcpStream,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl FakeCard {
    /// Insert a card into the vpcd slot listening on `port` (127.0.0.1).
    pub fn insert(
        port: u16,
        atr: &[u8],
        mut respond: impl FnMut(&[u8]) -> Vec<u8> + Send + 'static,
    ) -> io::Result<FakeCard> {
        FakeCard::insert_with(port, atr, move |apdu| Some(respond(apdu)))
    }

    /// Like [`FakeCard::insert`], but `respond` may return `None` to pull the card at that
    /// APDU, without answering it.
    pub fn insert_with(
        port: u16,
        atr: &[u8],
        respond: impl FnMut(&[u8]) -> Option<Vec<u8>> + Send + 'static,
    ) -> io::Result<FakeCard> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        socket.set_tcp_nodelay(true)?;
        socket.connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())?;
        let stream: TcpStream = socket.into();
        let control = stream.try_clone()?;
        let atr = atr.to_vec();
        let respond: Respond = Box::new(respond);
        let thread = std::thread::Builder::new()
            .name(format!("fake-card-{port}"))
            .spawn(move || serve(stream, atr, respond))?;
        Ok(FakeCard {
            control,
            thread: Some(thread),
        })
    }

    /// A card that answers every APDU with 90 00.
    pub fn insert_ok(port: u16) -> io::Result<FakeCard> {
        FakeCard::insert(port, FAKE_ATR, |_| vec![0x90, 0x00])
    }

    /// Pull the card out and wait until its thread has ended.
    pub fn remove(mut self) {
        self.pull();
    }

    fn pull(&mut self) {
        let _ = self.control.shutdown(Shutdown::Both);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for FakeCard {
    fn drop(&mut self) {
        self.pull();
    }
}

fn serve(mut stream: TcpStream, atr: Vec<u8>, mut respond: Respond) -> io::Result<()> {
    loop {
        let Some(message) = read_message(&mut stream)? else {
            return Ok(());
        };
        let answer = match message.as_slice() {
            [CTRL_ATR] => atr.clone(),
            [CTRL_OFF] | [CTRL_ON] | [CTRL_RESET] => continue,
            [_] => continue,
            apdu => match respond(apdu) {
                Some(answer) => answer,
                None => {
                    let _ = stream.shutdown(Shutdown::Both);
                    return Ok(());
                }
            },
        };
        let len = u16::try_from(answer.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "answer too long"))?;
        let mut frame = Vec::with_capacity(answer.len() + 2);
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&answer);
        stream.write_all(&frame)?;
    }
}

/// One vpcd message, or None when vpcd (or our own `remove`) closed the connection.
fn read_message(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 2];
    if !read_full(stream, &mut header)? {
        return Ok(None);
    }
    let mut payload = vec![0u8; usize::from(u16::from_be_bytes(header))];
    if !read_full(stream, &mut payload)? {
        return Ok(None);
    }
    Ok(Some(payload))
}

fn read_full(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        // Linux drops out of quick-ACK mode on its own; re-arm it before every read.
        SockRef::from(&*stream).set_tcp_quickack(true)?;
        match stream.read(&mut buf[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}
