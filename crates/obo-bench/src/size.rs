//! Figure 4a: the deployed binaries' sizes (`make build` writes `target/lambda/<name>/bootstrap`),
//! each checked to be an arm64 ELF without a symbol table, beside the hello-world function built
//! the same way; and the release profile those builds use.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::report::{Figure, Goal, Unit};

/// Bytes per MB (decimal, as the goals are stated).
const MB: f64 = 1e6;

/// One deployed binary.
#[derive(Debug, Clone, PartialEq)]
pub struct Binary {
    /// Its package name.
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// What an ELF header says about a binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfFacts {
    /// Built for aarch64 (`e_machine` 183).
    pub aarch64: bool,
    /// Has a `.symtab` section (not stripped).
    pub symbols: bool,
}

/// Reads the ELF64 little-endian header and section headers: the machine, and whether any
/// section is a symbol table (`SHT_SYMTAB` = 2). Enough to confirm `strip` and the target.
pub fn elf_facts(bytes: &[u8]) -> Result<ElfFacts, String> {
    let u16_at = |at: usize| bytes.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |at: usize| bytes.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
    let u64_at = |at: usize| bytes.get(at..at + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let short = || "truncated ELF header".to_owned();
    let machine = u16_at(18).ok_or_else(short)?;
    let table = u64_at(0x28).ok_or_else(short)? as usize;
    let entry_size = u16_at(0x3a).ok_or_else(short)? as usize;
    let count = u16_at(0x3c).ok_or_else(short)? as usize;
    let mut symbols = false;
    for i in 0..count {
        let kind = u32_at(table + i * entry_size + 4).ok_or("truncated section header")?;
        symbols |= kind == 2;
    }
    Ok(ElfFacts { aarch64: machine == 183, symbols })
}

/// The arm64 `bootstrap` of `name`, checked.
pub fn binary(lambda_dir: &Path, name: &str) -> Result<Binary, String> {
    let path = lambda_dir.join(name).join("bootstrap");
    let bytes =
        std::fs::read(&path).map_err(|e| format!("{}: {e} (`make bench` builds it)", path.display()))?;
    let facts = elf_facts(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if !facts.aarch64 {
        return Err(format!("{} is not an arm64 binary", path.display()));
    }
    if facts.symbols {
        return Err(format!("{} is not stripped (has .symtab)", path.display()));
    }
    Ok(Binary { name: name.into(), bytes: bytes.len() as u64 })
}

/// `[profile.release]` as the workspace sets it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Profile {
    /// `lto` (`true`, `"fat"`, `"thin"`, `false`, `"off"`).
    pub lto: Option<toml::Value>,
    /// `codegen-units`.
    pub codegen_units: Option<i64>,
    /// `strip` (`true`, `"symbols"`, `"debuginfo"`, …).
    pub strip: Option<toml::Value>,
    /// `panic`.
    pub panic: Option<String>,
    /// `opt-level`.
    pub opt_level: Option<toml::Value>,
}

impl Profile {
    /// Reads it from the workspace manifest.
    pub fn read(workspace: &Path) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Manifest {
            #[serde(default)]
            profile: Profiles,
        }
        #[derive(Deserialize, Default)]
        struct Profiles {
            #[serde(default)]
            release: Profile,
        }
        let path = workspace.join("Cargo.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let manifest: Manifest = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(manifest.profile.release)
    }

    /// What is not as a small, fast-starting Lambda binary wants it (empty when all is well):
    /// fat LTO, one codegen unit, symbols stripped, `panic = "abort"`.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let is = |v: &Option<toml::Value>, ok: &[&str]| match v {
            Some(toml::Value::Boolean(b)) => *b && ok.contains(&"true"),
            Some(toml::Value::String(s)) => ok.contains(&s.as_str()),
            _ => false,
        };
        if !is(&self.lto, &["true", "fat"]) {
            out.push("lto is not true/\"fat\"".into());
        }
        if self.codegen_units != Some(1) {
            out.push("codegen-units is not 1".into());
        }
        if !is(&self.strip, &["true", "symbols"]) {
            out.push("strip is not true/\"symbols\"".into());
        }
        if self.panic.as_deref() != Some("abort") {
            out.push("panic is not \"abort\"".into());
        }
        out
    }

    /// `lto=true, codegen-units=1, strip=true, panic=abort, opt-level=3`.
    pub fn summary(&self) -> String {
        let show = |v: &Option<toml::Value>| match v {
            Some(toml::Value::Boolean(b)) => b.to_string(),
            Some(toml::Value::Integer(n)) => n.to_string(),
            Some(toml::Value::String(s)) => s.clone(),
            Some(_) => "?".into(),
            None => "unset".into(),
        };
        format!(
            "lto={}, codegen-units={}, strip={}, panic={}, opt-level={}",
            show(&self.lto),
            self.codegen_units.map_or("unset".into(), |n| n.to_string()),
            show(&self.strip),
            self.panic.as_deref().unwrap_or("unset"),
            show(&self.opt_level),
        )
    }
}

