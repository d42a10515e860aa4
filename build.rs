//! Stamps the git commit into `siths-upgrade --version`, so a support call can tell exactly which
//! build a holder or a service centre runs. Builds without git (a source tarball) say "unknown".

use std::process::Command;

fn main() {
    let commit = std::env::var("SITHS_UPGRADE_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| {
            let out = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            let hash = String::from_utf8(out.stdout).ok()?.trim().to_string();
            (out.status.success() && !hash.is_empty()).then_some(hash)
        })
        .unwrap_or_else(|| "unknown".into());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .is_some_and(|o| !o.stdout.is_empty());
    let commit = if dirty && commit != "unknown" {
        format!("{commit}-modified")
    } else {
        commit
    };
    println!("cargo:rustc-env=SITHS_UPGRADE_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=SITHS_UPGRADE_COMMIT");
    // A new commit moves HEAD or the branch it points at.
    for path in [".git/HEAD", ".git/index", ".git/refs/heads"] {
        println!("cargo:rerun-if-changed={path}");
    }
}
