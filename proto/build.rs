//! Compiles every `.proto` under this crate without a system `protoc`: protox parses them
//! into a descriptor set, tonic-prost-build generates the Rust code from it, and the encoded
//! set is written to `OUT_DIR` for server reflection.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let mut files = Vec::new();
    collect_protos(&root.join("cspr"), &mut files)?;
    collect_protos(&root.join("google"), &mut files)?;
    files.sort();
    // The folders too, so a new .proto file is picked up.
    println!("cargo:rerun-if-changed=cspr");
    println!("cargo:rerun-if-changed=google");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let descriptor_set = protox::compile(&files, [&root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("cspr_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptor_set),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptor_set)?;
    Ok(())
}

fn collect_protos(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            files.push(path);
        }
    }
    Ok(())
}
