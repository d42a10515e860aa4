//! Files that hold secrets (PINs, PUKs, private keys, who looked up whose PUK) are created
//! readable by their owner only, inside directories only their owner can enter. The mode is set
//! when the file or directory is created, so there is no moment where another local user could
//! open it. Folders and files that already exist are checked before use ([`check_dir`],
//! [`check_file`], [`open_no_follow`]): another user's, one others can change, or a symbolic
//! link where our file should be is refused.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Mode of a secret file.
pub const FILE_MODE: u32 = 0o600;
/// Mode of a directory of secret files.
pub const DIR_MODE: u32 = 0o700;

/// Create `path` and any missing parents with mode 0700. An existing directory is left as it is.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(path)
}

/// Permissions for `tempfile::Builder::permissions`: tempfile makes directories with the
/// process's umask (0755 usually) unless told otherwise.
#[cfg(unix)]
pub fn dir_permissions() -> fs::Permissions {
    std::os::unix::fs::PermissionsExt::from_mode(DIR_MODE)
}

/// A `tempfile::Builder` for a directory of secrets: owner-only (0700) on Unix. On Windows a
/// new directory inherits the ACL of its parent, and the user's temp and profile folders are
/// the user's own; tempfile cannot set permissions there, so none are set.
pub fn private_dir_builder(prefix: &str) -> tempfile::Builder<'_, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    builder.permissions(dir_permissions());
    builder
}

fn private_options() -> OpenOptions {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options
}

/// Replace `path` with `bytes`: a new 0600 file in the same directory, fsynced, renamed over the
/// old one, the directory fsynced, so a crash at any instant leaves either the old or the new
/// file. A file that was readable by others before is replaced, not reused.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = private_options().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        #[cfg(unix)]
        File::open(&dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Open `path` for appending, creating it with mode 0600.
pub fn open_append(path: &Path) -> io::Result<File> {
    private_options().create(true).append(true).open(path)
}

/// Why a file or folder the program keeps its own data in cannot be trusted: another local
/// user could read what it holds, or change it, or point it elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsafe {
    /// A symbolic link where the program's own file should be.
    Symlink,
    /// Something else than the file or folder expected (a folder, a device, a pipe).
    WrongKind,
    /// Owned by another user (their user id).
    OtherOwner { owner: u32 },
    /// Users other than the owner may change it (its mode).
    WritableByOthers { mode: u32 },
}

/// A file or folder of the program's own that failed [`check_dir`] or [`check_file`].
#[derive(Debug, thiserror::Error)]
pub enum PrivateError {
    #[error("{}", unsafe_text(path, *is_dir, kind))]
    Unsafe {
        path: PathBuf,
        is_dir: bool,
        kind: Unsafe,
    },
    #[error(
        "cannot create or check {}: {source}; check the folder's permissions and the free disk \
         space, then try again",
        path.display()
    )]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn unsafe_text(path: &Path, is_dir: bool, kind: &Unsafe) -> String {
    let what = if is_dir { "folder" } else { "file" };
    let p = path.display();
    match kind {
        Unsafe::Symlink => format!(
            "{p} is a symbolic link, not the program's own {what}: it may have been put there to \
             send what the program writes elsewhere. Remove the link (keep what it points to if \
             you need it) and start again"
        ),
        Unsafe::WrongKind => format!("{p} is not a {what}: move it away and start again"),
        Unsafe::OtherOwner { owner } => format!(
            "{p} belongs to another user (user id {owner}), not to you: it may have been put there \
             to read or change what the program keeps. Have it removed (by that user or IT), or \
             set the folder variables to a folder of your own, then start again"
        ),
        Unsafe::WritableByOthers { mode } => {
            let private = if is_dir { "700" } else { "600" };
            format!(
                "other users can change {p} (mode {mode:o}): check that its contents are yours, \
                 then make it yours only with `chmod {private} '{p}'` and start again"
            )
        }
    }
}

/// What to do with a file or folder of ours, from its owner and mode: keep it, tighten it to
/// owner-only (`Some(mode)`: it is ours, others may only read it), or refuse it. Pure, so the
/// rule is tested with any owner.
pub fn judge(owner: u32, mode: u32, me: u32, is_dir: bool) -> Result<Option<u32>, Unsafe> {
    if owner != me {
        return Err(Unsafe::OtherOwner { owner });
    }
    let mode = mode & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Unsafe::WritableByOthers { mode });
    }
    if mode & 0o077 != 0 {
        return Ok(Some(if is_dir { DIR_MODE } else { FILE_MODE }));
    }
    Ok(None)
}

