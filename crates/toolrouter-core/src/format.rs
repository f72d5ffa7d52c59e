//! The model file: one safetensors file. Tensors hold the weights (f32), the n-gram hashes (u64)
//! and IDFs (f32); the metadata holds `format` (`"toolrouter"`), `format_version`, and JSON for
//! `config`, `tokenizer`, `tools` (with their schemas, in label order), `training`, and `replay`
//! (a few training examples per label, for continued training; optional).
//!
//! A model that started from a pretrained table (`config.pretrained`, see [`crate::pretrained`])
//! is stored compactly (format version 2): its tokenizer is the table's and is not written, and
//! of its token embeddings only the rows training changed are (`tok_emb.rows`, u32 ids, and
//! `tok_emb.delta`, their values); the rest are rebuilt from the table compiled into the
//! library. A demo-sized model is about a megabyte instead of nine. Other models keep
//! version 1, which older builds read.
//!
//! Saving writes a temporary file beside the target, fsyncs it and renames it over the target,
//! so a crash never leaves a half-written model. Loading checks everything before use: a file
//! that is not a toolrouter model, truncated or corrupted gives `MODEL_INVALID`; one from a newer
//! format gives `MODEL_VERSION`.

use crate::data::ToolSpec;
use crate::device::resolve_device;
use crate::error::{Error, Result};
use crate::features::NgramVocab;
use crate::model::Config;
use crate::router::{Encoder, Router, TrainingInfo};
use crate::tokenizer;
use candle_core::Tensor;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// The newest format version this build reads (and writes, for a compact pretrained model).
pub const FORMAT_VERSION: u32 = 2;
const MAGIC: &str = "toolrouter";

fn le_bytes_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The token embedding table a pretrained model starts from: the table's first `d` columns
/// (zeros beyond its width), `vocab x d`, as training sets it.
pub(crate) fn pretrained_rows(table: &crate::pretrained::StaticTable, d: usize) -> Vec<f32> {
    let n = table.rows.len() / table.dim;
    let w = d.min(table.dim);
    let mut out = vec![0f32; n * d];
    for (dst, src) in out.chunks_mut(d).zip(table.rows.chunks(table.dim)) {
        dst[..w].copy_from_slice(&src[..w]);
    }
    out
}

/// The pretrained table of a compact model, when the router's tokenizer is that table's.
fn compact_table(router: &Router) -> Result<Option<&'static crate::pretrained::StaticTable>> {
    if router.cfg.pretrained.is_empty() {
        return Ok(None);
    }
    let table = crate::pretrained::table(&router.cfg.pretrained)?;
    let same = tokenizer::to_json(&table.tokenizer_for(&router.cfg.normalizer)?)?
        == tokenizer::to_json(&router.encoder.tokenizer)?;
    Ok(same.then_some(table))
}

