//! The one integration-test binary: each module drives the real `kverify` binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod manifests;
mod node;
mod support;
mod verify;
