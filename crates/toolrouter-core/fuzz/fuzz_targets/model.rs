#![no_main]
//! `cargo +nightly fuzz run model`: see `toolrouter_core_fuzz::model` for what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| toolrouter_core_fuzz::model(data));
