//! Renewal: a new certificate pair before the old one expires, with fresh keys made by the card,
//! enrolled with EST `simplereenroll` (RFC 7030 4.2.2) while logged in with the pair's current
//! authentication certificate.
//!
//! The card is the journal, as in the upgrade. Each profile has two slots
//! ([`Profile::slots`]); a renewal makes the new key in the one the profile is not in, writes
//! and proves the new certificate there, and only then removes the old pair. A rerun reads
//! where things stand:
//!
//! - one certificate of a profile, due: renew it into the other slot (a key already there, from
//!   a run cut short, is reused; the CA returns the certificate it issued for that key);
//! - two certificates of a profile: the new one is written, so prove it and remove the old;
//! - one authentication certificate beside two signature ones: the authentication one is the
//!   new one (a run renews and removes authentication first), so only its old key, if a pull
//!   cut its removal short, is left to clear.
//!
//! The two slots are how the card "rotates within the profile's slots": nothing is generated
//! over a key that still has a certificate, so a pull at any step loses nothing. A slot held by
//! something that is not the profile's is never touched: the renewal stops and says so.
//!
//! The counts are of checked certificates ([`pairs::check`]): one that looks like a profile's
//! but fails the full issuance check is no "new one already written", so it never leads to the
//! removal of the genuine pair; it is reported and left where it is.
//!
//! [`renew_until`] reads as the list of its steps, one function each below; what it shares with
//! the upgrade (reading the card, logging in, a key in a slot, the checks, the proof) is in
//! [`crate::workflow::steps`].

use std::time::Instant;

use crate::ca::client::CaClient;
use crate::ca::{IdentityKind, Profile};
use crate::card::{CardOverview, KeySlot, PinKind, SecretCode, SharedCard};
use crate::pki::date::now_unix;
use crate::workflow::error::WorkflowError;
use crate::workflow::expiry::Urgency;
use crate::workflow::pairs::{self, Held};
use crate::workflow::progress::{Activity, Cancel, Progress, Reporter, Step};
use crate::workflow::steps::{
    Login, Timed, Timing, WorkflowRun, authorize_for_slot, check_card, check_for_card, csr_for,
    key_in_slot, log_in, prove, read_card, report_pin1, report_read, report_rejected,
    slot_free_of_certificates,
};

/// What the renewal needs from the holder and the site.
pub struct RenewRequest<'a> {
    pub ca_url: &'a str,
    /// PEM of the root that the CA's TLS certificate and every issued certificate chain to.
    pub ca_root_pem: &'a [u8],
    pub pin1: &'a SecretCode,
    pub pin2: &'a SecretCode,
    /// Renew these pairs whether due or not; empty: every pair that is due.
    pub only: &'a [IdentityKind],
}

#[derive(Debug, Clone)]
pub struct RenewSummary {
    /// The profiles whose new certificate this run wrote.
    pub renewed: Vec<Profile>,
    /// Slots of old pairs this run removed.
    pub removed_slots: Vec<KeySlot>,
    /// Certificates that failed the checks and were left on the card.
    pub rejected: Vec<pairs::Rejected>,
    pub overview: CardOverview,
    pub timing: Timing,
}

/// What a rerun finds for one profile of a pair being renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalStage {
    /// Renew the certificate in `old` into `new`.
    Renew { old: KeySlot, new: KeySlot },
    /// The new certificate is in `new`: prove it, then remove `old`.
    Written { old: KeySlot, new: KeySlot },
    /// Renewed already; the old pair's key in `old` may have outlived its certificate when the
    /// card was pulled while it was removed.
    Done { old: KeySlot },
}

/// One pair to renew, as the card shows it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairPlan {
    pub kind: IdentityKind,
    /// Authentication first, then signature.
    pub stages: [(Profile, RenewalStage); 2],
}

/// Whether a certificate has reached the 30-day reminder (or expired).
fn due(h: &Held<'_>, now: i64) -> bool {
    Urgency::of_days_left(h.info.days_left(now)) != Urgency::None
}

