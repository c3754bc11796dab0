//! lienthong: the gRPC reporting backbone between Hanoi's communes and wards
//! and the city. This crate is the transport and composition root: the
//! generated contract ([`proto`]), the gRPC services over the domain use cases
//! ([`grpc`]), server start-up and shutdown ([`server`]), configuration
//! ([`config`]), demo data ([`demo`]) and the report history generator
//! behind it and the analytics bench ([`generate`]). The domain and storage live in
//! `crates/domain` and `crates/store`, which never see tonic or prost.

pub mod config;
pub mod demo;
pub mod generate;
pub mod grpc;
pub mod server;

/// Code generated from `proto/lienthong/v1`.
#[allow(
    missing_debug_implementations,
    unused_qualifications,
    clippy::all,
    clippy::pedantic,
    reason = "generated code"
)]
pub mod proto {
    tonic::include_proto!("lienthong.v1");

    /// The encoded descriptors of the contract, served by gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/lienthong_descriptor.bin"));
}
