//! Test support shared by zt-kube's integration tests.
// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code, unreachable_pub)]

pub mod apiserver;
pub mod kubectl;
