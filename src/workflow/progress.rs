//! Progress and cancellation shared by the long workflows (upgrade, renewal): numbered steps for
//! the window and the terminal, a word about what the card is busy with before a slow step, and
//! a way for the holder to stop between two steps.
//!
//! The steps are declared here, not in the upgrade, so that every workflow (and the window and
//! the terminal that show them) depends on this module and this module on none of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::ca::Profile;
use crate::card::PinKind;
use crate::workflow::error::WorkflowError;
use crate::workflow::pairs;

/// Where a long workflow is (the upgrade, the renewal); the GUI shows these as a step list, the
/// CLI as lines. One enum for both, so the window and the terminal render every workflow alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    ReadCard,
    VerifyPin(PinKind),
    LogIn,
    GenerateKey(Profile),
    Enrol(Profile),
    WriteCertificate(Profile),
    ProveKey(Profile),
    RemoveLegacy,
    /// Renewal: the old certificate of a profile and its key are removed.
    RemoveOld(Profile),
    /// Not a step: a certificate on the card looks like a profile's or the legacy pair's but
    /// fails the checks; it is left as it is and counts as nothing.
    Rejected(pairs::Rejected),
    /// Not a step: what comes next and takes a while (the step count stays).
    Working(Activity),
    Done,
}

/// What the card or the CA is busy with before a slow step, so the holder sees what is
/// happening and roughly how long it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// The card makes an RSA-2048 key pair: seconds on a real card.
    GeneratingKey(Profile),
    /// The card signs the request and the CA issues the certificate.
    Enrolling(Profile),
}

/// One progress report: the step, how far along the whole workflow is, and words for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub step: Step,
    pub done: usize,
    pub total: usize,
    pub message: String,
}

/// Stops a running job at its next step boundary, where the card is always in a state a later
/// run resumes from. Cheap to clone: the window keeps one end, the worker the other.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Ask the job to stop after the step it is in.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Before a new job: a cancel meant for the last one must not stop it.
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Counts steps, reports them, and checks for a cancel at every boundary.
pub(crate) struct Reporter<'a> {
    progress: &'a mut dyn FnMut(Progress),
    cancel: &'a Cancel,
    done: usize,
    total: usize,
}

impl<'a> Reporter<'a> {
    pub(crate) fn new(
        progress: &'a mut dyn FnMut(Progress),
        cancel: &'a Cancel,
        total: usize,
    ) -> Reporter<'a> {
        Reporter {
            progress,
            cancel,
            done: 0,
            total,
        }
    }

    /// The number of steps, once the job knows it (the renewal, after it checked the card).
    pub(crate) fn set_total(&mut self, total: usize) {
        self.total = total;
    }

    /// A step is done; stop here if the holder asked to.
    pub(crate) fn step(&mut self, step: Step, message: String) -> Result<(), WorkflowError> {
        self.done += 1;
        self.emit(step, message);
        self.check()
    }

    /// Something the holder should know that is no step of its own (a certificate left on the
    /// card because it fails the checks).
    pub(crate) fn note(&mut self, step: Step, message: String) {
        self.emit(step, message);
    }

    /// Steps an earlier run already did.
    pub(crate) fn skip(&mut self, steps: usize) {
        self.done += steps;
    }

    /// What comes next and takes a while; stop before it if the holder asked to.
    pub(crate) fn working(
        &mut self,
        activity: Activity,
        message: String,
    ) -> Result<(), WorkflowError> {
        self.check()?;
        self.emit(Step::Working(activity), message);
        Ok(())
    }

    /// The end: every step counted.
    pub(crate) fn finish(&mut self, message: String) {
        self.done = self.total;
        self.emit(Step::Done, message);
    }

    fn check(&self) -> Result<(), WorkflowError> {
        if self.cancel.is_cancelled() {
            Err(WorkflowError::Cancelled)
        } else {
            Ok(())
        }
    }

    fn emit(&mut self, step: Step, message: String) {
        (self.progress)(Progress {
            step,
            done: self.done,
            total: self.total,
            message,
        });
    }
}