/// The pairs that are due (or those named in `only`), and those half renewed, and what each profile needs,
/// from the card's certificates as they look (the window's verdict; the renewal itself plans
/// again from the checked ones). A pair not on the card is skipped, or an error when `only`
/// names it.
pub fn plan(
    overview: &CardOverview,
    only: &[IdentityKind],
    now: i64,
) -> Result<Vec<PairPlan>, WorkflowError> {
    plan_from(|p| pairs::held(overview, p), only, now)
}

fn plan_from<'a>(
    held: impl Fn(Profile) -> Vec<Held<'a>>,
    only: &[IdentityKind],
    now: i64,
) -> Result<Vec<PairPlan>, WorkflowError> {
    let mut plans = Vec::new();
    for kind in [IdentityKind::HsaId, IdentityKind::Personnummer] {
        let [auth, sign] = pairs::pair(kind);
        let (held_auth, held_sign) = (held(auth), held(sign));
        if held_auth.is_empty() || held_sign.is_empty() {
            if only.contains(&kind) {
                return Err(WorkflowError::NotUpgraded);
            }
            continue;
        }
        let begun = held_auth.len() > 1 || held_sign.len() > 1;
        let any_due = held_auth
            .iter()
            .chain(held_sign.iter())
            .any(|c| due(c, now));
        // `only` names the pairs to renew (due or not: the CA then says when it can be); without
        // it every due pair. A pair a cut-short run began is always finished.
        let wanted = if only.is_empty() {
            any_due
        } else {
            only.contains(&kind)
        };
        if !begun && !wanted {
            continue;
        }
        // A run renews the authentication certificate before the signature one and removes
        // the old ones in the same order, so the counts alone say where it stopped: one
        // authentication certificate beside two signature ones is the new one (its old one is
        // already removed); one signature certificate beside two authentication ones is the old.
        let auth_stage = match held_auth.as_slice() {
            [one] if held_sign.len() > 1 => RenewalStage::Done {
                old: other_slot(auth, one.slot),
            },
            held => stage(auth, held)?,
        };
        let sign_stage = stage(sign, &held_sign)?;
        plans.push(PairPlan {
            kind,
            stages: [(auth, auth_stage), (sign, sign_stage)],
        });
    }
    Ok(plans)
}

/// The stage of a profile from its certificates on the card, oldest first.
fn stage(profile: Profile, held: &[Held<'_>]) -> Result<RenewalStage, WorkflowError> {
    match held {
        [one] => Ok(RenewalStage::Renew {
            old: one.slot,
            new: other_slot(profile, one.slot),
        }),
        [old, .., new] => Ok(RenewalStage::Written {
            old: old.slot,
            new: new.slot,
        }),
        [] => Err(WorkflowError::NotUpgraded),
    }
}

fn other_slot(profile: Profile, slot: KeySlot) -> KeySlot {
    let [home, renewal] = profile.slots();
    if slot == home { renewal } else { home }
}

/// Run (or resume) the renewal of the card in `shared`.
pub fn renew(
    shared: &SharedCard,
    request: &RenewRequest<'_>,
    progress: &mut dyn FnMut(Progress),
) -> Result<RenewSummary, WorkflowError> {
    renew_until(shared, request, &Cancel::default(), progress)
}

/// [`renew`], stopping with [`WorkflowError::Cancelled`] at the first step boundary after
/// `cancel` is set.
pub fn renew_until(
    shared: &SharedCard,
    request: &RenewRequest<'_>,
    cancel: &Cancel,
    progress: &mut dyn FnMut(Progress),
) -> Result<RenewSummary, WorkflowError> {
    let started = Instant::now();
    // Read card, PIN1, then per pair: log in, and per profile key, enrol, write, prove, remove.
    let mut job = WorkflowRun::new(shared, Reporter::new(progress, cancel, 2));
    let overview = read_card(shared, &mut job.timing)?;
    if pairs::legacy(&overview).next().is_some() {
        return Err(WorkflowError::NotUpgraded);
    }
    let now = now_unix();
    // By shape first: with nothing due the CA is not needed.
    let looks_due = !plan(&overview, request.only, now)?.is_empty();
    report_read(&mut job.report, &overview)?;
    let roots = crate::ca::roots::Roots::read(request.ca_root_pem)?;
    let (plans, checked, mut session) = if looks_due {
        check_and_plan(&mut job, request, &overview, roots.der(), now)?
    } else {
        job.card()
            .with(|c| c.verify_pin(PinKind::Pin1, request.pin1))?;
        (Vec::new(), pairs::Checked::default(), None)
    };
    job.report.set_total(2 + plans.len() * (1 + 2 * 5));
    report_pin1(&mut job.report)?;
    report_rejected(&mut job.report, &checked);

    let known = Known {
        overview: &overview,
        checked: &checked,
        roots: roots.der(),
        now,
    };
    let mut done = Done::default();
    for plan in &plans {
        renew_pair(&mut job, request, &known, &mut session, plan, &mut done)?;
    }
    clear_leftovers(&mut job, request, &overview, &plans, &mut done)?;

    let overview = job.card().with(|c| c.overview())?;
    job.timing.total = started.elapsed();
    job.report.finish(if plans.is_empty() {
        "No certificate pair is due for renewal".into()
    } else {
        "The renewed pairs are on the card".into()
    });
    Ok(RenewSummary {
        renewed: done.renewed,
        removed_slots: done.removed_slots,
        rejected: checked.rejected.clone(),
        overview,
        timing: job.timing,
    })
}

/// What the renewal has done so far.
#[derive(Default)]
struct Done {
    renewed: Vec<Profile>,
    removed_slots: Vec<KeySlot>,
}

/// The card as this run read and checked it.
struct Known<'k> {
    overview: &'k CardOverview,
    checked: &'k pairs::Checked<'k>,
    roots: &'k [Vec<u8>],
    now: i64,
}

