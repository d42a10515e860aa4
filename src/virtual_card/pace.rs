//! How fast the virtual card answers: as fast as the host can ([`Pace::Fast`], the default, so
//! tests and benchmarks stay quick), or at a physical card's pace ([`Pace::Real`], issue 14), so
//! that what only shows at real speed (a CA connection left idle while the card makes a key, a
//! new TLS handshake the card must sign) is tested and benchmarked.
//!
//! Real pace is a model, not a measurement of one product: time on the card's contacts (a
//! per-APDU cost plus every byte at the bit rate below, with T=1 framing) and the two
//! operations that take the card itself long (key generation, signatures). Every figure lives
//! here with its source or reasoning, so a different card can be modelled by changing this
//! file alone.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How fast the card answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pace {
    /// As fast as the host computes: what the tests use.
    #[default]
    Fast,
    /// A physical card's pace. Key generation and signature times are drawn from `seed`: the
    /// n-th key generation of a run takes the same time in every run with that seed, and so
    /// does the n-th signature.
    Real { seed: u64 },
}

/// The seed `--pace real` uses unless another is given: one fixed seed, so two runs of the
/// bench or of the CI test wait the same.
pub const DEFAULT_SEED: u64 = 14;

/// Host, reader and card-OS cost of one APDU, before any byte moves: a USB CCID exchange is a
/// bulk-out and a bulk-in transfer, each waiting for a 1 ms full-speed USB frame, and the card
/// OS needs a few milliseconds to dispatch a command and set up its answer (our estimate for a
/// command that does almost nothing; card-side benchmarks such as JCAlgTest subtract such a
/// fixed per-command cost before they report an operation's time). 5 ms in all.
pub const APDU_OVERHEAD: Duration = Duration::from_millis(5);

/// Bits per second on the card's I/O line: 38 400 bit/s, the bit rate of Fi = 372, Di = 4
/// (TA1 = 0x13) at the 3.5712 MHz clock for which ISO 7816-3 defines its default of 9 600 bit/s
/// (Fi = 372, Di = 1). A card negotiates it with the reader by PPS; it is the slow end of
/// what cards in the field propose (Thales IDPrime ATRs such as the IDPrime 940's
/// `3B 7F 96 00 00 80 31 …`, which SITHS eID cards are by every public hint, propose
/// TA1 = 0x96: Fi = 512, Di = 32, about 223 kbit/s at the same clock),
/// and within "tens of kilobits per second" that issue 14 asks for. (Our own ATR has no TA1, so
/// a physical card with it would stay at the 9 600 bit/s default; the bench prints the bytes,
/// so the time at another rate is one division away.)
pub const BIT_RATE: u64 = 38_400;

/// Elementary time units per character in T=1: 1 start bit, 8 data bits, 1 parity bit and the
/// character guard time that brings it to 12 etu with the default extra guard time N = 0
/// (ISO 7816-3, 11.2).
pub const ETU_PER_BYTE: u64 = 12;

/// The card's largest T=1 information field (IFSC): 32 bytes, ISO 7816-3's default when the ATR
/// has no TA3, as ours has none. A longer APDU or answer travels as a chain of blocks.
pub const IFSC: usize = 32;

/// Bytes a T=1 block adds to its information field: prologue (NAD, PCB, LEN) and epilogue
/// (one LRC byte). Each block of a chain but the last is also acknowledged by an R-block of the
/// same size, which is counted as well.
pub const T1_BLOCK_OVERHEAD: usize = 4;

/// On-card RSA-2048 key generation: 3 to 8 s, drawn uniformly per key (issue 14's range). The
/// spread is real: the card searches for two random 1024-bit primes, so one key takes several
/// times as long as another on the same chip. Published measurements of on-card RSA-2048
/// generation (the JCAlgTest project's per-card performance results for JavaCards of NXP,
/// Infineon and others) are in seconds, not the tenths of a second a desktop CPU needs.
pub const KEY_GENERATION: (Duration, Duration) =
    (Duration::from_millis(3_000), Duration::from_millis(8_000));

