//! The upgrade end to end against the CA mock over real mutual TLS, with the card in-process:
//! the happy path, a pull before every APDU, the CA going away, and each refusal.

mod support;

use std::process::Command;

use siths_upgrade::ca::Profile;
use siths_upgrade::card::{CardError, PinKind, SecretCode, SithsCard};
use siths_upgrade::pki::CertInfo;
use siths_upgrade::virtual_card::memory::MemoryTransport;
use siths_upgrade::virtual_card::{self, Layout, VirtualCard};
use siths_upgrade::workflow::error::WorkflowError;
use siths_upgrade::workflow::progress::{Progress, Step};
use siths_upgrade::workflow::renew::{RenewRequest, RenewSummary, renew};
use siths_upgrade::workflow::upgrade::{UpgradeRequest, upgrade};

use support::persons::{HOLDER, NOT_ALLOWED, OPERATOR, OTHER_HOLDER, RENEWAL_DUE, SAMORDNING};
use support::rig::Rig;
use support::world::world;

/// What the upgrade and renewal tests do with a rig: run the workflows with the holder's codes,
/// and read back what the card and the CA hold.
impl Rig {
    fn upgrade_with(
        &self,
        pin1: &str,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<siths_upgrade::workflow::upgrade::UpgradeSummary, WorkflowError> {
        let pin1 = SecretCode::pin(pin1.into()).unwrap();
        let pin2 = SecretCode::pin(self.holder().pin2.clone()).unwrap();
        let url = self.url();
        upgrade(
            &self.try_card()?,
            &UpgradeRequest {
                ca_url: &url,
                ca_root_pem: &self.root_pem,
                pin1: &pin1,
                pin2: &pin2,
            },
            progress,
        )
    }

    fn upgrade(&self) -> Result<siths_upgrade::workflow::upgrade::UpgradeSummary, WorkflowError> {
        self.upgrade_with(&self.holder().pin1.clone(), &mut |_| {})
    }

    fn renew_with(
        &self,
        only: &[siths_upgrade::ca::IdentityKind],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<RenewSummary, WorkflowError> {
        let pin1 = SecretCode::pin(self.holder().pin1.clone()).unwrap();
        let pin2 = SecretCode::pin(self.holder().pin2.clone()).unwrap();
        let url = self.url();
        renew(
            &self.try_card()?,
            &RenewRequest {
                ca_url: &url,
                ca_root_pem: &self.root_pem,
                pin1: &pin1,
                pin2: &pin2,
                only,
            },
            progress,
        )
    }

    fn renew(&self) -> Result<RenewSummary, WorkflowError> {
        self.renew_with(&[], &mut |_| {})
    }

    /// Serial numbers of the card's certificates.
    fn serials(&self) -> Vec<String> {
        let card = self.card();
        let o = card.lock().unwrap().overview().unwrap();
        o.certificates
            .iter()
            .map(|c| c.info.as_ref().unwrap().serial_hex.clone())
            .collect()
    }

    /// After a renewal of a card whose four certificates were `old`: four new ones, each in its
    /// profile's renewal slot and matching the key there, none due; no key left in the old
    /// slots; the CA issued exactly four new ones for this card.
    fn assert_renewed(&self, hsa_id: &str, old: &[String]) {
        let card = self.card();
        let mut card = card.lock().unwrap();
        let o = card.overview().unwrap();
        assert_eq!(o.certificates.len(), 4, "{:?}", o.certificates);
        let now = siths_upgrade::pki::date::now_unix();
        for profile in Profile::ALL {
            let c = o
                .certificates
                .iter()
                .find(|c| c.slot == Some(profile.renewal_slot()))
                .unwrap_or_else(|| panic!("{profile:?} not in its renewal slot"));
            let info = c.info.as_ref().unwrap();
            assert_eq!(Profile::of_certificate(info), Some(profile));
            assert!(info.days_left(now) > 30, "{profile:?} is new");
            assert!(!old.contains(&info.serial_hex), "{profile:?} is renewed");
            let key = card
                .read_public_key(profile.renewal_slot())
                .unwrap()
                .unwrap();
            assert!(info.matches_rsa_key(&key.modulus, &key.exponent));
            assert_eq!(
                card.read_public_key(profile.slot()).unwrap(),
                None,
                "the old key of {profile:?} is gone"
            );
        }
        assert_eq!(
            self.stored(hsa_id).len(),
            8,
            "the CA issued exactly four new certificates for this card"
        );
    }

    fn stored(&self, hsa_id: &str) -> Vec<CertInfo> {
        self.server
            .as_ref()
            .unwrap()
            .certificates_for(hsa_id)
            .unwrap()
            .iter()
            .map(|c| CertInfo::from_der(&c.der).unwrap())
            .collect()
    }

    /// The card ends with exactly the four new pairs: each certificate in its profile's slot,
    /// naming the right identity and matching the key in that slot; no legacy pair, no key
    /// without a certificate; and the CA holds exactly those four for this card.
    fn assert_upgraded(&self, hsa_id: &str) {
        let card = self.card();
        let mut card = card.lock().unwrap();
        let o = card.overview().unwrap();
        let mut slots: Vec<u8> = o
            .certificates
            .iter()
            .filter_map(|c| c.slot.map(|s| s.number()))
            .collect();
        slots.sort();
        assert_eq!(slots, [2, 3, 6, 7], "{:?}", o.certificates);
        assert_eq!(o.certificates.len(), 4);
        for profile in Profile::ALL {
            let c = o
                .certificates
                .iter()
                .find(|c| c.slot == Some(profile.slot()))
                .unwrap();
            let info = c.info.as_ref().unwrap();
            assert_eq!(info.purpose, profile.purpose(), "{profile:?}");
            assert_eq!(info.trust_level, Some(3));
            let key = card.read_public_key(profile.slot()).unwrap().unwrap();
            assert!(
                info.matches_rsa_key(&key.modulus, &key.exponent),
                "{profile:?}"
            );
        }
        for slot in [1u8, 4, 5, 8].map(|n| siths_upgrade::card::KeySlot::new(n).unwrap()) {
            assert_eq!(
                card.read_public_key(slot).unwrap(),
                None,
                "orphaned key in {slot}"
            );
        }
        let on_card: Vec<Vec<u8>> = o.certificates.iter().map(|c| c.der.clone()).collect();
        let stored = self.stored(hsa_id);
        let for_this_card = stored.iter().filter(|s| on_card.contains(&s.der)).count();
        assert_eq!(
            for_this_card, 4,
            "the CA issued exactly these four for this card"
        );
    }
}

fn pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

#[test]
fn full_upgrade_leaves_both_pairs_and_no_legacy() {
    full_upgrade_on(Layout::Pkcs15);
}

#[test]
fn full_upgrade_of_an_idprime_card_leaves_both_pairs_and_no_legacy() {
    full_upgrade_on(Layout::Idprime);
}

/// The holder's card in `layout`: the workflow is the same on both.
fn holding_in(layout: Layout, person: support::persons::Person) -> Rig {
    Rig::builder().layout(layout).holder(person).start()
}

fn full_upgrade_on(layout: Layout) {
    let rig = holding_in(layout, HOLDER);
    let mut steps = Vec::new();
    let summary = rig.upgrade_with("135790", &mut |p| steps.push(p)).unwrap();
    assert_eq!(summary.written.len(), 4);
    assert_eq!(
        summary.removed_slots,
        [1, 5].map(|n| siths_upgrade::card::KeySlot::new(n).unwrap())
    );
    rig.assert_upgraded(HOLDER.hsa_id);
    assert_eq!(rig.stored(HOLDER.hsa_id).len(), 4);
    // Progress counts up to its total and ends with Done.
    let last = steps.last().unwrap();
    assert_eq!((last.step.clone(), last.done), (Step::Done, last.total));
    assert!(steps.windows(2).all(|w| w[0].done <= w[1].done));

    // Every certificate verifies with OpenSSL against the TEST root, independently of us.
    let card = rig.card();
    let o = card.lock().unwrap().overview().unwrap();
    let identities: Vec<String> = o
        .certificates
        .iter()
        .map(|c| {
            c.info
                .as_ref()
                .unwrap()
                .identity
                .value()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(identities.contains(&HOLDER.hsa_id.to_string()));
    assert!(identities.contains(&HOLDER.personnummer.to_string()));
    for c in &o.certificates {
        let file = rig.dir.path().join(format!("{}.pem", c.id_hex()));
        std::fs::write(&file, pem(&c.der)).unwrap();
        let out = Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(rig.dir.root_pem())
            .arg("-untrusted")
            .arg(rig.dir.issuing_pem())
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.contains("OK"), "{text}");
    }

    // Running it again changes nothing and asks the CA for nothing new.
    let again = rig.upgrade().unwrap();
    assert!(again.written.is_empty() && again.removed_slots.is_empty());
    assert_eq!(rig.stored(HOLDER.hsa_id).len(), 4);
}

/// A newer SITHS eID card that came with one code and only its authentication certificate:
/// the upgrade gives it the two login certificates and asks for no PIN2 (the card has none:
/// any VERIFY of one would fail the upgrade), and the legacy certificate goes.
#[test]
fn a_card_with_one_code_gets_both_login_certificates_and_no_pin2_is_used() {
    use siths_upgrade::ca::mock::CaName;
    let rig = holding_in(Layout::Idprime, HOLDER);
    let directory = rig.dir.persons().unwrap();
    let person = directory.by_hsa_id(HOLDER.hsa_id).unwrap();
    let state = rig.dir.card_state(HOLDER.hsa_id);
    siths_upgrade::provision::make_one_code_idprime_card_with(
        &state,
        &person.card_serial,
        &person.codes(),
        &person.name_with(&person.hsa_id),
        &rig.dir.load_ca(CaName::Legacy).unwrap(),
    )
    .unwrap();
    *virtual_card::lock_virtual_card(&rig.holder().vcard) = VirtualCard::open(&state).unwrap();

    let mut last = None;
    let summary = rig
        .upgrade_with(&rig.holder().pin1.clone(), &mut |p| last = Some(p))
        .unwrap();
    assert_eq!(summary.written, [Profile::HsaAuth, Profile::PnrAuth]);
    assert_eq!(
        summary.removed_slots,
        [siths_upgrade::card::KeySlot::new(1).unwrap()]
    );
    let message = last.unwrap().message;
    assert!(message.contains("signing code"), "{message}");
    let o = rig.card().lock().unwrap().overview().unwrap();
    let mut slots: Vec<u8> = o
        .certificates
        .iter()
        .filter_map(|c| c.slot.map(|s| s.number()))
        .collect();
    slots.sort();
    assert_eq!(slots, [2, 3]);
    assert_eq!(o.pin(PinKind::Pin2), None, "still one code");
    assert_eq!(rig.stored(HOLDER.hsa_id).len(), 2);
    // Done: a second run changes nothing.
    let again = rig.upgrade().unwrap();
    assert!(again.written.is_empty() && again.removed_slots.is_empty());
}

#[test]
fn pulled_before_any_apdu_the_upgrade_resumes_to_the_same_end() {
    pulled_before_any_apdu_of_the_upgrade(Layout::Pkcs15);
}

#[test]
fn pulled_before_any_apdu_the_upgrade_of_an_idprime_card_resumes_to_the_same_end() {
    pulled_before_any_apdu_of_the_upgrade(Layout::Idprime);
}

fn pulled_before_any_apdu_of_the_upgrade(layout: Layout) {
    pull_before_every_apdu(
        layout,
        HOLDER,
        "upgrade",
        &|rig| rig.upgrade().map(drop),
        &|rig, n| {
            rig.assert_upgraded(HOLDER.hsa_id);
            assert_eq!(
                rig.stored(HOLDER.hsa_id).len(),
                4,
                "pull at {n}: the CA issued exactly four certificates for this card"
            );
        },
    );
}

/// Count the APDUs of one whole `workflow` on `person`'s card, then, on fresh copies of the
/// card and the CA store, pull the card before each of them in turn: the cut-short run
/// fails, and a rerun once the card is back ends as `check` says a whole run does. Two
/// workers, each with a CA of its own, share the pulls.
fn pull_before_every_apdu(
    layout: Layout,
    person: support::persons::Person,
    what: &str,
    workflow: &(dyn Fn(&Rig) -> Result<(), WorkflowError> + Sync),
    check: &(dyn Fn(&Rig, u32) + Sync),
) {
    let rig = holding_in(layout, person);
    let before = virtual_card::lock_virtual_card(&rig.holder().vcard).command_count();
    workflow(&rig).unwrap();
    let apdus =
        (virtual_card::lock_virtual_card(&rig.holder().vcard).command_count() - before) as u32;
    assert!(apdus > 50, "{apdus}");
    drop(rig);

    std::thread::scope(|scope| {
        for worker in 0..2u32 {
            scope.spawn(move || {
                let mut rig = holding_in(layout, person);
                for n in (worker..apdus).step_by(2) {
                    rig.fresh_card_and_store();
                    let count =
                        || virtual_card::lock_virtual_card(&rig.holder().vcard).command_count();
                    let start = count();
                    virtual_card::lock_virtual_card(&rig.holder().vcard).pull_after(n);
                    if workflow(&rig).is_ok() {
                        // Runs differ by a few APDUs (a compressed certificate takes one link
                        // more or less): this one finished before the pull, never through it.
                        assert!(
                            count() - start <= u64::from(n),
                            "pulled after {n} APDUs, the {what} cannot finish"
                        );
                    }
                    virtual_card::lock_virtual_card(&rig.holder().vcard).insert();
                    workflow(&rig)
                        .unwrap_or_else(|e| panic!("resume after a pull at APDU {n}: {e}"));
                    check(&rig, n);
                }
            });
        }
    });
}

#[test]
fn ca_gone_mid_upgrade_is_a_clear_error_and_resumable() {
    let mut rig = Rig::holding(HOLDER);
    let mock = rig.server.take().unwrap();
    let url = mock.url();
    let mut mock = Some(mock);
    let pin1 = SecretCode::pin("135790".into()).unwrap();
    let pin2 = SecretCode::pin("246802".into()).unwrap();
    let e = upgrade(
        &rig.card(),
        &UpgradeRequest {
            ca_url: &url,
            ca_root_pem: &rig.root_pem,
            pin1: &pin1,
            pin2: &pin2,
        },
        &mut |p| {
            if matches!(p.step, Step::WriteCertificate(Profile::HsaAuth)) {
                if let Some(m) = mock.take() {
                    m.stop();
                }
            }
        },
    )
    .unwrap_err();
    assert!(matches!(e, WorkflowError::Ca(_)), "{e:?}");
    assert!(
        e.to_string().contains("nothing on the card was changed") || e.to_string().contains("CA"),
        "{e}"
    );
    // The legacy pair is still there: the card is usable as before.
    let o = rig.card().lock().unwrap().overview().unwrap();
    assert!(
        o.certificates
            .iter()
            .any(|c| c.slot == siths_upgrade::card::KeySlot::new(1))
    );
    // The CA comes back: the upgrade resumes and finishes.
    rig.restart();
    rig.upgrade().unwrap();
    rig.assert_upgraded(HOLDER.hsa_id);
}

#[test]
fn wrong_and_blocked_pin_stop_before_anything_changes() {
    let rig = Rig::holding(HOLDER);
    let e = rig.upgrade_with("000000", &mut |_| {}).unwrap_err();
    assert!(
        matches!(
            e,
            WorkflowError::Card(CardError::WrongCode {
                kind: PinKind::Pin1,
                tries_left: 2
            })
        ),
        "{e:?}"
    );
    assert!(e.is_user_error());
    let _ = rig.upgrade_with("000000", &mut |_| {});
    let _ = rig.upgrade_with("000000", &mut |_| {});
    let e = rig.upgrade().unwrap_err();
    assert!(
        matches!(e, WorkflowError::Card(CardError::Blocked(PinKind::Pin1))),
        "{e:?}"
    );
    assert_eq!(rig.stored(HOLDER.hsa_id).len(), 0);
    let o = rig.card().lock().unwrap().overview().unwrap();
    assert_eq!(o.certificates.len(), 2, "the legacy pair only");
}

#[test]
fn a_samordningsnummer_holder_gets_no_level_3_personnummer_pair() {
    let rig = Rig::holding(SAMORDNING);
    let e = rig.upgrade().unwrap_err();
    assert!(matches!(e, WorkflowError::ProfileMissing(_)), "{e:?}");
    assert!(e.to_string().contains("service centre"), "{e}");
    assert_eq!(rig.stored(SAMORDNING.hsa_id).len(), 0);
}

#[test]
fn refused_persons_and_a_passed_deadline_change_nothing() {
    let rig = Rig::holding(NOT_ALLOWED);
    let e = rig.upgrade().unwrap_err();
    assert!(
        matches!(
            e,
            WorkflowError::NotAllowed {
                code: siths_upgrade::ca::RefusalCode::UpgradeNotAllowed,
                ..
            }
        ),
        "{e:?}"
    );

    let mut rig = Rig::holding(HOLDER);
    rig.dir.set_deadline("2020-01-01").unwrap();
    rig.restart();
    let e = rig.upgrade().unwrap_err();
    assert!(
        matches!(
            &e,
            WorkflowError::NotAllowed {
                code: siths_upgrade::ca::RefusalCode::DeadlinePassed,
                ..
            }
        ),
        "{e:?}"
    );
    let o = rig.card().lock().unwrap().overview().unwrap();
    assert_eq!(o.certificates.len(), 2);
    assert_eq!(rig.stored(HOLDER.hsa_id).len(), 0);
}

/// Cancel `rig`'s upgrade right after `step`, then move the deadline into the past and restart
/// the CA.
fn cut_short_then_deadline_passes(rig: &mut Rig, step: Step) {
    use siths_upgrade::workflow::progress::Cancel;
    use siths_upgrade::workflow::upgrade::upgrade_until;
    let cancel = Cancel::default();
    let pin1 = SecretCode::pin(rig.holder().pin1.clone()).unwrap();
    let pin2 = SecretCode::pin(rig.holder().pin2.clone()).unwrap();
    let url = rig.url();
    let request = UpgradeRequest {
        ca_url: &url,
        ca_root_pem: &rig.root_pem,
        pin1: &pin1,
        pin2: &pin2,
    };
    let err = upgrade_until(&rig.card(), &request, &cancel, &mut |p| {
        if p.step == step {
            cancel.cancel();
        }
    })
    .unwrap_err();
    assert!(matches!(err, WorkflowError::Cancelled), "{err}");
    rig.dir.set_deadline("2020-01-01").unwrap();
    rig.restart();
}

/// Review of the CA mock, finding 6, as the holder meets it: an upgrade whose four
/// certificates the CA issued before the deadline finishes after it; one that still needs a
/// new certificate stops before the card is touched.
#[test]
fn an_upgrade_the_ca_issued_before_the_deadline_finishes_after_it() {
    let mut rig = Rig::holding(HOLDER);
    cut_short_then_deadline_passes(&mut rig, Step::Enrol(Profile::PnrSign));
    rig.upgrade()
        .unwrap_or_else(|e| panic!("the resumed upgrade after the deadline: {e}"));
    rig.assert_upgraded(HOLDER.hsa_id);
    assert_eq!(rig.stored(HOLDER.hsa_id).len(), 4);

    let mut rig = Rig::holding(HOLDER);
    cut_short_then_deadline_passes(&mut rig, Step::Enrol(Profile::HsaSign));
    let before = rig.card().lock().unwrap().overview().unwrap();
    let e = rig.upgrade().unwrap_err();
    assert!(
        matches!(
            &e,
            WorkflowError::NotAllowed {
                code: siths_upgrade::ca::RefusalCode::DeadlinePassed,
                ..
            }
        ),
        "{e:?}"
    );
    let after = rig.card().lock().unwrap().overview().unwrap();
    assert_eq!(
        before.certificates.len(),
        after.certificates.len(),
        "nothing written or removed"
    );
    assert_eq!(rig.stored(HOLDER.hsa_id).len(), 2);
}

#[test]
fn a_certificate_for_another_key_is_refused_and_nothing_is_written() {
    let rig = Rig::holding(HOLDER);
    rig.server.as_ref().unwrap().misissue_for_other_key(true);
    let e = rig.upgrade().unwrap_err();
    assert!(
        matches!(
            &e,
            WorkflowError::Check {
                error: siths_upgrade::ca::check::CertCheckError::WrongKey,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("nothing was written"), "{e}");
    let o = rig.card().lock().unwrap().overview().unwrap();
    assert_eq!(o.certificates.len(), 2, "only the legacy pair");
    assert!(
        o.certificates
            .iter()
            .all(|c| c.slot == siths_upgrade::card::KeySlot::new(1)
                || c.slot == siths_upgrade::card::KeySlot::new(5))
    );
    // A working CA later: the upgrade goes through with the key already made.
    rig.server.as_ref().unwrap().misissue_for_other_key(false);
    rig.upgrade().unwrap();
    rig.assert_upgraded(HOLDER.hsa_id);
}

#[test]
fn fetch_existing_puts_back_what_the_ca_issued_when_the_card_holds_the_key() {
    use siths_upgrade::workflow::fetch_existing::{FetchRequest, list, write};
    use siths_upgrade::workflow::fit::Fit;
    // An upgrade interrupted right after the CA issued the first certificate: the key is in its
    // slot and the certificate is at the CA, but not on the card.
    let rig = Rig::holding(HOLDER);
    let vcard = rig.holder().vcard.clone();
    let e = rig
        .upgrade_with(&rig.holder().pin1.clone(), &mut |p| {
            if p.step == Step::Enrol(Profile::HsaAuth) {
                virtual_card::lock_virtual_card(&vcard).pull();
            }
        })
        .unwrap_err();
    assert!(matches!(e, WorkflowError::Card(_)), "{e:?}");
    virtual_card::lock_virtual_card(&rig.holder().vcard).insert();

    let pin1 = SecretCode::pin(rig.holder().pin1.clone()).unwrap();
    let url = rig.url();
    let request = FetchRequest {
        ca_url: &url,
        ca_root_pem: &rig.root_pem,
        pin1: &pin1,
    };
    let card = rig.card();
    let existing = list(&card, &request).unwrap();
    assert_eq!(existing.len(), 1, "{existing:?}");
    assert_eq!(existing[0].profile, Profile::HsaAuth);
    assert_eq!(existing[0].fit, Fit::Writable(Profile::HsaAuth.slot()));
    write(&card, &existing[0]).unwrap();
    let o = card.lock().unwrap().overview().unwrap();
    assert!(
        o.certificates
            .iter()
            .any(|c| c.slot == siths_upgrade::card::KeySlot::new(2))
    );
    let again = list(&card, &request).unwrap();
    assert_eq!(again[0].fit, Fit::AlreadyOnCard);

    // The same person's other (pre-upgrade) card does not hold that key: it cannot go there.
    let other_state = rig.dir.path().join("other-card.json");
    std::fs::copy(
        world()
            .join("cards")
            .join(format!("{}.json", HOLDER.hsa_id)),
        &other_state,
    )
    .unwrap();
    let other = virtual_card::share_virtual_card(VirtualCard::open(&other_state).unwrap());
    let other_card = siths_upgrade::card::share(
        SithsCard::open(Box::new(MemoryTransport::connect(other).unwrap())).unwrap(),
    );
    let there = list(&other_card, &request).unwrap();
    assert_eq!(there[0].fit, Fit::KeyNotOnCard);
    assert!(there[0].fit.explain().contains("another card"));
    assert!(write(&other_card, &there[0]).is_err());
}

#[test]
fn a_puk_is_fetched_only_for_a_card_certificate_this_ca_stands_behind() {
    use siths_upgrade::workflow::puk_lookup::{Customer, puk_lookup};
    let rig = Rig::holding(OPERATOR);
    let pin1 = SecretCode::pin(rig.holder().pin1.clone()).unwrap();
    // The customer's genuine authentication certificate, as their card shows it.
    let karin = {
        let card = virtual_card::share_virtual_card(
            VirtualCard::open(rig.dir.card_state(HOLDER.hsa_id)).unwrap(),
        );
        let mut c = SithsCard::open(Box::new(MemoryTransport::connect(card).unwrap())).unwrap();
        let o = siths_upgrade::card::Card::overview(&mut c).unwrap();
        o.certificates
            .iter()
            .find(|c| c.slot == siths_upgrade::card::KeySlot::new(1))
            .unwrap()
            .der
            .clone()
    };
    // The lookups in the CA's log (its challenges are logged beside them).
    let lookups = || {
        std::fs::read_to_string(rig.dir.puk_log())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(r#""request":"lookup""#))
            .count()
    };
    let serial = rig
        .dir
        .persons()
        .unwrap()
        .by_hsa_id(HOLDER.hsa_id)
        .unwrap()
        .card_serial
        .clone();
    let lookup = |hsa_id: &str, certificate: &[u8]| {
        puk_lookup(
            &rig.card(),
            &rig.url(),
            &rig.root_pem,
            &pin1,
            &Customer {
                hsa_id,
                certificate,
                serial: &serial,
            },
            "forgot PIN1; passport checked",
        )
    };

    let puk = lookup(HOLDER.hsa_id, &karin).unwrap();
    assert_eq!(puk.len(), 8);
    assert_eq!(lookups(), 1);

    // The same person's name and HSA-id on a certificate from a CA this CA does not stand
    // behind (a card made elsewhere to look like Karin's): no PUK, and the CA is not asked.
    let impostor_ca =
        siths_upgrade::pki::TestCa::new_root("TEST SITHS Type 1 CA v1", 2048).unwrap();
    let real = CertInfo::from_der(&karin).unwrap();
    let forged = impostor_ca
        .issue_person_cert(
            &siths_upgrade::pki::PersonCertRequest {
                subject: siths_upgrade::pki::PersonName {
                    serial_number: HOLDER.hsa_id.into(),
                    given_name: real.subject.given_name.clone().unwrap_or_default(),
                    surname: real.subject.surname.clone().unwrap_or_default(),
                    common_name: real.subject.common_name.clone().unwrap_or_default(),
                    organisation: "Testregionen Västra Götaland".into(),
                    locality: None,
                },
                purpose: siths_upgrade::pki::Purpose::Authentication,
                trust_level: Some(3),
                upn: None,
                not_before: None,
                not_after: None,
            },
            &impostor_ca.info().spki_der,
        )
        .unwrap();
    let err = lookup(HOLDER.hsa_id, &forged).unwrap_err();
    assert!(matches!(err, WorkflowError::CustomerNotTrusted(_)), "{err}");
    assert!(err.to_string().contains("no PUK was fetched"), "{err}");

    // Karin's genuine certificate offered for someone else's PUK: refused too.
    let err = lookup(OTHER_HOLDER.hsa_id, &karin).unwrap_err();
    assert!(matches!(err, WorkflowError::CustomerNotTrusted(_)), "{err}");
    assert_eq!(lookups(), 1, "the CA logged no lookup for the refused ones");
}

#[test]
fn renewal_replaces_every_due_pair_and_then_has_nothing_to_do() {
    let rig = Rig::holding(RENEWAL_DUE);
    let old = rig.serials();
    let mut steps = Vec::new();
    let summary = rig.renew_with(&[], &mut |p| steps.push(p)).unwrap();
    assert_eq!(summary.renewed.len(), 4);
    assert_eq!(summary.removed_slots.len(), 4);
    rig.assert_renewed(RENEWAL_DUE.hsa_id, &old);
    let last = steps.last().unwrap();
    assert_eq!((last.step.clone(), last.done), (Step::Done, last.total));
    assert!(steps.windows(2).all(|w| w[0].done <= w[1].done));
    assert!(
        steps
            .iter()
            .all(|p| !p.message.contains(RENEWAL_DUE.personnummer)),
        "progress never shows the personnummer"
    );

    // Nothing is due any more: a second run changes nothing and asks the CA for nothing.
    let again = rig.renew().unwrap();
    assert!(again.renewed.is_empty() && again.removed_slots.is_empty());
    assert_eq!(rig.stored(RENEWAL_DUE.hsa_id).len(), 8);
}

#[test]
fn renewal_on_request_of_a_pair_not_due_is_refused_by_the_ca_and_changes_no_certificate() {
    use siths_upgrade::ca::IdentityKind;
    let rig = Rig::holding(HOLDER);
    rig.upgrade().unwrap();
    // Nothing is due on a fresh upgrade: renew does nothing unless asked.
    assert!(rig.renew().unwrap().renewed.is_empty());
    let slots = |rig: &Rig| -> Vec<u8> {
        let card = rig.card();
        let o = card.lock().unwrap().overview().unwrap();
        let mut v: Vec<u8> = o
            .certificates
            .iter()
            .filter_map(|c| c.slot.map(|s| s.number()))
            .collect();
        v.sort();
        v
    };
    let stored = rig.stored(HOLDER.hsa_id).len();
    // Asked for anyway: the CA renews only inside the renewal window (issue 20, finding 4).
    let err = rig
        .renew_with(&[IdentityKind::HsaId], &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(
            &err,
            WorkflowError::Ca(siths_upgrade::ca::client::CaError::Refused {
                code: siths_upgrade::ca::RefusalCode::RenewalNotDue,
                ..
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("can be renewed from"), "{err}");
    assert_eq!(slots(&rig), [2, 3, 6, 7]);
    assert_eq!(rig.stored(HOLDER.hsa_id).len(), stored, "nothing issued");
}

#[test]
fn a_card_not_yet_upgraded_is_not_renewed() {
    let rig = Rig::holding(HOLDER);
    let err = rig.renew().unwrap_err();
    assert!(matches!(err, WorkflowError::NotUpgraded), "{err}");
    assert!(err.to_string().contains("upgrade the card first"), "{err}");
    assert_eq!(
        rig.stored(HOLDER.hsa_id).len(),
        0,
        "the CA was asked for nothing"
    );
}

#[test]
fn pulled_before_any_apdu_the_renewal_resumes_to_the_same_end() {
    pulled_before_any_apdu_of_the_renewal(Layout::Pkcs15);
}

#[test]
fn pulled_before_any_apdu_the_renewal_of_an_idprime_card_resumes_to_the_same_end() {
    pulled_before_any_apdu_of_the_renewal(Layout::Idprime);
}

fn pulled_before_any_apdu_of_the_renewal(layout: Layout) {
    let old = holding_in(layout, RENEWAL_DUE).serials();
    pull_before_every_apdu(
        layout,
        RENEWAL_DUE,
        "renewal",
        &|rig| rig.renew().map(drop),
        &|rig, _| rig.assert_renewed(RENEWAL_DUE.hsa_id, &old),
    );
}

/// Cancel between two steps: the upgrade stops at the next boundary with "Cancelled", nothing
/// is half-written, and a later run finishes it. The slow steps are announced first.
#[test]
fn a_cancelled_upgrade_stops_between_steps_and_resumes() {
    use siths_upgrade::workflow::progress::Activity;
    use siths_upgrade::workflow::progress::Cancel;
    use siths_upgrade::workflow::upgrade::upgrade_until;
    let rig = Rig::holding(HOLDER);
    let cancel = Cancel::default();
    let pin1 = SecretCode::pin(rig.holder().pin1.clone()).unwrap();
    let pin2 = SecretCode::pin(rig.holder().pin2.clone()).unwrap();
    let url = rig.url();
    let request = UpgradeRequest {
        ca_url: &url,
        ca_root_pem: &rig.root_pem,
        pin1: &pin1,
        pin2: &pin2,
    };
    let mut seen = Vec::new();
    let err = upgrade_until(&rig.card(), &request, &cancel, &mut |p| {
        if p.step == Step::WriteCertificate(Profile::HsaAuth) {
            cancel.cancel();
        }
        seen.push(p.step);
    })
    .unwrap_err();
    assert!(matches!(err, WorkflowError::Cancelled), "{err}");
    assert_eq!(
        seen.last(),
        Some(&Step::WriteCertificate(Profile::HsaAuth)),
        "stopped right after the step it was in"
    );
    assert!(
        seen.contains(&Step::Working(Activity::GeneratingKey(Profile::HsaAuth))),
        "the key generation was announced: {seen:?}"
    );
    // One new certificate written, the legacy pair still there.
    let card = rig.card();
    let o = card.lock().unwrap().overview().unwrap();
    let mut slots: Vec<u8> = o
        .certificates
        .iter()
        .filter_map(|c| c.slot.map(|s| s.number()))
        .collect();
    slots.sort();
    assert_eq!(slots, [1, 2, 5]);
    drop(card);
    rig.upgrade().unwrap();
    rig.assert_upgraded(HOLDER.hsa_id);
}

/// The card's key in `slot`, made now by the card, with the PIN its slot needs.
fn new_key_in(
    rig: &Rig,
    slot: u8,
) -> (siths_upgrade::card::KeySlot, siths_upgrade::card::PublicKey) {
    let slot = siths_upgrade::card::KeySlot::new(slot).unwrap();
    let card = rig.card();
    let mut card = card.lock().unwrap();
    card.verify_pin(
        PinKind::Pin1,
        &SecretCode::pin(rig.holder().pin1.clone()).unwrap(),
    )
    .unwrap();
    if slot.pin() == PinKind::Pin2 {
        card.verify_pin(
            PinKind::Pin2,
            &SecretCode::pin(rig.holder().pin2.clone()).unwrap(),
        )
        .unwrap();
    }
    let key = card.generate_key(slot).unwrap();
    (slot, key)
}

fn write_cert(rig: &Rig, slot: siths_upgrade::card::KeySlot, label: &str, der: &[u8]) {
    let card = rig.card();
    let mut card = card.lock().unwrap();
    card.verify_pin(
        PinKind::Pin1,
        &SecretCode::pin(rig.holder().pin1.clone()).unwrap(),
    )
    .unwrap();
    card.write_certificate(slot, label, der).unwrap();
    card.end_session().unwrap();
}

/// A pair of the holder's own in `slot`, as a card used for encryption carries: a key the card
/// makes and a key-encipherment certificate for it that OpenSSL issues under another company's
/// CA. Returns the certificate.
fn put_foreign_pair(rig: &Rig, slot: u8) -> Vec<u8> {
    let (slot, key) = new_key_in(rig, slot);
    let dir = tempfile::tempdir().unwrap();
    let public = dir.path().join("public.pem");
    std::fs::write(
        &public,
        siths_upgrade::pki::pem::encode("PUBLIC KEY", &key.to_spki_der().unwrap()),
    )
    .unwrap();
    let ca_key = dir.path().join("ca.pem");
    let ext = dir.path().join("ext.cnf");
    std::fs::write(&ext, "keyUsage=critical,keyEncipherment\n").unwrap();
    let cert = dir.path().join("cert.der");
    for args in [
        vec!["genrsa", "-out", ca_key.to_str().unwrap(), "2048"],
        vec![
            "x509",
            "-new",
            "-subj",
            "/O=Krypto AB/CN=Kryptering",
            "-force_pubkey",
            public.to_str().unwrap(),
            "-key",
            ca_key.to_str().unwrap(),
            "-days",
            "365",
            "-extfile",
            ext.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            cert.to_str().unwrap(),
        ],
    ] {
        let out = Command::new("openssl").args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let der = std::fs::read(&cert).unwrap();
    write_cert(rig, slot, "Kryptering", &der);
    der
}

/// A forgery in `slot`: the card's own key there, certified for `identity` by a CA the forger
/// made and named like the profile's issuing CA (so the issuer's name is right, the chain is not).
fn put_forged(rig: &Rig, slot: u8, identity: &str) -> Vec<u8> {
    use siths_upgrade::ca::mock::CaName;
    use siths_upgrade::pki::Purpose;
    use siths_upgrade::pki::issue::{PersonCertRequest, PersonName, TestCa};
    let (slot, key) = new_key_in(rig, slot);
    let profile = siths_upgrade::ca::Profile::of_slot(slot);
    let name = match profile.identity() {
        siths_upgrade::ca::IdentityKind::HsaId => CaName::Hsa3,
        siths_upgrade::ca::IdentityKind::Personnummer => CaName::Pnr3,
    };
    let forger = TestCa::new_root(name.common_name(), 2048).unwrap();
    let purpose = profile.purpose();
    assert!(matches!(
        purpose,
        Purpose::Authentication | Purpose::Signature
    ));
    let der = forger
        .issue_person_cert(
            &PersonCertRequest {
                subject: PersonName {
                    serial_number: identity.into(),
                    given_name: HOLDER.given_name().into(),
                    surname: "Falsk".into(),
                    common_name: format!("{} Falsk", HOLDER.given_name()),
                    organisation: "Testregionen".into(),
                    locality: None,
                },
                purpose,
                trust_level: Some(3),
                upn: None,
                not_before: None,
                not_after: None,
            },
            &key.to_spki_der().unwrap(),
        )
        .unwrap();
    write_cert(rig, slot, profile.card_label(), &der);
    der
}

/// (slot, certificate DER) of every certificate on the card, and the slots holding a key.
fn contents(rig: &Rig) -> (Vec<(u8, Vec<u8>)>, Vec<u8>) {
    let card = rig.card();
    let mut card = card.lock().unwrap();
    let o = card.overview().unwrap();
    let mut certs: Vec<(u8, Vec<u8>)> = o
        .certificates
        .iter()
        .map(|c| (c.slot.map_or(0, |s| s.number()), c.der.clone()))
        .collect();
    certs.sort();
    let keys = siths_upgrade::card::KeySlot::ALL
        .into_iter()
        .filter(|s| card.read_public_key(*s).unwrap().is_some())
        .map(|s| s.number())
        .collect();
    (certs, keys)
}

#[test]
fn the_holders_own_pair_survives_the_upgrade() {
    use siths_upgrade::workflow::pairs;
    let rig = Rig::holding(HOLDER);
    let foreign = put_foreign_pair(&rig, 4);
    let before = rig.card().lock().unwrap().overview().unwrap();
    assert_eq!(
        pairs::others(&before),
        pairs::Others {
            certificates: 1,
            keys: 1
        },
        "the overview counts the holder's other objects"
    );

    let summary = rig.upgrade().unwrap();
    assert_eq!(
        summary.removed_slots,
        [1, 5].map(|n| siths_upgrade::card::KeySlot::new(n).unwrap()),
        "only the legacy pair was removed"
    );
    let (certs, keys) = contents(&rig);
    assert!(certs.contains(&(4, foreign.clone())), "{certs:?}");
    assert_eq!(keys, [2, 3, 4, 6, 7], "the foreign key is still in slot 4");
    assert_eq!(pairs::others(&summary.overview).certificates, 1);
}

#[test]
fn the_holders_own_pair_survives_the_renewal() {
    use siths_upgrade::ca::IdentityKind;
    // An upgraded card whose four certificates are due (the CA renews nothing before its last
    // 30 days), with the holder's own pair in slot 4.
    let rig = Rig::holding(RENEWAL_DUE);
    let foreign = put_foreign_pair(&rig, 4);

    // Renewing the HSA-id pair sweeps the personnummer pair's other slot (4) for keys of ours
    // left by a removal cut short: the holder's key there is not one.
    let renewed = rig.renew_with(&[IdentityKind::HsaId], &mut |_| {}).unwrap();
    assert_eq!(renewed.renewed, [Profile::HsaAuth, Profile::HsaSign]);
    let (certs, keys) = contents(&rig);
    assert!(certs.contains(&(4, foreign.clone())), "{certs:?}");
    assert_eq!(keys, [1, 3, 4, 5, 7]);

    // The personnummer pair would rotate into slot 4, which is the holder's: the renewal stops
    // and says so, and slot 4 is as it was.
    let err = rig
        .renew_with(&[IdentityKind::Personnummer], &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(err, WorkflowError::SlotInUse(s) if s.number() == 4),
        "{err}"
    );
    assert!(err.to_string().contains("left as it is"), "{err}");
    let (certs, keys) = contents(&rig);
    assert!(certs.contains(&(4, foreign)), "{certs:?}");
    assert_eq!(keys, [1, 3, 4, 5, 7]);
}

#[test]
fn forged_certificates_in_the_new_slots_are_reported_and_the_legacy_pair_stays() {
    let rig = Rig::holding(HOLDER);
    let pnr = HOLDER.personnummer;
    for (slot, id) in [(2, HOLDER.hsa_id), (3, pnr), (6, HOLDER.hsa_id), (7, pnr)] {
        put_forged(&rig, slot, id);
    }
    let (before, keys_before) = contents(&rig);
    assert_eq!(before.len(), 6);

    let mut notes = Vec::new();
    let err = rig
        .upgrade_with(&rig.holder().pin1.clone(), &mut |p| {
            if let Step::Rejected(r) = p.step {
                notes.push(r.slot.number());
            }
        })
        .unwrap_err();
    assert!(
        matches!(&err, WorkflowError::Untrusted { slot, .. } if slot.number() == 2),
        "{err}"
    );
    assert!(err.to_string().contains("fails the checks"), "{err}");
    assert_eq!(notes, [2, 3, 6, 7], "each forgery is reported");
    assert_eq!(
        contents(&rig),
        (before, keys_before),
        "the legacy pair and the forgeries are all still there"
    );
    assert!(rig.stored(HOLDER.hsa_id).is_empty(), "nothing was enrolled");
}

#[test]
fn forged_certificates_in_the_renewal_slots_never_remove_the_genuine_pair() {
    let rig = Rig::holding(RENEWAL_DUE);
    let (genuine, _) = contents(&rig);
    assert_eq!(genuine.len(), 4);
    // Self-made certificates named like the new HSA-id pair, newer than the genuine one.
    for slot in [1, 5] {
        put_forged(&rig, slot, RENEWAL_DUE.hsa_id);
    }
    let (before, keys_before) = contents(&rig);

    let mut notes = Vec::new();
    let err = rig
        .renew_with(&[], &mut |p| {
            if let Step::Rejected(r) = p.step {
                notes.push(r.slot.number());
            }
        })
        .unwrap_err();
    assert!(
        matches!(&err, WorkflowError::Untrusted { slot, .. } if slot.number() == 1),
        "{err}"
    );
    assert_eq!(notes, [1, 5]);
    let (after, keys_after) = contents(&rig);
    assert_eq!((&after, &keys_after), (&before, &keys_before));
    for g in &genuine {
        assert!(
            after.contains(g),
            "genuine certificate in slot {} kept",
            g.0
        );
    }
    assert_eq!(
        rig.stored(RENEWAL_DUE.hsa_id).len(),
        4,
        "nothing was renewed"
    );
}