/// Something looks due: log in (the CA renews only with a login certificate valid today), check
/// every certificate the renewal acts on (what fails stays as it is), and plan again from the
/// checked ones. The session is kept for the first pair that logs in with the same certificate.
fn check_and_plan<'o>(
    job: &mut WorkflowRun<'_>,
    request: &RenewRequest<'_>,
    overview: &'o CardOverview,
    roots: &[Vec<u8>],
    now: i64,
) -> Result<(Vec<PairPlan>, pairs::Checked<'o>, Option<Login>), WorkflowError> {
    let now_valid = |c: &&crate::card::CardCertificate| {
        c.info.as_ref().is_ok_and(|i| {
            i.purpose == crate::pki::Purpose::Authentication
                && matches!(i.identity, crate::pki::Identity::HsaId(_))
                && i.is_valid_at(now)
        })
    };
    if !overview.certificates.iter().any(|c| now_valid(&c)) {
        return Err(WorkflowError::LoginExpired);
    }
    let login = log_in(
        job.shared,
        overview,
        request.ca_url,
        request.ca_root_pem,
        request.pin1,
        &mut job.timing,
    )?;
    let personnummer =
        (!login.me.personnummer.is_empty()).then_some(login.me.personnummer.as_str());
    let checked = check_card(
        job.shared,
        &mut job.timing,
        &login.client,
        overview,
        roots,
        pairs::ExpectedHolder {
            hsa_id: &login.hsa_id,
            personnummer,
        },
    )?;
    let plans = plan_from(|p| checked.held(p), request.only, now)?;
    Ok((plans, checked, Some(login)))
}

