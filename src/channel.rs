//! A typed APDU channel over a raw [`Transmit`]: command chaining out, GET RESPONSE and `6Cxx`
//! retries in, and counters for the benchmark.

use crate::apdu::{Command, MAX_SHORT_LE, Response, StatusWord};
use crate::transport::{Transmit, TransportError};

/// APDUs and bytes exchanged, so the benchmark can compare us with OpenSC.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TransferStats {
    pub apdus: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// Upper bound on GET RESPONSE rounds, so a card that keeps saying `61xx` cannot hang us.
const MAX_GET_RESPONSE_ROUNDS: usize = 64;

pub struct Channel<'a> {
    raw: &'a mut dyn Transmit,
    stats: &'a mut TransferStats,
}

impl<'a> Channel<'a> {
    pub fn new(raw: &'a mut dyn Transmit, stats: &'a mut TransferStats) -> Self {
        Channel { raw, stats }
    }

    fn send_one(&mut self, command: &Command) -> Result<Response, TransportError> {
        // The encoded command may carry a PIN: wiped when sent.
        let bytes = zeroize::Zeroizing::new(
            command
                .to_bytes()
                .map_err(|e| TransportError::Malformed(e.to_string()))?,
        );
        let answer = self.raw.transmit(&bytes);
        self.stats.apdus += 1;
        self.stats.bytes_sent += bytes.len() as u64;
        let answer = answer?;
        self.stats.bytes_received += answer.len() as u64;
        Response::parse(&answer).map_err(|e| TransportError::Malformed(e.to_string()))
    }

    /// Send a command of any length and return the whole answer.
    pub fn exchange(&mut self, command: &Command) -> Result<Response, TransportError> {
        let links = command.chain();
        let mut response = Response::status(StatusWord::Ok);
        for link in &links {
            response = self.send_one(link)?;
            if link.is_chained() && !response.sw.is_ok() {
                return Ok(response);
            }
        }
        if let StatusWord::WrongLe(n) = response.sw {
            let mut retry = links.last().cloned().unwrap_or_else(|| command.clone());
            retry.le = Some(if n == 0 { MAX_SHORT_LE } else { n as usize });
            response = self.send_one(&retry)?;
        }
        let mut data = std::mem::take(&mut response.data);
        let mut rounds = 0;
        while let StatusWord::MoreData(n) = response.sw {
            rounds += 1;
            if rounds > MAX_GET_RESPONSE_ROUNDS {
                return Err(TransportError::Malformed(
                    "the card keeps announcing more data".into(),
                ));
            }
            let le = if n == 0 { MAX_SHORT_LE } else { n as usize };
            response = self.send_one(&Command::get_response(le))?;
            data.append(&mut response.data);
        }
        response.data = data;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted card: checks each APDU it gets and answers from a list.
    struct Script(Vec<(Vec<u8>, Vec<u8>)>);

    impl Transmit for Script {
        fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
            let (expect, answer) = self.0.remove(0);
            assert_eq!(command, expect.as_slice());
            Ok(answer)
        }
    }

    #[test]
    fn collects_get_response_rounds() {
        let mut script = Script(vec![
            (
                vec![0, 0xB0, 0, 0, 0],
                [vec![1; 256], vec![0x61, 0x00]].concat(),
            ),
            (
                vec![0, 0xC0, 0, 0, 0],
                [vec![2; 256], vec![0x61, 0x03]].concat(),
            ),
            (vec![0, 0xC0, 0, 0, 3], vec![3, 3, 3, 0x90, 0x00]),
        ]);
        let mut stats = TransferStats::default();
        let r = Channel::new(&mut script, &mut stats)
            .exchange(&Command::read_binary(0, 256))
            .unwrap();
        assert_eq!(r.sw, StatusWord::Ok);
        assert_eq!(r.data.len(), 515);
        assert_eq!(stats.apdus, 3);
        assert_eq!(stats.bytes_sent, 15);
        assert_eq!(stats.bytes_received, 258 + 258 + 5);
    }

    #[test]
    fn retries_with_the_length_the_card_asks_for() {
        let mut script = Script(vec![
            (vec![0, 0xCA, 0, 0x5A, 0], vec![0x6C, 0x04]),
            (vec![0, 0xCA, 0, 0x5A, 4], vec![9, 8, 7, 6, 0x90, 0x00]),
        ]);
        let mut stats = TransferStats::default();
        let r = Channel::new(&mut script, &mut stats)
            .exchange(&Command::get_data(0x005A))
            .unwrap();
        assert_eq!(r.data, [9, 8, 7, 6]);
    }

    #[test]
    fn chains_long_commands_and_stops_on_error() {
        let data = vec![0xAA; 300];
        let mut first = vec![0x10, 0xD6, 0, 0, 255];
        first.extend(vec![0xAA; 255]);
        let mut script = Script(vec![(first, vec![0x69, 0x82])]);
        let mut stats = TransferStats::default();
        let r = Channel::new(&mut script, &mut stats)
            .exchange(&Command::update_binary(0, &data))
            .unwrap();
        assert_eq!(r.sw, StatusWord::SecurityStatusNotSatisfied);
        assert!(script.0.is_empty());
    }

    #[test]
    fn endless_more_data_is_an_error_not_a_hang() {
        struct Endless;
        impl Transmit for Endless {
            fn transmit(&mut self, _: &[u8]) -> Result<Vec<u8>, TransportError> {
                Ok(vec![0x61, 0x10])
            }
        }
        let mut stats = TransferStats::default();
        let r = Channel::new(&mut Endless, &mut stats).exchange(&Command::read_binary(0, 16));
        assert!(matches!(r, Err(TransportError::Malformed(_))));
    }
}
