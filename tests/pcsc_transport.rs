//! The PC/SC transport and reader monitor against a real, isolated pcscd with vpcd, using a fake
//! card on the card side of vpcd.

mod support;

use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use siths_upgrade::transport::monitor::{ReaderEvent, ReaderMonitor};
use siths_upgrade::transport::pcsc::{PcscTransport, list_readers};
use siths_upgrade::transport::{Transmit, Transport, TransportError};
use support::fake_vpcd_card::{FAKE_ATR, FakeCard};
use support::pcscd::{Pcscd, READER_0, READER_1, shared};

/// Hang guard for anything that waits on pcscd; never a timing expectation.
const HANG_GUARD: Duration = Duration::from_secs(10);

/// Wait (event-driven, bounded) until pcscd sees `reader` with or without a card, so a test
/// starts from a known state after the previous one pulled its card.
fn wait_card(reader: &str, present: bool) {
    let context = pcsc::Context::establish(pcsc::Scope::User).expect("context");
    let mut states = [pcsc::ReaderState::new(
        std::ffi::CString::new(reader).expect("reader name"),
        pcsc::State::UNAWARE,
    )];
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match context.get_status_change(left, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => panic!("waiting for {reader}: {e}"),
        }
        let state = states[0].event_state();
        if state.contains(pcsc::State::PRESENT) == present {
            return;
        }
        assert!(
            !left.is_zero(),
            "{reader} did not become {}",
            if present { "occupied" } else { "empty" }
        );
        states[0].sync_current_state();
    }
}

/// Insert a fake card into an empty slot and wait until pcscd has powered it up.
fn insert_card(
    port: u16,
    reader: &str,
    respond: impl FnMut(&[u8]) -> Vec<u8> + Send + 'static,
) -> FakeCard {
    wait_card(reader, false);
    let card = FakeCard::insert(port, FAKE_ATR, respond).expect("insert fake card");
    wait_card(reader, true);
    card
}

fn answer_ok(_: &[u8]) -> Vec<u8> {
    vec![0x90, 0x00]
}

fn next_event(events: &Receiver<ReaderEvent>) -> ReaderEvent {
    events
        .recv_timeout(HANG_GUARD)
        .expect("the monitor reported nothing")
}

/// The events a fresh monitor (or one that saw pcscd come back) reports for two empty slots.
fn expect_empty_readers(events: &Receiver<ReaderEvent>) {
    let mut added = vec![];
    while added.len() < 2 {
        match next_event(events) {
            ReaderEvent::ReaderAdded(name) => added.push(name),
            other => panic!("expected the vpcd readers to appear, got {other:?}"),
        }
    }
    added.sort();
    assert_eq!(added, [READER_0, READER_1]);
}

/// Send one APDU in its own transaction.
fn send(transport: &mut PcscTransport, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
    let mut answer = Err(TransportError::Other("body did not run".into()));
    transport.transaction(&mut |link: &mut dyn Transmit| answer = link.transmit(apdu))?;
    answer
}

#[test]
fn empty_vpcd_reader_is_listed_and_connecting_says_insert_the_card() {
    let _pcscd = shared();
    wait_card(READER_0, false);

    let readers = list_readers().expect("list readers");
    let reader = readers
        .iter()
        .find(|r| r.name == READER_0)
        .unwrap_or_else(|| panic!("{READER_0} not in {readers:?}"));
    assert!(!reader.card_present);
    assert!(reader.atr.is_empty());
    assert!(!reader.exclusive);

    assert_eq!(
        PcscTransport::connect(Some(READER_0)).err(),
        Some(TransportError::NoCard(READER_0.into()))
    );
    assert!(matches!(
        PcscTransport::connect(None).err(),
        Some(TransportError::NoCard(_))
    ));
    assert_eq!(
        PcscTransport::connect(Some("No Such Reader 00 00")).err(),
        Some(TransportError::ReaderNotFound(
            "No Such Reader 00 00".into()
        ))
    );
}

#[test]
fn monitor_reports_card_inserted_and_removed() {
    let pcscd = shared();
    wait_card(READER_0, false);
    let (monitor, events) = ReaderMonitor::start().expect("start monitor");
    expect_empty_readers(&events);

    let card = FakeCard::insert_ok(pcscd.vpcd_port()).expect("insert fake card");
    assert_eq!(
        next_event(&events),
        ReaderEvent::CardInserted {
            reader: READER_0.into(),
            atr: FAKE_ATR.to_vec()
        }
    );
    card.remove();
    assert_eq!(
        next_event(&events),
        ReaderEvent::CardRemoved {
            reader: READER_0.into()
        }
    );
    monitor.stop();
}

