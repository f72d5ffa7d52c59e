//! The ToolController: a small pre-LayerNorm transformer over sub-word tokens, pooled into a
//! sentence vector, concatenated with a TF-IDF-weighted bag of n-gram embeddings, and a linear
//! head over the tools (plus a "none" outcome when the data has out-of-scope requests).
//!
//! ```text
//! ids (B,T) ─ tok_emb + pos_emb ─ [ LN ─ MHA ─ + ─ LN ─ GELU MLP ─ + ] x layers ─ LN ─ masked mean ─┐
//! n-gram ids + TF-IDF weights ─ Σ w·E[id] ──────────────────────────────────────────────────────── concat ─ head ─ logits (B, labels)
//! ```

mod config;
mod controller;
pub mod fused;

pub use config::Config;
pub use controller::{bag_vectors, gumbel_noise, seed_dropout, Batch, Output, ToolController};
