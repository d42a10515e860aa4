//! The open log the desk appends to.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::chain::{self, MAX_LINE};
use super::entry::{Entry, GENESIS, Record};
use super::error::AuditError;

/// The desk's audit log, open for appending.
///
/// One JSON line per entry, each chained to the one before by hash. A torn last line (the
/// program died while writing it) is never repaired or skipped here: `open` and `append` refuse
/// to write after it, because appending would either hide the damage inside the chain or
/// silently drop evidence. The error says how to go on (delete that incomplete line, or rename
/// the file to start a new log) and the entry it held was never shown as recorded, since
/// `append` returns only after the line is on disk.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    /// What the last append or scan left: the next entry's number, its `prev`, and the file
    /// length, to notice another desk window appending to the same file.
    next_seq: u64,
    last_hash: String,
    len: u64,
    /// The first entry's hash: the log's id for anchors ([`super::anchor`]).
    first_hash: Option<String>,
}

impl AuditLog {
    /// Open the log at `path`, or create it (and its directories, owner-only). An existing log
    /// is verified first so that new entries never extend a broken chain: the error names the
    /// first broken entry and nothing is written. A symbolic link at `path` is refused, never
    /// followed, and so is a log that another user owns or that others can change (one others
    /// may only read is made 0600): the log holds personal data and is evidence.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let created_dirs = create_parents(path)?;
        let mut options = OpenOptions::new();
        options.read(true).append(true);
        #[cfg(unix)]
        {
            // Operator and customer HSA-ids: personal data, not for other local users.
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(crate::private_file::FILE_MODE);
        }
        let mut create = options.clone();
        create.create_new(true);
        let (file, created) = match crate::private_file::open_no_follow(&create, path) {
            Ok(file) => (file, true),
            Err(crate::private_file::PrivateError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                (crate::private_file::open_no_follow(&options, path)?, false)
            }
            Err(crate::private_file::PrivateError::Io { source, .. }) => {
                return Err(AuditError::io(path, "create", source));
            }
            Err(e) => return Err(e.into()),
        };
        crate::private_file::check_file(path, &file)?;
        let mut log = AuditLog {
            path: path.to_path_buf(),
            file,
            next_seq: 1,
            last_hash: GENESIS.to_string(),
            len: 0,
            first_hash: None,
        };
        if created {
            // The new name must survive a crash too, or the first entries vanish with it.
            log.file
                .sync_all()
                .map_err(|e| AuditError::io(path, "create", e))?;
            sync_dirs(path, &created_dirs)?;
        } else {
            // Shared: no appender is half-way through a line while the chain is read.
            let _lock = FileLock::shared(&log.file, path)?;
            log.rescan()?;
        }
        Ok(log)
    }

    /// Append one entry and return it once it is on disk (file data synced), so an entry the
    /// desk showed as recorded survives a crash. On an error the desk must not say it was
    /// recorded; a line that did reach the file will still verify, a torn one is named by
    /// `verify` and stops the next append.
    pub fn append(&mut self, record: Record) -> Result<Entry, AuditError> {
        // Another desk window or process may append to the same file: the exclusive lock
        // makes rescan-and-append one step, so two appenders never both take the same number.
        let _lock = FileLock::exclusive(&self.file, &self.path)?;
        let len = self
            .file
            .metadata()
            .map_err(|e| AuditError::io(&self.path, "read", e))?
            .len();
        if len != self.len {
            // Another window (or program) wrote since: continue after its entries, if intact.
            self.rescan()?;
        }
        let entry = Entry::new(self.next_seq, now(), record, self.last_hash.clone());
        let mut line = serde_json::to_vec(&entry).map_err(|e| {
            AuditError::io(&self.path, "write", std::io::Error::other(e.to_string()))
        })?;
        line.push(b'\n');
        if line.len() > MAX_LINE {
            return Err(AuditError::TooLong {
                bytes: line.len(),
                max: MAX_LINE,
            });
        }
        // One write of the whole line: a crash leaves at worst one torn last line.
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| AuditError::io(&self.path, "write", e))?;
        self.next_seq = entry.seq.saturating_add(1);
        self.last_hash = entry.hash.clone();
        if entry.seq == 1 {
            self.first_hash = Some(entry.hash.clone());
        }
        self.len = self.len.saturating_add(line.len() as u64);
        Ok(entry)
    }

    /// The log's id for anchors: its first entry's hash (`None` while it is empty). The desk
    /// sends [`super::anchor::Anchor::for_entry`] with it after each append.
    pub fn log_id(&self) -> Option<&str> {
        self.first_hash.as_deref()
    }

    /// How many entries the log holds.
    pub fn entries(&self) -> u64 {
        self.next_seq.saturating_sub(1)
    }

    /// Where the log is, to show the operator and for `verify`/`export_csv`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read the whole chain again and continue after its last entry.
    fn rescan(&mut self) -> Result<(), AuditError> {
        (&self.file)
            .seek(SeekFrom::Start(0))
            .map_err(|e| AuditError::io(&self.path, "read", e))?;
        let mut first = None;
        let scanned = chain::scan(&self.path, BufReader::new(&self.file), |e| {
            if e.seq == 1 {
                first = Some(e.hash.clone());
            }
        })?;
        self.first_hash = first;
        self.next_seq = scanned.report.entries.saturating_add(1);
        self.last_hash = scanned.report.last_hash;
        self.len = scanned.bytes;
        Ok(())
    }
}