/// Serialises a router to bytes.
pub fn to_bytes(router: &Router) -> Result<Vec<u8>> {
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut names: Vec<&String> = router.weights.keys().collect();
    names.sort();
    let compact = compact_table(router)?;
    for name in names {
        if let (Some(table), "tok_emb.weight") = (compact, name.as_str()) {
            // Only the rows training moved away from the table.
            let t = &router.weights[name];
            let d = t.dim(1)?;
            let now: Vec<f32> = t.flatten_all()?.to_vec1()?;
            let base = pretrained_rows(table, d);
            let (mut ids, mut delta) = (Vec::new(), Vec::new());
            for (i, (a, b)) in now.chunks(d).zip(base.chunks(d)).enumerate() {
                if a != b {
                    ids.extend((i as u32).to_le_bytes());
                    delta.extend_from_slice(a);
                }
            }
            if delta.iter().any(|x| !x.is_finite()) {
                return Err(Error::TrainingDiverged {
                    reason: format!(
                        "weight `{name}` holds non-finite values; the router is not saved"
                    ),
                });
            }
            let n = delta.len() / d.max(1);
            owned.push(("tok_emb.rows".into(), Dtype::U32, vec![n], ids));
            owned.push((
                "tok_emb.delta".into(),
                Dtype::F32,
                vec![n, d],
                le_bytes_f32(&delta),
            ));
            continue;
        }
        let t = &router.weights[name];
        let data: Vec<f32> = t
            .flatten_all()?
            .to_dtype(candle_core::DType::F32)?
            .to_vec1()?;
        // Loading refuses such a file: better not to write it (over a good one).
        if data.iter().any(|x| !x.is_finite()) {
            return Err(Error::TrainingDiverged {
                reason: format!("weight `{name}` holds non-finite values; the router is not saved"),
            });
        }
        owned.push((
            name.clone(),
            Dtype::F32,
            t.dims().to_vec(),
            le_bytes_f32(&data),
        ));
    }
    let vocab = &router.encoder.vocab;
    if !vocab.is_empty() {
        let hashes: Vec<u8> = vocab.hashes.iter().flat_map(|h| h.to_le_bytes()).collect();
        owned.push(("bag.hashes".into(), Dtype::U64, vec![vocab.len()], hashes));
        owned.push((
            "bag.idf".into(),
            Dtype::F32,
            vec![vocab.len()],
            le_bytes_f32(&vocab.idf),
        ));
    }
    let json =
        |v: serde_json::Result<String>| v.map_err(|e| Error::Internal(format!("serialise: {e}")));
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), MAGIC.to_string());
    let version = if compact.is_some() { 2 } else { 1 };
    meta.insert("format_version".to_string(), version.to_string());
    meta.insert(
        "config".to_string(),
        json(serde_json::to_string(&router.cfg))?,
    );
    if compact.is_none() {
        meta.insert(
            "tokenizer".to_string(),
            tokenizer::to_json(&router.encoder.tokenizer)?,
        );
    }
    meta.insert(
        "tools".to_string(),
        json(serde_json::to_string(&router.tools))?,
    );
    meta.insert(
        "training".to_string(),
        json(serde_json::to_string(&router.info))?,
    );
    if !router.replay.is_empty() {
        meta.insert(
            "replay".to_string(),
            json(serde_json::to_string(&router.replay))?,
        );
    }
    let views = owned
        .iter()
        .map(|(n, dt, shape, bytes)| {
            TensorView::new(*dt, shape.clone(), bytes)
                .map(|v| (n.as_str(), v))
                .map_err(|e| Error::Internal(format!("serialise {n}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let bytes = safetensors::serialize(views, Some(meta))
        .map_err(|e| Error::Internal(format!("serialise: {e}")))?;
    // safetensors writes any header but reads none over 100 MB: refuse here, before a file
    // that cannot be loaded replaces a good one.
    let header = bytes.get(..8).map_or(0, |b| {
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    });
    if header >= MAX_HEADER {
        return Err(Error::invalid(
            "router",
            format!(
                "its metadata takes {} MB, over the {} MB a model file can hold (very long \
                 example texts kept for added tools?)",
                header / 1_000_000,
                MAX_HEADER / 1_000_000
            ),
        ));
    }
    Ok(bytes)
}

/// The largest header `safetensors` 0.6 reads (its `MAX_HEADER_SIZE`).
const MAX_HEADER: u64 = 100_000_000;

/// Writes the router to `path` atomically (temporary file, fsync, rename).
pub fn save(router: &Router, path: &Path) -> Result<()> {
    let bytes = to_bytes(router)?;
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    // Through a symbolic link, the file it points to is replaced, not the link.
    let resolved = std::fs::canonicalize(path).ok();
    let target = resolved.as_deref().unwrap_or(path);
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = target.file_name().ok_or_else(|| {
        Error::invalid("path", format!("`{}` is not a file path", path.display()))
    })?;
    // Unique per process, call and time: two saves to one path at once (threads or processes)
    // never share a temporary file, and `create_new` refuses one that exists.
    static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // At most 32 characters of the name, so a name near the file system's limit (255 bytes)
    // still has room for the suffix.
    let short: String = name.to_string_lossy().chars().take(32).collect();
    let tmp = dir.join(format!(".{short}.tmp-{}-{n}-{nanos}", std::process::id()));
    // A file replaced keeps its permissions (a private model stays private).
    let permissions = std::fs::metadata(target).ok().map(|m| m.permissions());
    let result = (|| {
        // Errors name the target: the temporary file is an implementation detail.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io(path, e))?;
        if let Some(p) = permissions {
            f.set_permissions(p).map_err(|e| Error::io(path, e))?;
        }
        f.write_all(bytes).map_err(|e| Error::io(path, e))?;
        f.sync_all().map_err(|e| Error::io(path, e))?;
        drop(f);
        std::fs::rename(&tmp, target).map_err(|e| Error::io(path, e))?;
        // Persist the rename itself (best effort: not every platform can open a folder).
        if let Ok(d) = std::fs::File::open(&dir) {
            d.sync_all().ok();
        }
        Ok(())
    })();
    if result.is_err() {
        std::fs::remove_file(&tmp).ok();
    }
    result
}

/// Loads a router from `path` onto the CPU.
pub fn load(path: &Path) -> Result<Router> {
    load_on(path, "cpu")
}

/// Loads a router from `path` onto `device` (`cpu`, `cuda`, `metal`, `auto`).
pub fn load_on(path: &Path, device: &str) -> Result<Router> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::ModelNotFound {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    from_bytes(&bytes, path, device)
}

/// Parses a model file's bytes; `path` names the file in errors.
pub fn from_bytes(bytes: &[u8], path: &Path, device: &str) -> Result<Router> {
    let invalid = |reason: String| Error::ModelInvalid {
        path: path.to_path_buf(),
        reason,
    };
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| invalid(format!("not a safetensors file: {e}")))?;
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| invalid(format!("header: {e}")))?;
    let meta = header
        .metadata()
        .as_ref()
        .ok_or_else(|| invalid("no toolrouter metadata".into()))?;
    let field = |k: &str| {
        meta.get(k)
            .ok_or_else(|| invalid(format!("metadata field `{k}` is missing")))
    };
    if field("format")? != MAGIC {
        return Err(invalid(
            "metadata field `format` is not \"toolrouter\"".into(),
        ));
    }
    let version: u32 = field("format_version")?
        .parse()
        .map_err(|_| invalid("metadata field `format_version` is not a number".into()))?;
    if version > FORMAT_VERSION {
        return Err(Error::ModelVersion {
            path: path.to_path_buf(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let cfg: Config =
        serde_json::from_str(field("config")?).map_err(|e| invalid(format!("config: {e}")))?;
    cfg.validate()
        .map_err(|r| invalid(format!("config: {r}")))?;
    // A compact pretrained model (version 2) takes its tokenizer and untouched token rows from
    // the table compiled into the library.
    let table = match (meta.get("tokenizer"), cfg.pretrained.as_str()) {
        (None, name) if !name.is_empty() && version >= 2 => Some(
            crate::pretrained::table(name)
                .map_err(|_| invalid(format!("config: unknown pretrained table `{name}`")))?,
        ),
        _ => None,
    };
    let tok = match table {
        Some(t) => t
            .tokenizer_for(&cfg.normalizer)
            .map_err(|e| invalid(format!("config: {e}")))?,
        None => tokenizer::from_json(field("tokenizer")?).map_err(invalid)?,
    };
    if tok.get_vocab_size(true) != cfg.vocab_size {
        return Err(invalid(
            "tokenizer vocabulary does not match the config".into(),
        ));
    }
    let tools: Vec<ToolSpec> =
        serde_json::from_str(field("tools")?).map_err(|e| invalid(format!("tools: {e}")))?;
    if tools.len() + usize::from(cfg.has_none) != cfg.n_labels {
        return Err(invalid(format!(
            "{} tools do not match {} labels",
            tools.len(),
            cfg.n_labels
        )));
    }
    if !cfg.tool_args.is_empty() && cfg.tool_args.len() != tools.len() {
        return Err(invalid("argument table does not match the tools".into()));
    }
    let info: TrainingInfo = meta
        .get("training")
        .map(|s| serde_json::from_str(s))
        .transpose()
        .map_err(|e| invalid(format!("training: {e}")))?
        .unwrap_or_default();
    let cal = &info.calibration;
    let in_range = cal.temperature.is_finite()
        && cal.temperature > 0.0
        && (0.0..=1.0).contains(&cal.threshold);
    if !in_range {
        return Err(invalid(format!(
            "training: calibration temperature {} or threshold {} out of range",
            cal.temperature, cal.threshold
        )));
    }
    // Optional: files written before continued training existed have none.
    let replay: Vec<crate::data::Example> = meta
        .get("replay")
        .map(|s| serde_json::from_str(s))
        .transpose()
        .map_err(|e| invalid(format!("replay: {e}")))?
        .unwrap_or_default();
    // The checks training makes, here: a bad replay example is the file's fault, not the
    // examples a later `fit` is given.
    crate::data::check_examples(&replay, &tools, "replay").map_err(|e| invalid(e.to_string()))?;

    let dev = resolve_device(device)?;
    let mut weights = HashMap::new();
    let mut hashes: Option<Vec<u64>> = None;
    let mut idf: Option<Vec<f32>> = None;
    let mut token_rows: Option<Vec<u32>> = None;
    for (name, view) in st.iter() {
        let data = view.data();
        match (name, view.dtype()) {
            ("tok_emb.rows", Dtype::U32) => {
                token_rows = Some(
                    data.chunks_exact(4)
                        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                )
            }
            ("bag.hashes", Dtype::U64) => {
                hashes = Some(
                    data.chunks_exact(8)
                        .map(|c| {
                            u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
                        })
                        .collect(),
                )
            }
            (_, Dtype::F32) => {
                let v: Vec<f32> = data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                if v.iter().any(|x| !x.is_finite()) {
                    return Err(invalid(format!("tensor `{name}` holds non-finite values")));
                }
                if name == "bag.idf" {
                    idf = Some(v);
                } else {
                    let t = Tensor::from_vec(v, view.shape(), &dev)
                        .map_err(|e| invalid(format!("{name}: {e}")))?;
                    weights.insert(name.to_string(), t);
                }
            }
            (_, dt) => {
                return Err(invalid(format!(
                    "tensor `{name}` has unexpected dtype {dt:?}"
                )))
            }
        }
    }
    if let Some(table) = table {
        let delta = weights
            .remove("tok_emb.delta")
            .ok_or_else(|| invalid("compact model without `tok_emb.delta`".into()))?;
        let rows =
            token_rows.ok_or_else(|| invalid("compact model without `tok_emb.rows`".into()))?;
        let d = cfg.d_model;
        if delta.dims() != [rows.len(), d] {
            return Err(invalid(
                "`tok_emb.delta` does not match `tok_emb.rows`".into(),
            ));
        }
        let mut full = pretrained_rows(table, d);
        let n = full.len() / d;
        let delta: Vec<f32> = delta
            .flatten_all()
            .and_then(|t| t.to_vec1())
            .map_err(|e| invalid(format!("tok_emb.delta: {e}")))?;
        for (&r, v) in rows.iter().zip(delta.chunks(d)) {
            if r as usize >= n {
                return Err(invalid(format!("`tok_emb.rows` names row {r} of {n}")));
            }
            full[r as usize * d..(r as usize + 1) * d].copy_from_slice(v);
        }
        let t =
            Tensor::from_vec(full, (n, d), &dev).map_err(|e| invalid(format!("tok_emb: {e}")))?;
        weights.insert("tok_emb.weight".to_string(), t);
    }
    let vocab = match (hashes, idf) {
        (Some(h), Some(i)) if h.len() == cfg.n_features && i.len() == cfg.n_features => {
            NgramVocab::from_parts(h, i)
        }
        (None, None) if cfg.n_features == 0 => NgramVocab::default(),
        _ => return Err(invalid("n-gram features do not match the config".into())),
    };
    let encoder = Encoder::new(tok, vocab, cfg.max_tokens, cfg.n_shapes > 0);
    let mut router =
        Router::from_parts(cfg, encoder, tools, weights, info, dev).map_err(|e| match e {
            Error::Candle(c) => invalid(format!("weights: {c}")),
            Error::Internal(r) => invalid(r),
            other => other,
        })?;
    router.replay = replay;
    Ok(router)
}

#[cfg(test)]
mod tests {
    use super::write_atomic;

    /// A fresh folder under the system's temporary one.
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("toolrouter-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).expect("scratch folder");
        dir
    }

    #[test]
    fn an_atomic_write_takes_any_valid_name() {
        let dir = scratch("long-name");
        // 250 bytes: valid on every common file system, too long with the whole name in the
        // temporary file's.
        let path = dir.join("m".repeat(250));
        write_atomic(&path, b"first").expect("write");
        write_atomic(&path, b"second").expect("overwrite");
        assert_eq!(std::fs::read(&path).expect("read"), b"second");
        assert_eq!(
            std::fs::read_dir(&dir).expect("list").count(),
            1,
            "no temporary file left"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[cfg(unix)]
    #[test]
    fn an_atomic_write_keeps_the_file_s_permissions_and_symbolic_links() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("perms");
        let path = dir.join("model.toolrouter");
        write_atomic(&path, b"v1").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        write_atomic(&path, b"v2").expect("overwrite");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let link = dir.join("current.toolrouter");
        std::os::unix::fs::symlink(&path, &link).expect("symlink");
        write_atomic(&link, b"v3").expect("write through the link");
        assert!(std::fs::symlink_metadata(&link)
            .expect("lstat")
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&path).expect("read"), b"v3");
        std::fs::remove_dir_all(&dir).ok();
    }
}
