//! The virtual card's protocol as a reader sees it: tests/data/transcripts/virtual_card.txt
//! (the PKCS#15 layout) and tests/data/transcripts/idprime.txt (the IDPrime layout with our
//! extensions, docs/domain.md "Our extensions") hold commands and the answers expected, side
//! by side, and each is played here against a fresh card. A change in any answer (a status
//! word, a byte of a file, the length of a key) fails with the line and what the card
//! answered instead, in the file's own format.

use siths_upgrade::virtual_card::VirtualCard;
use siths_upgrade::virtual_card::idprime::personalise::{
    IdprimeCodes, blank_card as blank_idprime_card,
};
use siths_upgrade::virtual_card::personalise::{InitialCodes, blank_card};

const TRANSCRIPT: &str = include_str!("data/transcripts/virtual_card.txt");
const IDPRIME_TRANSCRIPT: &str = include_str!("data/transcripts/idprime.txt");

/// What an answer line promises.
#[derive(Debug)]
enum Expected {
    /// Every byte, data and status word.
    Exact(Vec<u8>),
    /// Random data of this length, then this status word.
    Random { len: usize, sw: [u8; 2] },
}

impl Expected {
    fn matches(&self, answer: &[u8]) -> bool {
        match self {
            Expected::Exact(bytes) => bytes == answer,
            Expected::Random { len, sw } => answer.len() == len + 2 && answer[*len..] == sw[..],
        }
    }
}

struct Step {
    line: usize,
    command: Vec<u8>,
    expected: Result<Expected, String>,
}

fn hex(text: &str) -> Result<Vec<u8>, String> {
    text.split_whitespace()
        .map(|byte| {
            if byte.len() != 2 {
                return Err(format!("{byte:?} is not one byte in hex"));
            }
            u8::from_str_radix(byte, 16).map_err(|_| format!("{byte:?} is not hex"))
        })
        .collect()
}

fn expected(text: &str) -> Result<Expected, String> {
    let Some(rest) = text.strip_prefix('(') else {
        return hex(text).map(Expected::Exact);
    };
    let (count, sw) = rest
        .split_once(" bytes)")
        .ok_or_else(|| format!("{text:?}: expected \"(N bytes) SW1 SW2\""))?;
    let len = count
        .trim()
        .parse()
        .map_err(|_| format!("{count:?} is not a number of bytes"))?;
    match hex(sw)?.as_slice() {
        [sw1, sw2] => Ok(Expected::Random {
            len,
            sw: [*sw1, *sw2],
        }),
        _ => Err(format!("{sw:?} is not one status word")),
    }
}

/// The steps of a transcript; a malformed answer line becomes a failing step (so the report
/// still shows what the card answered), a malformed command or a missing answer a panic.
fn steps(text: &str) -> Vec<Step> {
    // Logical lines: a line that begins with a space continues the one before.
    let mut logical: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let content = raw.split('#').next().unwrap_or("");
        if content.trim().is_empty() {
            continue;
        }
        match logical.last_mut() {
            Some((_, so_far)) if content.starts_with(char::is_whitespace) => {
                so_far.push(' ');
                so_far.push_str(content.trim());
            }
            _ => logical.push((i + 1, content.trim().to_string())),
        }
    }
    let mut steps = Vec::new();
    let mut command: Option<(usize, Vec<u8>)> = None;
    for (line, content) in logical {
        let content = content.as_str();
        if let Some(apdu) = content.strip_prefix('>') {
            assert!(
                command.is_none(),
                "line {line}: a command before the last one's answer"
            );
            let bytes = hex(apdu).unwrap_or_else(|e| panic!("line {line}: {e}"));
            command = Some((line, bytes));
        } else if let Some(answer) = content.strip_prefix('<') {
            let (_, bytes) = command
                .take()
                .unwrap_or_else(|| panic!("line {line}: an answer without a command"));
            steps.push(Step {
                line,
                command: bytes,
                expected: expected(answer.trim()),
            });
        } else {
            panic!("line {line}: neither a command (>), an answer (<) nor a comment (#)");
        }
    }
    assert!(command.is_none(), "the last command has no answer");
    steps
}

fn spaced(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_fresh_card_answers_as_the_transcript_says() {
    let codes = InitialCodes {
        pin1: "123456",
        pin2: "24681357",
        puk: "87654321",
    };
    let state = blank_card("9752000123", "SITHS e-id", &codes).expect("a blank card");
    play(TRANSCRIPT, VirtualCard::new(state));
}

#[test]
fn a_fresh_idprime_card_answers_as_its_transcript_says() {
    let codes = IdprimeCodes {
        pin1: "123456",
        pin2: Some("24681357"),
        puk: "87654321",
    };
    let state = blank_idprime_card("9752000123", "SITHS e-id", &codes).expect("a blank card");
    play(IDPRIME_TRANSCRIPT, VirtualCard::new(state));
}

/// Play `transcript` against `card`; every answer that differs is reported at once.
fn play(transcript: &str, mut card: VirtualCard) {
    let steps = steps(transcript);
    assert!(
        steps.len() >= 20,
        "the transcript was read: {} steps",
        steps.len()
    );
    let mut failures = Vec::new();
    for step in &steps {
        let answer = card
            .respond(&step.command)
            .expect("the card stays in the reader");
        let ok = match &step.expected {
            Ok(expected) => expected.matches(&answer),
            Err(_) => false,
        };
        if !ok {
            let wanted = match &step.expected {
                Ok(Expected::Exact(bytes)) => spaced(bytes),
                Ok(Expected::Random { len, sw }) => format!("({len} bytes) {}", spaced(sw)),
                Err(e) => e.clone(),
            };
            failures.push(format!(
                "line {}: expected < {wanted}; the card answered:\n> {}\n< {}",
                step.line,
                spaced(&step.command),
                spaced(&answer)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