/// Create the folder `path` (and missing parents) owner-only, or check the one that is there:
/// it must be a folder (a symbolic link to one counts, the user may keep a cache on another
/// disk), owned by this user and writable by no one else. One others may read is made
/// owner-only.
pub fn ensure_private_dir(path: &Path) -> Result<(), PrivateError> {
    create_dir_all(path).map_err(|source| PrivateError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    check_dir(path)
}

/// The check of [`ensure_private_dir`] on a folder that exists.
pub fn check_dir(path: &Path) -> Result<(), PrivateError> {
    check_dir_with(path, true)
}

/// [`check_dir`] for a reader: refuses the same, and changes nothing.
pub fn check_dir_unchanged(path: &Path) -> Result<(), PrivateError> {
    check_dir_with(path, false)
}

fn check_dir_with(path: &Path, tighten: bool) -> Result<(), PrivateError> {
    // Windows: the profile folders' inherited ACLs are the user's; only the kind is checked.
    #[cfg(not(unix))]
    let _ = tighten;
    let io = |source| PrivateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(io)?;
    let refuse = |kind| PrivateError::Unsafe {
        path: path.to_path_buf(),
        is_dir: true,
        kind,
    };
    if !meta.is_dir() {
        return Err(refuse(Unsafe::WrongKind));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if let Some(mode) = judge(meta.uid(), meta.mode(), my_uid(), true).map_err(refuse)?
            && tighten
        {
            log::warn!(
                "{} could be read by other users (mode {:o}): made owner-only",
                path.display(),
                meta.mode() & 0o7777
            );
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io)?;
        }
    }
    Ok(())
}

/// Check a file of ours that is open as `file` (so what is checked is what is read and
/// written): a regular file, owned by this user and writable by no one else. One others may
/// read is made 0600.
pub fn check_file(path: &Path, file: &File) -> Result<(), PrivateError> {
    check_file_with(path, file, true)
}

/// [`check_file`] for a reader: refuses the same, and changes nothing.
pub fn check_file_unchanged(path: &Path, file: &File) -> Result<(), PrivateError> {
    check_file_with(path, file, false)
}

fn check_file_with(path: &Path, file: &File, tighten: bool) -> Result<(), PrivateError> {
    // Windows: the profile folders' inherited ACLs are the user's; only the kind is checked.
    #[cfg(not(unix))]
    let _ = tighten;
    let io = |source| PrivateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = file.metadata().map_err(io)?;
    let refuse = |kind| PrivateError::Unsafe {
        path: path.to_path_buf(),
        is_dir: false,
        kind,
    };
    if !meta.is_file() {
        return Err(refuse(Unsafe::WrongKind));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if let Some(mode) = judge(meta.uid(), meta.mode(), my_uid(), false).map_err(refuse)?
            && tighten
        {
            log::warn!(
                "{} could be read by other users (mode {:o}): made owner-only",
                path.display(),
                meta.mode() & 0o7777
            );
            file.set_permissions(fs::Permissions::from_mode(mode))
                .map_err(io)?;
        }
    }
    Ok(())
}

/// Open `path` without following a symbolic link in its last part (`O_NOFOLLOW`), so a link
/// planted where our file should be is refused instead of written through.
pub fn open_no_follow(options: &OpenOptions, path: &Path) -> Result<File, PrivateError> {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut options = options.clone();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        rustix::fs::OFlags::NOFOLLOW.bits() as i32,
    );
    #[cfg(not(unix))]
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(PrivateError::Unsafe {
            path: path.to_path_buf(),
            is_dir: false,
            kind: Unsafe::Symlink,
        });
    }
    options.open(path).map_err(|source| {
        #[cfg(unix)]
        if source.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            return PrivateError::Unsafe {
                path: path.to_path_buf(),
                is_dir: false,
                kind: Unsafe::Symlink,
            };
        }
        PrivateError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// The user this process runs as (its effective user id).
#[cfg(unix)]
fn my_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_dir_all(&dir).unwrap();
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("secret");
        fs::write(&file, "old").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        write(&file, b"new").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(fs::read_to_string(&file).unwrap(), "new");
        let log = dir.join("log");
        writeln!(open_append(&log).unwrap(), "x").unwrap();
        assert_eq!(mode(&log), 0o600);
        // Nothing left behind but the two files.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
    }

    #[test]
    fn another_users_or_a_shared_file_is_refused_and_a_readable_one_made_ours() {
        let me = 1000;
        assert_eq!(
            judge(0, 0o600, me, false),
            Err(Unsafe::OtherOwner { owner: 0 })
        );
        assert_eq!(
            judge(me, 0o100666, me, false),
            Err(Unsafe::WritableByOthers { mode: 0o666 })
        );
        assert_eq!(
            judge(me, 0o770, me, true),
            Err(Unsafe::WritableByOthers { mode: 0o770 })
        );
        assert_eq!(judge(me, 0o644, me, false), Ok(Some(0o600)));
        assert_eq!(judge(me, 0o755, me, true), Ok(Some(0o700)));
        assert_eq!(judge(me, 0o600, me, false), Ok(None));
        assert_eq!(judge(me, 0o700, me, true), Ok(None));
        let text = PrivateError::Unsafe {
            path: "/x/audit.log".into(),
            is_dir: false,
            kind: Unsafe::WritableByOthers { mode: 0o666 },
        }
        .to_string();
        assert!(text.contains("chmod 600 '/x/audit.log'"), "{text}");
    }

    #[test]
    fn folders_are_checked_and_links_are_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("app");
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700, "a readable folder is made owner-only");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let err = ensure_private_dir(&dir).unwrap_err();
        assert!(
            matches!(
                err,
                PrivateError::Unsafe {
                    kind: Unsafe::WritableByOthers { mode: 0o777 },
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(mode(&dir), 0o777, "a refused folder is left as it was");

        let target = tmp.path().join("elsewhere");
        fs::write(&target, "theirs").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        let err = open_no_follow(&options, &link).unwrap_err();
        assert!(
            matches!(
                err,
                PrivateError::Unsafe {
                    kind: Unsafe::Symlink,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&target).unwrap(), "theirs");
    }
}
