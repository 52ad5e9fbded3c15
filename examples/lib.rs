//! Examples for zt live in this package as `[[example]]` targets; see `Cargo.toml`.
