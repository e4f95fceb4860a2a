//! The one integration-test binary: each module drives the real `kverify` binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cache;
mod cli;
mod fetch;
mod hostile_output;
mod lock;
mod manifests;
mod node;
mod pgp;
mod rekor;
mod rekor_k8s;
mod releases;
mod signatures;
mod signed_fetch;
mod support;
mod transport;
mod trust;
mod verify;