/// One pair: log in with it, renew each profile that needs it, prove the new keys, and only
/// then remove the old pair.
fn renew_pair(
    job: &mut WorkflowRun<'_>,
    request: &RenewRequest<'_>,
    known: &Known<'_>,
    session: &mut Option<Login>,
    plan: &PairPlan,
    done: &mut Done,
) -> Result<(), WorkflowError> {
    let needs_ca = plan
        .stages
        .iter()
        .any(|(_, s)| matches!(s, RenewalStage::Renew { .. }));
    let (client, identity) = if needs_ca {
        let (client, identity) = pair_login(job, request, known, session, plan)?;
        (Some(client), identity)
    } else {
        (None, String::new())
    };
    job.report.step(
        Step::LogIn,
        if needs_ca {
            format!(
                "Logged in to the CA with the {} authentication certificate",
                kind_name(plan.kind)
            )
        } else {
            format!(
                "The new {} pair is on the card already: the CA is not needed",
                kind_name(plan.kind)
            )
        },
    )?;

    let mut proofs = Vec::new();
    let mut removals = Vec::new();
    let mut written: Vec<(KeySlot, Vec<u8>)> = Vec::new();
    let mut sweep = Vec::new();
    for (profile, stage) in plan.stages {
        match stage {
            RenewalStage::Done { old } => {
                job.report.skip(4);
                sweep.push(old);
            }
            RenewalStage::Written { old, new } => {
                job.report.skip(3);
                proofs.push((profile, new));
                removals.push((profile, old));
            }
            RenewalStage::Renew { old, new } => {
                let Some(client) = client.as_ref() else {
                    return Err(WorkflowError::NoLoginCertificate);
                };
                let cert = renew_profile(job, request, known, client, &identity, profile, new)?;
                done.renewed.push(profile);
                written.push((new, cert));
                job.report.step(
                    Step::WriteCertificate(profile),
                    format!("{} written to the card", profile.card_label()),
                )?;
                proofs.push((profile, new));
                removals.push((profile, old));
            }
        }
    }
    drop(client);

    prove_new(job, request, known, &proofs, &written)?;
    // Only now: the old pair goes.
    for (profile, slot) in removals {
        job.card().with(|c| {
            authorize_for_slot(c, slot, request.pin2)?;
            c.delete_pair(slot)
        })?;
        done.removed_slots.push(slot);
        job.report.step(
            Step::RemoveOld(profile),
            format!("Old {} removed", profile.card_label()),
        )?;
    }
    // A key whose certificate a cut-short removal already took goes too.
    for slot in sweep {
        if clear_orphan_key(job.shared, &mut job.timing, slot, request.pin2)? {
            done.removed_slots.push(slot);
        }
        job.report.skip(1);
    }
    Ok(())
}

/// Log in with the pair's current authentication certificate: the oldest one still valid,
/// which is the one the CA knows as this pair's; the identity it names. A pair whose new
/// certificates are all written (a resumed run) needs no CA, nor a valid login certificate, and
/// does not come here.
fn pair_login(
    job: &mut WorkflowRun<'_>,
    request: &RenewRequest<'_>,
    known: &Known<'_>,
    session: &mut Option<Login>,
    plan: &PairPlan,
) -> Result<(CaClient, String), WorkflowError> {
    let [(auth, _), _] = plan.stages;
    let login = known
        .checked
        .held(auth)
        .into_iter()
        .find(|h| h.info.is_valid_at(known.now))
        .ok_or(WorkflowError::LoginExpired)?;
    let identity = login
        .info
        .identity
        .value()
        .ok_or(WorkflowError::NoLoginCertificate)?
        .to_string();
    // The session that checked the card logged in with this certificate already.
    let client = match session.take() {
        Some(Login { client, slot, .. }) if slot == login.slot => client,
        _ => {
            let ca_started = Instant::now();
            let client = CaClient::new(
                request.ca_url,
                request.ca_root_pem,
                job.shared.clone(),
                login.slot,
                login.cert.der.clone(),
            )?;
            job.timing.ca += ca_started.elapsed();
            client
        }
    };
    Ok((client, identity))
}

