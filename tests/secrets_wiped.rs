//! Codes are wiped from memory before it is given back: every block this process frees is
//! scanned for the padded PIN and PUK while the card client verifies, changes and unblocks
//! them, and while the CA client reads a PUK answer. A code found in freed memory would
//! outlive its use (a reallocated buffer, an encoded APDU, a parsed JSON string).
//!
//! Its own test binary: the scanning allocator is global to the process.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use siths_upgrade::card::{Card, PinKind, SecretCode, SithsCard};

/// The codes under watch, as the card sees them (ASCII digits padded with FF).
const PIN: &[u8] = b"48151623";
const NEW_PIN: &[u8] = b"42424242";
const PUK: &[u8] = b"90817263";

static SCANNING: AtomicBool = AtomicBool::new(false);
static FOUND: AtomicUsize = AtomicUsize::new(0);

struct Scanning;

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if SCANNING.load(Ordering::Relaxed) {
            // SAFETY: the block is still ours until System.dealloc below.
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            if [PIN, NEW_PIN, PUK].iter().any(|code| contains(block, code)) {
                FOUND.fetch_add(1, Ordering::Relaxed);
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Scanning = Scanning;

static SERIAL: Mutex<()> = Mutex::new(());

fn code(digits: &[u8]) -> String {
    String::from_utf8(digits.to_vec()).unwrap()
}

/// Run `work` with every freed block scanned; the number of blocks that held a code.
fn leaks(work: impl FnOnce()) -> usize {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    FOUND.store(0, Ordering::SeqCst);
    SCANNING.store(true, Ordering::SeqCst);
    work();
    SCANNING.store(false, Ordering::SeqCst);
    FOUND.load(Ordering::SeqCst)
}

#[test]
fn pin_commands_leave_no_code_in_freed_memory() {
    let mut card = SithsCard::open(Box::new(support::fixed_card::FixedCard(0x9000))).unwrap();
    let found = leaks(|| {
        let pin = SecretCode::pin(code(PIN)).unwrap();
        let new = SecretCode::pin(code(NEW_PIN)).unwrap();
        let puk = SecretCode::puk(code(PUK)).unwrap();
        card.verify_pin(PinKind::Pin1, &pin).unwrap();
        card.change_pin(PinKind::Pin1, &pin, &new).unwrap();
        card.unblock_pin(PinKind::Pin2, &puk, &new).unwrap();
    });
    assert_eq!(found, 0, "freed blocks still holding a code");
}

#[test]
fn the_scan_finds_a_code_left_behind() {
    // The check itself works: a plain String with a code, dropped, is found.
    let found = leaks(|| drop(std::hint::black_box(code(PIN))));
    assert!(found > 0);
}
