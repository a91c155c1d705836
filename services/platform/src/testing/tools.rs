//! The test tools that come from a package manager, installed by the first test that needs
//! them, one process at a time (an exclusive lock on a file), so the README's test command
//! (`cargo test --workspace`) needs nothing installed by hand on a fresh machine of this kind.

use std::path::Path;

/// `npm ci` in `dir` unless `node_modules` was installed from this very lock file; one
/// process at a time (an exclusive lock on a file next to it). The test tools that come from
/// npm (this provider, the browser suite's axe-core) are installed this way.
pub fn npm_ci(dir: &Path) {
    let lock = std::fs::File::create(dir.join(".npm-install.lock")).expect("npm lock file");
    lock.lock().expect("lock for npm ci");
    let marker = dir.join("node_modules").join(".cspr-installed");
    let wanted = std::fs::read(dir.join("package-lock.json")).expect("package-lock.json");
    if std::fs::read(&marker).is_ok_and(|installed| installed == wanted) {
        return;
    }
    let npm = std::env::var("CSPR_TEST_NPM").unwrap_or_else(|_| "npm".to_string());
    let output = std::process::Command::new(&npm)
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| panic!("{npm} ci: {error} (install Node.js and npm)"));
    if !output.status.success() {
        panic!(
            "{npm} ci in {} failed: {}{}",
            dir.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::write(&marker, wanted).expect("install marker");
}

/// Debian's `packages`, installed with apt-get unless every one of `binaries` is already
/// there (e.g. `chromium` and `chromium-driver` for the browser suites, which nothing that
/// downloads its own browser may replace). As root, or through sudo. Panics, saying what
/// failed, when they cannot be installed: no test skips silently.
pub fn debian_packages(packages: &[&str], binaries: &[&str]) {
    let installed = || binaries.iter().all(|binary| Path::new(binary).exists());
    if installed() {
        return;
    }
    let lock = std::fs::File::create(std::env::temp_dir().join("cspr-apt-install.lock"))
        .expect("apt lock file");
    lock.lock().expect("lock for apt-get");
    // Another test process may have installed them while this one waited.
    if installed() {
        return;
    }
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.starts_with(b"0"));
    let apt = |args: &[&str]| {
        let mut command = if root {
            std::process::Command::new("apt-get")
        } else {
            let mut sudo = std::process::Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        let output = command
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap_or_else(|error| panic!("apt-get {args:?}: {error}"));
        assert!(
            output.status.success(),
            "apt-get {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    eprintln!("installing {} (Debian) for the tests", packages.join(", "));
    apt(&["update", "-qq"]);
    let mut install = vec!["install", "-y", "-qq"];
    install.extend_from_slice(packages);
    apt(&install);
    assert!(
        installed(),
        "{packages:?} installed but {binaries:?} are not all there"
    );
}