#[test]
fn a_card_already_inserted_is_reported_when_the_monitor_starts() {
    let pcscd = shared();
    let _card = insert_card(pcscd.vpcd_port() + 1, READER_1, answer_ok);

    let (_monitor, events) = ReaderMonitor::start().expect("start monitor");
    let mut seen = vec![];
    while !seen.contains(&ReaderEvent::CardInserted {
        reader: READER_1.into(),
        atr: FAKE_ATR.to_vec(),
    }) {
        seen.push(next_event(&events));
    }
    assert!(seen.contains(&ReaderEvent::ReaderAdded(READER_1.into())));
}

#[test]
fn apdus_reach_the_card_and_its_answers_come_back() {
    let pcscd = shared();
    let (seen_tx, seen_rx) = mpsc::channel();
    let _card = insert_card(pcscd.vpcd_port(), READER_0, move |apdu| {
        let _ = seen_tx.send(apdu.to_vec());
        // Answer: the command reversed, then 90 00.
        let mut answer: Vec<u8> = apdu.iter().rev().copied().collect();
        answer.extend_from_slice(&[0x90, 0x00]);
        answer
    });

    let mut transport = PcscTransport::connect(None).expect("connect to the first card");
    assert_eq!(transport.reader_name(), READER_0);
    assert_eq!(transport.atr(), FAKE_ATR);

    let apdu = [0x00, 0xCA, 0x01, 0x02, 0x00];
    let answer = send(&mut transport, &apdu).expect("transmit");
    assert_eq!(answer, [0x00, 0x02, 0x01, 0xCA, 0x00, 0x90, 0x00]);
    assert_eq!(
        seen_rx.recv_timeout(HANG_GUARD).expect("card saw nothing"),
        apdu
    );

    // Many APDUs in one transaction, as a card operation does; also the benchmark figure.
    let mut times = Vec::with_capacity(1000);
    let mut wrong = 0;
    transport
        .transaction(&mut |link: &mut dyn Transmit| {
            for i in 0..1000u16 {
                let [hi, lo] = i.to_be_bytes();
                let command = [0x00, 0xB0, hi, lo, 0x00];
                let start = Instant::now();
                let answer = link.transmit(&command);
                times.push(start.elapsed());
                if answer != Ok(vec![0x00, lo, hi, 0xB0, 0x00, 0x90, 0x00]) {
                    wrong += 1;
                }
            }
        })
        .expect("transaction");
    assert_eq!(wrong, 0, "answers did not match the commands");
    times.sort();
    println!(
        "APDU round trip through pcscd + vpcd (fake card, 1000 APDUs): median {:?}, p90 {:?}",
        times[times.len() / 2],
        times[times.len() * 9 / 10]
    );
}

#[test]
fn card_held_exclusively_by_another_program_is_reported_as_in_use() {
    let pcscd = shared();
    let _card = insert_card(pcscd.vpcd_port(), READER_0, answer_ok);

    let other = pcsc::Context::establish(pcsc::Scope::User).expect("other program's context");
    let reader = std::ffi::CString::new(READER_0).expect("name");
    let held = other
        .connect(&reader, pcsc::ShareMode::Exclusive, pcsc::Protocols::ANY)
        .expect("other program takes the card exclusively");

    let listed = list_readers().expect("list readers");
    let entry = listed
        .iter()
        .find(|r| r.name == READER_0)
        .expect("reader listed");
    assert!(entry.card_present);
    assert!(entry.exclusive);
    assert_eq!(entry.atr, FAKE_ATR);

    let refused = PcscTransport::connect(Some(READER_0)).err();
    assert_eq!(refused, Some(TransportError::CardInUse(READER_0.into())));
    assert!(
        refused
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("close it")
    );

    drop(held);
    let mut transport = PcscTransport::connect(Some(READER_0)).expect("free again");
    assert_eq!(
        send(&mut transport, &[0x00, 0xCA, 0x00, 0x00, 0x00]),
        Ok(vec![0x90, 0x00])
    );
}

#[test]
fn pcscd_not_running_is_reported_as_no_service() {
    let mut pcscd = shared();
    pcscd.stop();
    let (monitor, events) = ReaderMonitor::start().expect("start monitor");
    assert_eq!(next_event(&events), ReaderEvent::ServiceDown);

    assert_eq!(list_readers(), Err(TransportError::NoService));
    let refused = PcscTransport::connect(None).err();
    assert_eq!(refused, Some(TransportError::NoService));
    assert!(
        refused
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("pcscd")
    );

    pcscd.start_again();
    assert!(
        list_readers()
            .expect("pcscd back")
            .iter()
            .any(|r| r.name == READER_0)
    );
    assert_eq!(next_event(&events), ReaderEvent::ServiceUp);
    expect_empty_readers(&events);
    monitor.stop();
}

