//! Compiles the public contract in `proto/` to Rust without a system `protoc`:
//! protox parses the files, tonic-prost-build generates messages and services,
//! and the encoded descriptor set is kept for gRPC reflection.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let proto_files = std::fs::read_dir("proto/lienthong/v1")?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<PathBuf>, _>>()?;
    let mut proto_files: Vec<PathBuf> = proto_files
        .into_iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    proto_files.sort();

    // Source info keeps the .proto comments in the generated docs and in reflection.
    let descriptor_set = protox::Compiler::new(["proto"])?
        .include_source_info(true)
        .include_imports(true)
        .open_files(&proto_files)?
        .file_descriptor_set();

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("lienthong_descriptor.bin"),
        descriptor_set.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Undecodable requests are INVALID_ARGUMENT naming the field.
        .codec_path("crate::grpc::codec::LienthongCodec")
        .compile_fds(descriptor_set)?;
    Ok(())
}
