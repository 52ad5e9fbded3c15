//! Test support shared by zt-ssh's integration tests.
// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code, unreachable_pub)]

pub mod openssh;