#[test]
fn pcscd_restart_is_survived_by_the_monitor_and_by_new_connections() {
    let mut pcscd = shared();
    wait_card(READER_0, false);
    let (monitor, events) = ReaderMonitor::start().expect("start monitor");
    expect_empty_readers(&events);

    let card = FakeCard::insert_ok(pcscd.vpcd_port()).expect("insert fake card");
    assert!(matches!(
        next_event(&events),
        ReaderEvent::CardInserted { .. }
    ));
    let mut before_restart = PcscTransport::connect(Some(READER_0)).expect("connect");
    assert_eq!(
        send(&mut before_restart, &[0x00, 0xCA, 0x00, 0x00, 0x00]),
        Ok(vec![0x90, 0x00])
    );

    pcscd.stop();
    let mut down = vec![];
    loop {
        let event = next_event(&events);
        if event == ReaderEvent::ServiceDown {
            break;
        }
        down.push(event);
    }
    assert!(down.contains(&ReaderEvent::CardRemoved {
        reader: READER_0.into()
    }));
    assert!(down.contains(&ReaderEvent::ReaderRemoved(READER_0.into())));
    drop(card);

    pcscd.start_again();
    assert_eq!(next_event(&events), ReaderEvent::ServiceUp);
    expect_empty_readers(&events);

    let _card = FakeCard::insert_ok(pcscd.vpcd_port()).expect("insert the card again");
    assert_eq!(
        next_event(&events),
        ReaderEvent::CardInserted {
            reader: READER_0.into(),
            atr: FAKE_ATR.to_vec()
        }
    );

    // A connection from before the restart tells the caller to redo its work, then works.
    assert_eq!(
        send(&mut before_restart, &[0x00, 0xCA, 0x00, 0x00, 0x00]),
        Err(TransportError::CardReset)
    );
    assert_eq!(
        send(&mut before_restart, &[0x00, 0xCA, 0x00, 0x00, 0x00]),
        Ok(vec![0x90, 0x00])
    );

    let mut fresh = PcscTransport::connect(None).expect("connect after restart");
    assert_eq!(
        send(&mut fresh, &[0x00, 0xCA, 0x00, 0x00, 0x00]),
        Ok(vec![0x90, 0x00])
    );
    monitor.stop();
}

#[test]
fn card_pulled_during_a_command_is_reported_as_removed_then_as_missing() {
    let pcscd = shared();
    wait_card(READER_0, false);
    let mut count = 0;
    let _card = FakeCard::insert_with(pcscd.vpcd_port(), FAKE_ATR, move |_| {
        count += 1;
        // The second APDU never gets an answer: the card is pulled while working on it.
        (count < 2).then(|| vec![0x90, 0x00])
    })
    .expect("insert fake card");
    wait_card(READER_0, true);

    let mut transport = PcscTransport::connect(Some(READER_0)).expect("connect");
    let apdu = [0x00, 0xCA, 0x00, 0x00, 0x00];
    assert_eq!(send(&mut transport, &apdu), Ok(vec![0x90, 0x00]));
    assert_eq!(
        send(&mut transport, &apdu),
        Err(TransportError::CardRemoved)
    );
    assert_eq!(
        send(&mut transport, &apdu),
        Err(TransportError::NoCard(READER_0.into()))
    );

    // Putting a card back and trying again works with the same transport.
    let _again = insert_card(pcscd.vpcd_port(), READER_0, answer_ok);
    assert_eq!(send(&mut transport, &apdu), Ok(vec![0x90, 0x00]));
}

#[test]
fn card_reset_by_another_program_asks_to_redo_the_operation_then_works() {
    let pcscd = shared();
    let _card = insert_card(pcscd.vpcd_port(), READER_0, answer_ok);
    let mut transport = PcscTransport::connect(Some(READER_0)).expect("connect");
    let apdu = [0x00, 0xCA, 0x00, 0x00, 0x00];
    assert_eq!(send(&mut transport, &apdu), Ok(vec![0x90, 0x00]));

    let other = pcsc::Context::establish(pcsc::Scope::User).expect("other program's context");
    let reader = std::ffi::CString::new(READER_0).expect("name");
    let card = other
        .connect(&reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
        .expect("other program connects");
    card.disconnect(pcsc::Disposition::ResetCard)
        .map_err(|(_, e)| e)
        .expect("other program resets the card");

    assert_eq!(send(&mut transport, &apdu), Err(TransportError::CardReset));
    assert_eq!(send(&mut transport, &apdu), Ok(vec![0x90, 0x00]));
}

#[test]
fn a_child_process_reaches_a_separate_pcscd_through_env() {
    let own = Pcscd::start();
    let output = std::process::Command::new("opensc-tool")
        .arg("--list-readers")
        .envs(own.env())
        .output()
        .expect("run opensc-tool");
    let listed = String::from_utf8_lossy(&output.stdout);
    assert!(listed.contains(READER_0), "opensc-tool saw: {listed}");

    let socket = own.socket_path();
    assert!(socket.exists());
    drop(own);
    assert!(!socket.exists(), "pcscd's socket outlived the harness");
}
