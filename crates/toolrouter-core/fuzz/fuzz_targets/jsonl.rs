#![no_main]
//! `cargo +nightly fuzz run jsonl`: see `toolrouter_core_fuzz::jsonl` for what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| toolrouter_core_fuzz::jsonl(data));
