//! The IDPrime dialect's parts that no public source describes, chosen by us [ours] (how the
//! vendor's middleware makes keys, writes certificates or unblocks a PIN is not public). Each
//! uses the ISO 7816-4/-8/-9 command where one fits. See docs/domain.md "The IDPrime layout",
//! "Our extensions".
//!
//! Containers: certificate `index` N (`kxcNN` / `kscNN` in the index file) has key reference
//! `0x56 + N` and, here, its file at `0210 + N`. Even containers hold authentication keys
//! (PIN1), odd ones signature keys (PIN2), so our key slots map as
//! 1→0, 5→1 (the legacy pair), 2→2, 6→3 (HSA-id), 3→4, 7→5 (personnummer), 4→6, 8→7, and
//! the virtual card keeps container N's key in slot [`slot_of_container`]`(N)`, so a slot
//! means the same on both layouts.
//!
//! Every write (UPDATE BINARY, CREATE/DELETE FILE, GENERATE `80`, DELETE KEY) needs PIN1
//! verified in the session (`6982`), and a card whose PUK is blocked refuses it (`6984`).
//! A one-code card (newer SITHS eID cards) has no PIN2: `0x83` answers `6A88`, and it holds
//! only container 0.

/// The PUK's reference [ours]: 8 digits, padded with `00` to 16 bytes like the PINs, 10
/// tries; it unblocks PIN1 and PIN2 and cannot be changed.
pub const PUK_REF: u8 = 0x85;
/// PUK tries [ours: as the PKCS#15 layout].
pub const PUK_MAX_TRIES: u8 = crate::layout::PUK_MAX_TRIES;

/// CHANGE REFERENCE DATA `00 24 00 <ref> 20 <old, 16> <new, 16>` [ours wire form, ISO INS].
pub const INS_CHANGE_REFERENCE_DATA: u8 = 0x24;
/// RESET RETRY COUNTER `00 2C 00 <ref> 20 <PUK, 16> <new PIN, 16>` [ours wire form, ISO INS].
pub const INS_RESET_RETRY_COUNTER: u8 = 0x2C;
/// VERIFY `00 20 FF <ref>` without data forgets a verification (ISO 7816-4:2013 P1 `FF`);
/// `6A88` for a reference the card does not have.
pub const P1_VERIFY_RESET: u8 = 0xFF;
/// GENERATE ASYMMETRIC KEY PAIR `00 46 <P1> <key ref>` (ISO 7816-8): P1 `80` makes an
/// RSA-2048 key (`6985` when the reference holds one), `81` reads its public key (`6A88`
/// when none); the answer is a `7F49` template.
pub const INS_GENERATE: u8 = 0x46;
pub const P1_GENERATE: u8 = 0x80;
pub const P1_READ_PUBLIC_KEY: u8 = 0x81;
/// DELETE KEY `80 E4 00 <key ref>` [ours, as on the PKCS#15 layout]: `6A88` when none.
pub const CLA_PROPRIETARY: u8 = 0x80;
pub const INS_DELETE_KEY: u8 = 0xE4;
/// CREATE FILE `00 E0 00 00 <62 L 80 02 capacity 82 01 01 83 02 FID>` (ISO 7816-9): an empty
/// transparent EF in the applet, then the selected file; the data exactly as
/// [`create_file_data`] makes it (`6A80` otherwise), `6A89` when the FID exists, `6A84` when
/// the card is full (the virtual card: all files' capacities together past 64 KiB).
pub const INS_CREATE_FILE: u8 = 0xE0;
/// CREATE FILE's answer when the FID is taken (ISO 7816-4 `6A89`, "file already exists").
pub const SW_FILE_EXISTS: u16 = 0x6A89;
/// DELETE FILE `00 E4 00 00 02 <FID>` (ISO 7816-9): `6A82` when none; the applet's own files
/// (index, cardid, cmapfile, 0005, tinfo) answer `6985`.
pub const INS_DELETE_FILE: u8 = 0xE4;
/// Command chaining (CLA bit `10`) for UPDATE BINARY: every link with the same P1 P2 (the
/// offset of the whole), the last with CLA `00`; the card applies the chain when the last link
/// arrives, so a rewritten index is either the old one or the new one. Any other command, or
/// a reset, between links discards the chain unwritten; other commands do not chain (`6884`).
pub const CLA_CHAINING: u8 = 0x10;

