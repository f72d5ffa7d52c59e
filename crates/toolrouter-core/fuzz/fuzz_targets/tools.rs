#![no_main]
//! `cargo +nightly fuzz run tools`: see `toolrouter_core_fuzz::tools` for what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| toolrouter_core_fuzz::tools(data));