/// One RSA-2048 private-key operation (a signature): 100 to 300 ms, drawn uniformly (issue 14's
/// range: a smart card's crypto coprocessor needs about a tenth to a few tenths of a second for
/// one RSA-2048 private-key operation with CRT, the order of magnitude card benchmarks such as
/// JCAlgTest report for `Signature.sign()`).
pub const SIGNATURE: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_millis(300));

/// What one command made the card do beyond moving bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Work {
    /// Files, PINs, selections: nothing that costs more than the APDU overhead.
    Plain,
    /// A new RSA-2048 key pair was made.
    KeyGeneration,
    /// A private-key operation was done.
    Signature,
}

/// Where a paced card's time went since its pace was set, so the bench can show what a whole
/// upgrade costs at real pace and why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaceSpent {
    /// APDUs answered at this pace.
    pub apdus: u64,
    /// [`APDU_OVERHEAD`] for each of them.
    pub overhead: Duration,
    /// Bytes on the wire, T=1 framing included ([`t1_bytes`]).
    pub wire_bytes: u64,
    /// Those bytes at [`BIT_RATE`].
    pub bytes: Duration,
    pub key_generations: u32,
    pub key_generation: Duration,
    pub signatures: u32,
    pub signing: Duration,
}

impl PaceSpent {
    /// All the time the card was busy.
    pub fn total(&self) -> Duration {
        self.overhead + self.bytes + self.key_generation + self.signing
    }
}

/// Turns commands into the time a physical card would take for them.
#[derive(Debug)]
pub(crate) struct Clock {
    pace: Pace,
    spent: PaceSpent,
    /// Key generation and signature draws, each its own stream, so how many signatures came
    /// first does not change how long a key takes.
    rngs: Option<(StdRng, StdRng)>,
}

impl Clock {
    pub(crate) fn new(pace: Pace) -> Clock {
        let rngs = match pace {
            Pace::Fast => None,
            Pace::Real { seed } => Some((
                StdRng::seed_from_u64(seed),
                // Any other fixed value: the signature stream must not repeat the key stream.
                StdRng::seed_from_u64(seed ^ 0x5349_4748_5053),
            )),
        };
        Clock {
            pace,
            spent: PaceSpent::default(),
            rngs,
        }
    }

    pub(crate) fn spent(&self) -> PaceSpent {
        self.spent
    }

    pub(crate) fn pace(&self) -> Pace {
        self.pace
    }

    /// How long the card takes for a command of `command` bytes that did `work` and gave an
    /// answer of `response` bytes (status word included). Zero at [`Pace::Fast`].
    pub(crate) fn cost(&mut self, command: usize, response: usize, work: Work) -> Duration {
        let Some((keys, signatures)) = self.rngs.as_mut() else {
            return Duration::ZERO;
        };
        let wire = (t1_bytes(command) + t1_bytes(response)) as u64;
        let bytes = Duration::from_micros(wire * ETU_PER_BYTE * 1_000_000 / BIT_RATE);
        let spent = &mut self.spent;
        spent.apdus += 1;
        spent.overhead += APDU_OVERHEAD;
        spent.wire_bytes += wire;
        spent.bytes += bytes;
        let work = match work {
            Work::Plain => Duration::ZERO,
            Work::KeyGeneration => {
                let t = draw(keys, KEY_GENERATION);
                spent.key_generations += 1;
                spent.key_generation += t;
                t
            }
            Work::Signature => {
                let t = draw(signatures, SIGNATURE);
                spent.signatures += 1;
                spent.signing += t;
                t
            }
        };
        APDU_OVERHEAD + bytes + work
    }
}

/// A duration in `[low, high]`, uniform to the millisecond.
fn draw(rng: &mut StdRng, (low, high): (Duration, Duration)) -> Duration {
    let ms = rng.gen_range(low.as_millis() as u64..=high.as_millis() as u64);
    Duration::from_millis(ms)
}