/// An advisory lock on the log (`flock`: per open file, so two `AuditLog`s in one process
/// exclude each other as two processes do), released when dropped. (std's `File::lock` is the
/// same call, from Rust 1.89 on.)
/// It holds a second handle to the same open file, so the log stays free to write.
struct FileLock(File);

impl FileLock {
    fn exclusive(file: &File, path: &Path) -> Result<FileLock, AuditError> {
        let handle = file
            .try_clone()
            .map_err(|e| AuditError::io(path, "lock", e))?;
        lock(&handle, true).map_err(|e| AuditError::io(path, "lock", e))?;
        Ok(FileLock(handle))
    }

    fn shared(file: &File, path: &Path) -> Result<FileLock, AuditError> {
        let handle = file
            .try_clone()
            .map_err(|e| AuditError::io(path, "lock", e))?;
        lock(&handle, false).map_err(|e| AuditError::io(path, "lock", e))?;
        Ok(FileLock(handle))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Closing the file releases it too; an unlock error leaves nothing to do.
        let _ = unlock(&self.0);
    }
}

#[cfg(unix)]
fn lock(file: &File, exclusive: bool) -> std::io::Result<()> {
    use rustix::fs::FlockOperation::{LockExclusive, LockShared};
    let operation = if exclusive { LockExclusive } else { LockShared };
    Ok(rustix::fs::flock(file, operation)?)
}

#[cfg(unix)]
fn unlock(file: &File) -> std::io::Result<()> {
    Ok(rustix::fs::flock(file, rustix::fs::FlockOperation::Unlock)?)
}

/// Windows: std's `File::lock` (`LockFileEx` on the whole file). The Windows build needs Rust
/// 1.89; the Linux build keeps the crate's rust-version.
#[cfg(windows)]
#[allow(clippy::incompatible_msrv)]
fn lock(file: &File, exclusive: bool) -> std::io::Result<()> {
    if exclusive {
        file.lock()
    } else {
        file.lock_shared()
    }
}

#[cfg(windows)]
#[allow(clippy::incompatible_msrv)]
fn unlock(file: &File) -> std::io::Result<()> {
    file.unlock()
}

/// The time an entry is written: RFC 3339 UTC, whole seconds (enough for a desk, and easier
/// to read in the export).
fn now() -> String {
    let unix = crate::pki::date::now_unix();
    let now =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| unix.to_string())
}

/// Make the missing directories above `path`; returns those made, outermost first.
fn create_parents(path: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let mut missing = Vec::new();
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d.as_os_str().is_empty() || d.exists() {
            break;
        }
        missing.push(d.to_path_buf());
        dir = d.parent();
    }
    missing.reverse();
    if let Some(innermost) = missing.last() {
        // Owner-only (0700), as every folder made for the log.
        crate::private_file::create_dir_all(innermost)
            .map_err(|e| AuditError::io(path, "create", e))?;
    }
    Ok(missing)
}

/// Sync the directory holding the new file and the parent of every directory made for it, so
/// each new name is on disk.
#[cfg(unix)]
fn sync_dirs(path: &Path, created: &[PathBuf]) -> Result<(), AuditError> {
    let mut dirs: Vec<&Path> = created.iter().filter_map(|d| d.parent()).collect();
    dirs.extend(path.parent());
    for dir in dirs {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| AuditError::io(path, "create", e))?;
    }
    Ok(())
}