/// The sizes of pre-token, interceptor, pre-token-lookup and hello-lambda (arm64).
pub struct Sizes {
    /// pre-token, interceptor, pre-token-lookup.
    pub binaries: Vec<Binary>,
    /// hello-lambda, the floor.
    pub hello: Binary,
    /// The release profile.
    pub profile: Profile,
}

/// Reads them.
pub fn measure(workspace: &Path, lambda_dir: &Path) -> Result<Sizes, String> {
    let binaries = ["pre-token", "interceptor", "pre-token-lookup"]
        .into_iter()
        .map(|name| binary(lambda_dir, name))
        .collect::<Result<_, _>>()?;
    Ok(Sizes { binaries, hello: binary(lambda_dir, "hello-lambda")?, profile: Profile::read(workspace)? })
}

/// The rows: pre-token ≤ 6 MB, interceptor ≤ 10 MB, pre-token-lookup reported; the profile.
pub fn figures(s: &Sizes) -> Vec<Figure> {
    let mut rows: Vec<Figure> = s
        .binaries
        .iter()
        .map(|b| {
            let (name, goal) = match b.name.as_str() {
                "pre-token" => ("Size: pre-token (arm64)", Goal::AtMost { value: 6.0 }),
                "interceptor" => ("Size: interceptor (arm64)", Goal::AtMost { value: 10.0 }),
                _ => ("Size: pre-token-lookup (arm64)", Goal::None),
            };
            Figure::new(
                &format!("size_{}_mb", b.name.replace('-', "_")),
                name,
                b.bytes as f64 / MB,
                Unit::Megabytes,
            )
            .floor("hello-world Lambda", s.hello.bytes as f64 / MB)
            .goal(goal)
        })
        .collect();
    if let Some(first) = rows.first_mut() {
        *first = first.clone().note(
            "stripped aarch64 musl `bootstrap` from `make build` (what `sam build` ships); MB = 10^6 bytes",
        );
    }
    let problems = s.profile.problems();
    rows.push(
        Figure::new("release_profile_problems", "Release profile", problems.len() as f64, Unit::Count)
            .goal(Goal::Zero)
            .note(if problems.is_empty() { s.profile.summary() } else { problems.join("; ") }),
    );
    rows
}

/// The raw sizes.
pub fn details(s: &Sizes) -> Value {
    let mut sizes: serde_json::Map<String, Value> =
        s.binaries.iter().map(|b| (b.name.clone(), json!(b.bytes))).collect();
    sizes.insert("hello-lambda".into(), json!(s.hello.bytes));
    json!({"bytes": sizes, "release_profile": s.profile.summary(), "profile_problems": s.profile.problems()})
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header with `sections` section types.
    fn elf(machine: u16, sections: &[u32]) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[0x28..0x30].copy_from_slice(&64u64.to_le_bytes());
        b[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        b[0x3c..0x3e].copy_from_slice(&(sections.len() as u16).to_le_bytes());
        for kind in sections {
            let mut header = vec![0u8; 64];
            header[4..8].copy_from_slice(&kind.to_le_bytes());
            b.extend(header);
        }
        b
    }

    #[test]
    fn elf_headers_tell_the_machine_and_the_symbols() {
        assert_eq!(elf_facts(&elf(183, &[0, 1, 3])).unwrap(), ElfFacts { aarch64: true, symbols: false });
        assert_eq!(elf_facts(&elf(62, &[0, 2])).unwrap(), ElfFacts { aarch64: false, symbols: true });
        assert!(elf_facts(b"#!/bin/sh").is_err());
        let mut cut = elf(183, &[0, 1]);
        cut.truncate(100);
        assert!(elf_facts(&cut).is_err());
        // This test binary is an ELF too.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(elf_facts(&me).is_ok());
    }

    #[test]
    fn the_release_profile_is_checked() {
        let dir = std::env::temp_dir().join(format!("obo-bench-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("Cargo.toml"), "[profile.release]\nlto = \"thin\"\ncodegen-units = 16\n")
            .unwrap();
        let weak = Profile::read(&dir).unwrap();
        assert_eq!(weak.problems().len(), 4, "{:?}", weak.problems());
        std::fs::remove_dir_all(&dir).unwrap();
        let ours = Profile::read(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))).unwrap();
        assert!(ours.problems().is_empty(), "{:?}", ours.problems());
        assert!(ours.summary().starts_with("lto=true, codegen-units=1, strip=true, panic=abort"));
    }
}