/// Bytes on the wire for `info` bytes of an APDU or answer in T=1: the information split into
/// blocks of at most [`IFSC`] bytes, each with its prologue and epilogue, and an R-block for
/// each block of the chain but the last.
pub fn t1_bytes(info: usize) -> usize {
    let blocks = info.div_ceil(IFSC).max(1);
    info + blocks * T1_BLOCK_OVERHEAD + (blocks - 1) * T1_BLOCK_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_costs_nothing() {
        let mut clock = Clock::new(Pace::Fast);
        assert_eq!(clock.cost(261, 258, Work::KeyGeneration), Duration::ZERO);
        assert_eq!(clock.pace(), Pace::Fast);
    }

    #[test]
    fn t1_framing_adds_a_block_header_per_ifsc_and_acks_chains() {
        assert_eq!(t1_bytes(0), 4);
        assert_eq!(t1_bytes(5), 9);
        assert_eq!(t1_bytes(32), 36);
        // 33 bytes: two blocks and one R-block acknowledging the first.
        assert_eq!(t1_bytes(33), 33 + 8 + 4);
        assert_eq!(t1_bytes(260), 260 + 9 * 4 + 8 * 4);
    }

    #[test]
    fn real_pace_charges_the_overhead_and_every_byte() {
        let mut clock = Clock::new(Pace::Real { seed: 1 });
        // SELECT with P2 0C: 7 bytes out, 2 back; 9 + 6 framing bytes at 12 etu each.
        let select = clock.cost(7, 2, Work::Plain);
        let expected = APDU_OVERHEAD
            + Duration::from_micros((11 + 6) as u64 * ETU_PER_BYTE * 1_000_000 / BIT_RATE);
        assert_eq!(select, expected);
        // A full READ BINARY answer costs more than a short one.
        let read = clock.cost(5, 258, Work::Plain);
        assert!(read > select);
        let sign = clock.cost(5, 258, Work::Signature);
        let spent = clock.spent();
        assert_eq!(
            (spent.apdus, spent.signatures, spent.key_generations),
            (3, 1, 0)
        );
        assert_eq!(spent.wire_bytes as usize, 17 + 2 * (9 + t1_bytes(258)));
        assert_eq!(spent.total(), select + read + sign);
    }

    #[test]
    fn key_generation_and_signatures_stay_in_their_ranges() {
        let mut clock = Clock::new(Pace::Real { seed: 7 });
        let base = clock.cost(5, 2, Work::Plain);
        for _ in 0..200 {
            let keygen = clock.cost(5, 2, Work::KeyGeneration) - base;
            assert!(
                (KEY_GENERATION.0..=KEY_GENERATION.1).contains(&keygen),
                "{keygen:?}"
            );
            let sign = clock.cost(5, 2, Work::Signature) - base;
            assert!((SIGNATURE.0..=SIGNATURE.1).contains(&sign), "{sign:?}");
        }
    }

    #[test]
    fn key_generation_draws_do_not_depend_on_signatures_before_them() {
        let mut plain = Clock::new(Pace::Real { seed: DEFAULT_SEED });
        let mut signed = Clock::new(Pace::Real { seed: DEFAULT_SEED });
        for _ in 0..3 {
            signed.cost(5, 2, Work::Signature);
        }
        for _ in 0..4 {
            assert_eq!(
                plain.cost(5, 2, Work::KeyGeneration),
                signed.cost(5, 2, Work::KeyGeneration)
            );
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_times_and_another_seed_others() {
        let draws = |seed| {
            let mut clock = Clock::new(Pace::Real { seed });
            (0..8)
                .map(|_| clock.cost(5, 260, Work::KeyGeneration))
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(DEFAULT_SEED), draws(DEFAULT_SEED));
        assert_ne!(draws(DEFAULT_SEED), draws(DEFAULT_SEED + 1));
    }
}