/// Other systems make the name durable with the file, or offer no way to sync a directory.
#[cfg(not(unix))]
fn sync_dirs(_path: &Path, _created: &[PathBuf]) -> Result<(), AuditError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Action, Outcome, verify};

    fn record(detail: &str) -> Record {
        Record {
            operator: "TST5565594230-9001".into(),
            card_serial: "9752269000001001".into(),
            customer: "TST5565594230-1001".into(),
            action: Action::PukLookup,
            outcome: Outcome::Done,
            detail: detail.into(),
        }
    }

    #[test]
    fn two_windows_on_one_file_keep_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut a = AuditLog::open(&path).unwrap();
        let mut b = AuditLog::open(&path).unwrap();
        assert_eq!(a.append(record("a1")).unwrap().seq, 1);
        let b1 = b.append(record("b1")).unwrap();
        assert_eq!(b1.seq, 2);
        let a2 = a.append(record("a2")).unwrap();
        assert_eq!((a2.seq, a2.prev.as_str()), (3, b1.hash.as_str()));
        assert_eq!(verify(&path).unwrap().entries, 3);
    }

    #[test]
    fn parallel_appenders_keep_one_unbroken_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        // Threads, each with its own open log, as several desk windows would have...
        std::thread::scope(|s| {
            for t in 0..4 {
                let path = &path;
                s.spawn(move || {
                    let mut log = AuditLog::open(path).unwrap();
                    for i in 0..25 {
                        log.append(record(&format!("thread {t} entry {i}")))
                            .unwrap();
                    }
                });
            }
        });
        // ...and processes: this test binary again, running the appender below.
        let children: Vec<_> = (0..3)
            .map(|_| {
                std::process::Command::new(std::env::current_exe().unwrap())
                    .args([
                        "--exact",
                        "audit::log::tests::appender_process",
                        "--test-threads=1",
                    ])
                    .env(CHILD_LOG, &path)
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut child in children {
            assert!(child.wait().unwrap().success());
        }
        let report = verify(&path).unwrap();
        assert_eq!(report.entries, 4 * 25 + 3 * 25);
    }

    const CHILD_LOG: &str = "SITHS_UPGRADE_TEST_APPENDER_LOG";

    /// Appends 25 entries to the log named in the environment; does nothing when run alone.
    #[test]
    fn appender_process() {
        let Some(path) = std::env::var_os(CHILD_LOG) else {
            return;
        };
        let mut log = AuditLog::open(Path::new(&path)).unwrap();
        for i in 0..25 {
            log.append(record(&format!("process {} entry {i}", std::process::id())))
                .unwrap();
        }
    }

    #[test]
    fn creates_missing_directories_private_to_the_user() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("b").join("audit.log");
        let mut log = AuditLog::open(&path).unwrap();
        log.append(record("x")).unwrap();
        assert_eq!(verify(&path).unwrap().entries, 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&dir.path().join("a")), 0o700);
            assert_eq!(mode(&dir.path().join("a").join("b")), 0o700);
        }
    }

    /// A link planted where the log should be, a log others can change, or one others can read:
    /// the first two are refused with nothing written, the last is made the operator's own.
    #[cfg(unix)]
    #[test]
    fn a_link_or_a_shared_log_is_refused_and_a_readable_one_made_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere.log");
        let path = dir.path().join("audit.log");
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        let err = AuditLog::open(&path).unwrap_err();
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        assert!(!elsewhere.exists(), "a dangling link was followed");
        std::fs::write(&elsewhere, "").unwrap();
        assert!(AuditLog::open(&path).is_err());
        assert_eq!(std::fs::metadata(&elsewhere).unwrap().len(), 0);
        std::fs::remove_file(&path).unwrap();

        AuditLog::open(&path).unwrap().append(record("x")).unwrap();
        let set = |m| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m));
        set(0o666).unwrap();
        let err = AuditLog::open(&path).unwrap_err();
        assert!(
            err.to_string().contains("other users can change")
                && err.to_string().contains("chmod 600"),
            "{err}"
        );
        set(0o644).unwrap();
        let mut log = AuditLog::open(&path).unwrap();
        assert_eq!(log.entries(), 1);
        assert_eq!(log.append(record("y")).unwrap().seq, 2);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_detail_too_long_for_an_entry_is_refused_and_nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut log = AuditLog::open(&path).unwrap();
        let err = log.append(record(&"x".repeat(MAX_LINE))).unwrap_err();
        assert!(matches!(err, AuditError::TooLong { .. }), "{err}");
        assert!(err.to_string().contains("shorten the detail"), "{err}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        assert_eq!(log.append(record("ok")).unwrap().seq, 1);
    }

    #[test]
    fn time_is_rfc3339_utc_in_whole_seconds() {
        let t = now();
        assert_eq!(t.len(), "2026-01-02T03:04:05Z".len(), "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
