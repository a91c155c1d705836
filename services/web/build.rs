//! Fetches GOV.UK Frontend with npm into OUT_DIR (only when the lockfile changed: cargo
//! reruns this script for `frontend/package*.json` alone) and writes `assets.rs`, the table
//! of the files the server embeds and serves under `/assets/`. Nothing of govuk-frontend is
//! in the repository: the lockfile pins its version and integrity hash.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=frontend/package.json");
    println!("cargo:rerun-if-changed=frontend/package-lock.json");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let frontend = out.join("frontend");
    std::fs::create_dir_all(&frontend).expect("create OUT_DIR/frontend");
    let lock = std::fs::read(manifest.join("frontend/package-lock.json"))
        .expect("frontend/package-lock.json");
    let installed = frontend.join("node_modules/.package-lock.json");
    let copied_lock = frontend.join("package-lock.json");
    let fresh =
        std::fs::read(&copied_lock).is_ok_and(|copied| copied == lock) && installed.exists();
    if !fresh {
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(manifest.join("frontend").join(file), frontend.join(file))
                .unwrap_or_else(|error| panic!("copy frontend/{file}: {error}"));
        }
        let status = Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&frontend)
            .status()
            .unwrap_or_else(|error| {
                panic!(
                    "cspr-web needs npm to fetch GOV.UK Frontend, and running it failed ({error}): \
                     install Node.js 20 or later (with npm), e.g. `apt-get install nodejs npm`"
                )
            });
        assert!(
            status.success(),
            "`npm ci` in {} failed ({status}): install Node.js 20 or later with npm, and check the \
             network reaches the npm registry",
            frontend.display()
        );
    }
    let dist = frontend.join("node_modules/govuk-frontend/dist/govuk");
    let mut files = vec![
        (
            "govuk-frontend.min.css".to_string(),
            dist.join("govuk-frontend.min.css"),
        ),
        (
            "govuk-frontend.min.js".to_string(),
            dist.join("govuk-frontend.min.js"),
        ),
    ];
    collect(&dist.join("assets"), "", &mut files);
    files.sort();
    let mut table = String::from(
        "/// GOV.UK Frontend's files, by their path under `/assets/` (written by build.rs).\n\
         pub(crate) static GOVUK_FILES: &[(&str, &[u8])] = &[\n",
    );
    for (name, path) in &files {
        writeln!(
            table,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .expect("write");
    }
    table.push_str("];\n");
    std::fs::write(out.join("assets.rs"), table).expect("write assets.rs");
}

fn collect(directory: &Path, prefix: &str, files: &mut Vec<(String, PathBuf)>) {
    let entries = std::fs::read_dir(directory)
        .unwrap_or_else(|error| panic!("read {}: {error}", directory.display()));
    for entry in entries {
        let entry = entry.expect("directory entry");
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let path = entry.path();
        if path.is_dir() {
            collect(&path, &format!("{name}/"), files);
        } else {
            files.push((name, path));
        }
    }
}
