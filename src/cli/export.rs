//! `taskmaster export systemd|kubernetes`: compile a config and write it for another engine.
//!
//! Everything the engine cannot express is a comment in the output and a `warning:` line on
//! stderr (after the config's own warnings); a summary line ends stderr. systemd units are
//! written into `--dir` (each replaced atomically; other files there are left alone) and
//! their paths listed on stdout; Kubernetes manifests go to stdout.

use crate::words::count;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};

use super::{exit, output};
use crate::export::{self, ExportEnv, Unmapped, kubernetes, systemd};
use crate::plan::Compiled;

#[derive(Debug, Subcommand)]
pub enum Target {
    /// One template unit per program (`tm-web@.service`, numprocs as instances) and a
    /// `tm-CONFIG.target` starting them, written into DIR.
    Systemd {
        /// The config file.
        config: PathBuf,
        /// Where to write the units (created when missing).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// A Deployment per program (a Job for `autorestart #false`), printed on stdout.
    Kubernetes {
        /// The config file.
        config: PathBuf,
        /// The container image every program runs in.
        #[arg(long, value_name = "IMAGE")]
        image: String,
        /// The namespace of every object [default: none, kubectl's current one].
        #[arg(long, value_name = "NS")]
        namespace: Option<String>,
        #[arg(long, value_enum, default_value_t = ManifestFormat::Yaml)]
        format: ManifestFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ManifestFormat {
    Yaml,
    Json,
}

pub(super) fn run(target: Target) -> u8 {
    match target {
        Target::Systemd { config, dir } => {
            let compiled = match output::load_config(&config) {
                Ok(compiled) => compiled,
                Err(status) => return status,
            };
            let name = export::config_name(&config);
            let exported = match systemd::export(
                &compiled.plan,
                &name,
                &file_name(&config),
                &ExportEnv::from_process(),
            ) {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit::FAILED;
                }
            };
            warn(&exported.unmapped);
            if let Err(e) = write_units(&dir, &exported.units) {
                eprintln!("error: cannot write into {}: {e}", dir.display());
                return exit::USAGE;
            }
            eprintln!(
                "exported {} to {}: {} unit files ({}){}",
                programs(&compiled),
                dir.display(),
                exported.units.len(),
                exported.target,
                warnings(&exported.unmapped)
            );
            exit::OK
        }
        Target::Kubernetes {
            config,
            image,
            namespace,
            format,
        } => {
            let compiled = match output::load_config(&config) {
                Ok(compiled) => compiled,
                Err(status) => return status,
            };
            let options = kubernetes::Options { image, namespace };
            let exported = kubernetes::export(
                &compiled.plan,
                &export::config_name(&config),
                &file_name(&config),
                &options,
            );
            warn(&exported.unmapped);
            let text = match format {
                ManifestFormat::Yaml => exported.to_yaml().map_err(|e| e.to_string()),
                ManifestFormat::Json => exported.to_json().map_err(|e| e.to_string()),
            };
            let text = match text {
                Ok(text) => text,
                Err(e) => {
                    eprintln!("error: cannot serialize the manifests: {e}");
                    return exit::FAILED;
                }
            };
            output::write_stdout(&text);
            eprintln!(
                "exported {}: {} manifests{}",
                programs(&compiled),
                exported.manifests.len(),
                warnings(&exported.unmapped)
            );
            exit::OK
        }
    }
}

fn file_name(config: &Path) -> String {
    config.file_name().map_or_else(
        || config.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn warn(unmapped: &[Unmapped]) {
    for line in export::warning_lines(unmapped) {
        eprintln!("warning: {line}");
    }
}

fn programs(compiled: &Compiled) -> String {
    format!(
        "{} ({})",
        count(compiled.plan.programs.len(), "program", "programs"),
        count(compiled.plan.process_count(), "process", "processes")
    )
}

fn warnings(unmapped: &[Unmapped]) -> String {
    match unmapped.len() {
        0 => String::new(),
        1 => ", 1 setting that cannot map (see the warning above)".to_owned(),
        n => format!(", {n} settings that cannot map (see the warnings above)"),
    }
}

/// Writes each unit through a temporary file renamed into place, so a reader (or a
/// `systemctl daemon-reload`) never sees half a file; lists the paths on stdout.
fn write_units(dir: &Path, units: &[systemd::UnitFile]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut listing = String::new();
    for unit in units {
        let path = dir.join(&unit.name);
        // A drop-in (`tm-web@1.service.d/…`) goes into its own directory.
        let parent = path.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent)?;
        let mut file = tempfile::NamedTempFile::new_in(parent)?;
        file.write_all(unit.text.as_bytes())?;
        let file = file.persist(&path).map_err(|e| e.error)?;
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        listing.push_str(&format!("{}\n", path.display()));
    }
    output::write_stdout(&listing);
    Ok(())
}