/// A new key in `new` (the slot must hold no certificate; a key in it must be a run of ours),
/// its certificate renewed by the CA, checked, and written; the certificate.
fn renew_profile(
    job: &mut WorkflowRun<'_>,
    request: &RenewRequest<'_>,
    known: &Known<'_>,
    client: &CaClient,
    identity: &str,
    profile: Profile,
    new: KeySlot,
) -> Result<Vec<u8>, WorkflowError> {
    slot_free_of_certificates(known.overview, known.checked, new)?;
    let key = key_in_slot(
        job.shared,
        &mut job.timing,
        &mut job.report,
        profile,
        new,
        request.pin2,
    )?;
    job.report.step(
        Step::GenerateKey(profile),
        format!("New key for {} ready on the card", profile.card_label()),
    )?;
    job.report.working(
        Activity::Enrolling(profile),
        format!("The CA renews {}", profile.card_label()),
    )?;
    let csr = csr_for(job.shared, &mut job.timing, new, &key, request.pin2)?;
    let ca_started = Instant::now();
    let cert = client.reenroll(profile, &csr)?;
    job.timing.ca += ca_started.elapsed();
    // The pair's login certificate names the pair's identity.
    check_for_card(
        client,
        &mut job.timing,
        known.roots,
        &cert,
        profile,
        &key,
        identity.to_string(),
    )?;
    job.report.step(
        Step::Enrol(profile),
        format!("{} renewed and checked", profile.card_label()),
    )?;
    job.card()
        .with(|c| c.write_certificate(new, profile.card_label(), &cert))?;
    Ok(cert)
}

/// Prove every new key against its certificate: the one this run wrote, or the one the card
/// listed when it was read (only these slots were written since).
fn prove_new(
    job: &mut WorkflowRun<'_>,
    request: &RenewRequest<'_>,
    known: &Known<'_>,
    proofs: &[(Profile, KeySlot)],
    written: &[(KeySlot, Vec<u8>)],
) -> Result<(), WorkflowError> {
    for (profile, slot) in proofs {
        let info = match written.iter().find(|(s, _)| s == slot) {
            Some((_, der)) => crate::pki::CertInfo::from_der(der)
                .map_err(|_| WorkflowError::ProofFailed(*profile))?,
            None => known
                .checked
                .held(*profile)
                .into_iter()
                .find(|h| h.slot == *slot)
                .map(|h| h.info.clone())
                .ok_or(WorkflowError::ProofFailed(*profile))?,
        };
        prove(
            job.shared,
            &mut job.timing,
            *profile,
            *slot,
            &info,
            request.pin2,
        )?;
        job.report.step(
            Step::ProveKey(*profile),
            format!("{} signs correctly", profile.card_label()),
        )?;
    }
    Ok(())
}

/// Pairs not renewed now: a pull while the last renewal removed an old pair can leave its key
/// behind after the directory no longer lists it (the card deletes the key last). Clear it, so
/// the next renewal never reuses a key that was meant to be gone.
fn clear_leftovers(
    job: &mut WorkflowRun<'_>,
    request: &RenewRequest<'_>,
    overview: &CardOverview,
    plans: &[PairPlan],
    done: &mut Done,
) -> Result<(), WorkflowError> {
    for kind in [IdentityKind::HsaId, IdentityKind::Personnummer] {
        if plans.iter().any(|p| p.kind == kind) {
            continue;
        }
        for profile in pairs::pair(kind) {
            if let [one] = pairs::held(overview, profile).as_slice() {
                let other = other_slot(profile, one.slot);
                if clear_orphan_key(job.shared, &mut job.timing, other, request.pin2)? {
                    done.removed_slots.push(other);
                }
            }
        }
    }
    Ok(())
}

/// Remove the key in `slot` if this program made it and no certificate names it (a removal cut
/// short); whether there was one. Anyone else's key stays.
fn clear_orphan_key(
    shared: &SharedCard,
    timing: &mut Timing,
    slot: KeySlot,
    pin2: &SecretCode,
) -> Result<bool, WorkflowError> {
    let mut card = Timed { shared, timing };
    let labels = pairs::own_key_labels(slot);
    let ours = card.with(|c| {
        // A token per PIN shows PIN2 keys only once PIN2 is given.
        authorize_for_slot(c, slot, pin2)?;
        c.unfinished_key(slot, &labels)
    })?;
    if ours.is_none() {
        return Ok(false);
    }
    card.with(|c| {
        authorize_for_slot(c, slot, pin2)?;
        c.delete_pair(slot)
    })?;
    Ok(true)
}

/// The pair's name for progress lines (never the personnummer itself).
fn kind_name(kind: IdentityKind) -> &'static str {
    match kind {
        IdentityKind::HsaId => "HSA-id",
        IdentityKind::Personnummer => "personnummer",
    }
}
