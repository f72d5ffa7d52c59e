#![no_main]
//! `cargo +nightly fuzz run route`: see `toolrouter_core_fuzz::route` for what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| toolrouter_core_fuzz::route(data));