/// CREATE FILE's data for an empty transparent EF `fid` of `capacity` bytes: the FCP
/// `62 0B 80 02 <capacity> 82 01 01 83 02 <FID>`, the one form our card accepts.
pub const fn create_file_data(fid: u16, capacity: u16) -> [u8; 13] {
    let [c1, c2] = capacity.to_be_bytes();
    let [f1, f2] = fid.to_be_bytes();
    [
        0x62, 0x0B, 0x80, 0x02, c1, c2, 0x82, 0x01, 0x01, 0x83, 0x02, f1, f2,
    ]
}

/// The (FID, capacity) of CREATE FILE's data, or None when it is not exactly the form
/// [`create_file_data`] makes.
pub fn parse_create_file(data: &[u8]) -> Option<(u16, u16)> {
    match data {
        [
            0x62,
            0x0B,
            0x80,
            0x02,
            c1,
            c2,
            0x82,
            0x01,
            0x01,
            0x83,
            0x02,
            f1,
            f2,
        ] => Some((
            u16::from_be_bytes([*f1, *f2]),
            u16::from_be_bytes([*c1, *c2]),
        )),
        _ => None,
    }
}

/// The first certificate file; container N's is this plus N [ours].
pub const FID_FIRST_CERT: u16 = 0x0210;
/// Containers a card of ours has: one per key slot.
pub const CONTAINERS: u8 = 8;

/// The container that holds key slot `slot` (1-8), or None for another number.
pub const fn container_of_slot(slot: u8) -> Option<u8> {
    match slot {
        1..=4 => Some(2 * (slot - 1)),
        5..=8 => Some(2 * (slot - 5) + 1),
        _ => None,
    }
}

/// The key slot of container `index`, or None for a container no slot of ours uses.
pub const fn slot_of_container(index: u8) -> Option<u8> {
    if index >= CONTAINERS {
        None
    } else if index % 2 == 0 {
        Some(index / 2 + 1)
    } else {
        Some(index / 2 + 5)
    }
}

/// The file that holds container `index`'s certificate.
pub const fn cert_fid(index: u8) -> u16 {
    FID_FIRST_CERT + index as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_and_containers_map_both_ways_with_pins_by_parity() {
        for slot in 1..=8u8 {
            let index = container_of_slot(slot).unwrap();
            assert_eq!(slot_of_container(index), Some(slot));
            // Even containers are authentication keys (slots 1-4, PIN1).
            assert_eq!(index % 2 == 0, slot <= 4, "slot {slot}");
        }
        assert_eq!(container_of_slot(1), Some(0));
        assert_eq!(container_of_slot(5), Some(1));
        assert_eq!(container_of_slot(0), None);
        assert_eq!(container_of_slot(9), None);
        assert_eq!(slot_of_container(8), None);
        assert_eq!(cert_fid(7), 0x0217);
    }

    #[test]
    fn create_file_data_round_trips_and_nothing_else_parses() {
        let data = create_file_data(0x0213, 0x0640);
        assert_eq!(
            data,
            [
                0x62, 0x0B, 0x80, 0x02, 0x06, 0x40, 0x82, 0x01, 0x01, 0x83, 0x02, 0x02, 0x13
            ]
        );
        assert_eq!(parse_create_file(&data), Some((0x0213, 0x0640)));
        assert_eq!(parse_create_file(&data[..12]), None);
        let mut df = data;
        df[8] = 0x38;
        assert_eq!(parse_create_file(&df), None, "only transparent EFs");
    }
}
