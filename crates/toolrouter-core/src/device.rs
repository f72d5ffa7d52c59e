//! Device selection: `"cpu"` (default), `"cuda"`, `"metal"`, `"auto"`. A GPU is only available
//! when the crate was built with the matching cargo feature.

use crate::error::{Error, Result};
use candle_core::Device;

/// Resolves a device name. `auto` picks a GPU when this build has one and it is present.
pub fn resolve_device(name: &str) -> Result<Device> {
    let unavailable = |reason: String| Error::DeviceUnavailable {
        requested: name.to_string(),
        reason,
    };
    match name {
        "" | "cpu" => Ok(Device::Cpu),
        "auto" => Ok(auto()),
        "cuda" => {
            if cfg!(feature = "cuda") {
                Device::new_cuda(0).map_err(|e| unavailable(format!("no usable CUDA GPU: {e}")))
            } else {
                Err(unavailable(
                    "this build has no CUDA support; build from source with `--features cuda` (README, GPU)".into(),
                ))
            }
        }
        "metal" => {
            if cfg!(feature = "metal") {
                Device::new_metal(0).map_err(|e| unavailable(format!("no usable Metal GPU: {e}")))
            } else {
                Err(unavailable(
                    "this build has no Metal support; build from source with `--features metal` (README, GPU)".into(),
                ))
            }
        }
        other => Err(Error::invalid(
            "device",
            format!("unknown device `{other}` (expected cpu, cuda, metal or auto)"),
        )),
    }
}

fn auto() -> Device {
    if cfg!(feature = "cuda") {
        if let Ok(d) = Device::new_cuda(0) {
            return d;
        }
    }
    if cfg!(feature = "metal") {
        if let Ok(d) = Device::new_metal(0) {
            return d;
        }
    }
    Device::Cpu
}

/// The name of a device, as reported to users.
pub fn device_name(d: &Device) -> &'static str {
    match d {
        Device::Cpu => "cpu",
        Device::Cuda(_) => "cuda",
        Device::Metal(_) => "metal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_auto_always_work_and_unknown_names_are_rejected() {
        assert!(resolve_device("cpu").unwrap().is_cpu());
        assert!(resolve_device("auto").is_ok());
        assert_eq!(
            resolve_device("tpu").unwrap_err().code(),
            "INVALID_ARGUMENT"
        );
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_which_build_to_use() {
        let e = resolve_device("cuda").unwrap_err();
        assert_eq!(e.code(), "DEVICE_UNAVAILABLE");
        assert!(e.to_string().contains("--features cuda"), "{e}");
    }
}
