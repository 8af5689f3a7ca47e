//! `roster plugin new` and `roster plugin build`: a handler project written from templates
//! embedded in this binary (`host/cli/templates/`), and built by its language's recipe.
//!
//! A project is a directory with `roster-plugin.toml` (its name and language), the handler's
//! source, the WIT it is built against (`wit/`, this binary's own contract), the build files
//! of its language, a README with the commands that follow, and `test.sh` with
//! `test/events.jsonl` and `test/expected.txt` (the handler run offline, its log compared).
//! Every template does the same (logs each event, counts each group's members), so one test
//! file serves them all.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::exit;

/// The file naming a project's handler and language.
const PROJECT_FILE: &str = "roster-plugin.toml";

/// The languages a handler project can be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Rust on Roster's handler SDK (`handler-kit`), built with cargo for wasm32-wasip2.
    Rust,
    /// JavaScript, built with jco (npm): types generated from the WIT, then componentize.
    Javascript,
    /// Python, built with componentize-py (PyPI).
    Python,
}

impl Language {
    fn title(self) -> &'static str {
        match self {
            Self::Rust => "Rust",
            Self::Javascript => "JavaScript",
            Self::Python => "Python",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Self::Rust => "rust",
            Self::Javascript => "javascript",
            Self::Python => "python",
        }
    }

    fn recipe(self) -> &'static str {
        match self {
            Self::Rust => "cargo build --release --target wasm32-wasip2",
            Self::Javascript => "npm install (once), then npm run build (jco)",
            Self::Python => {
                "a .venv with componentize-py (once), then componentize-py componentize handler"
            }
        }
    }

    /// The files of this language's template: (path in the project, text).
    fn files(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Self::Rust => vec![
                ("Cargo.toml", include_str!("../templates/rust/Cargo.toml")),
                ("src/lib.rs", include_str!("../templates/rust/src/lib.rs")),
                (
                    "handler-kit/Cargo.toml",
                    include_str!("../templates/rust/handler-kit.toml"),
                ),
                (
                    "handler-kit/src/lib.rs",
                    include_str!("../../../plugins/rust/handler-kit/src/lib.rs"),
                ),
                (".gitignore", "/target\n/*.wasm\n"),
            ],
            Self::Javascript => vec![
                (
                    "package.json",
                    include_str!("../templates/javascript/package.json"),
                ),
                (
                    "jsconfig.json",
                    include_str!("../templates/javascript/jsconfig.json"),
                ),
                (
                    "handler.js",
                    include_str!("../templates/javascript/handler.js"),
                ),
                (".gitignore", "/node_modules\n/types\n/*.wasm\n"),
            ],
            Self::Python => vec![
                ("handler.py", include_str!("../templates/python/handler.py")),
                (
                    "requirements.txt",
                    include_str!("../templates/python/requirements.txt"),
                ),
                (".gitignore", "/.venv\n/*.wasm\n__pycache__/\n"),
            ],
        }
    }
}

/// Every project's files besides its language's.
const COMMON: [(&str, &str); 6] = [
    ("README.md", include_str!("../templates/common/README.md")),
    ("test.sh", include_str!("../templates/common/test.sh")),
    (
        "test/events.jsonl",
        include_str!("../templates/common/test/events.jsonl"),
    ),
    (
        "test/expected.txt",
        include_str!("../templates/common/test/expected.txt"),
    ),
    (
        "wit/coordination.wit",
        include_str!("../../../wit/coordination.wit"),
    ),
    ("wit/handler.wit", include_str!("../../../wit/handler.wit")),
];

/// `roster-plugin.toml`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Project {
    /// The handler's name: the component is `NAME.wasm`.
    name: String,
    /// Its language.
    language: Language,
}

/// Why a project cannot be made or built.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The name cannot name a project.
    #[error(
        "{0:?} cannot name a handler: use lowercase letters, digits and dashes, starting with a \
         letter"
    )]
    BadName(String),
    /// The directory to write is not empty.
    #[error("{} exists and is not empty", .0.display())]
    NotEmpty(PathBuf),
    /// The directory holds no project.
    #[error("{}: no {PROJECT_FILE} here (make a project with `roster plugin new NAME`)", .0.display())]
    NotAProject(PathBuf),
    /// `roster-plugin.toml` is not what this binary writes.
    #[error("{}: {message}", .file.display())]
    BadProject {
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A tool the recipe needs is not installed.
    #[error("the {language} recipe needs {tool}, which is not installed: {install}")]
    ToolMissing {
        /// The project's language.
        language: &'static str,
        /// The missing tool.
        tool: &'static str,
        /// How to install it.
        install: &'static str,
    },
    /// A step of the recipe failed.
    #[error("{step} failed ({status})")]
    StepFailed {
        /// The step, as a command line.
        step: String,
        /// How it ended.
        status: String,
    },
    /// Reading or writing files failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl ProjectError {
    /// The exit code for it.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::BadName(_)
            | Self::NotEmpty(_)
            | Self::NotAProject(_)
            | Self::BadProject { .. } => exit::USAGE,
            Self::ToolMissing { .. } => exit::TOOLCHAIN_MISSING,
            Self::StepFailed { .. } | Self::Io(_) => exit::FAILURE,
        }
    }
}

fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.len() <= 64
}

/// Write a new handler project `name` in `language` to `dir` (`./NAME` by default); returns
/// the directory.
///
/// # Errors
/// A bad name, a directory that is not empty, or files that cannot be written.
pub fn new(name: &str, language: Language, dir: Option<&Path>) -> Result<PathBuf, ProjectError> {
    if !valid_name(name) {
        return Err(ProjectError::BadName(name.to_owned()));
    }
    let dir = dir.map_or_else(|| PathBuf::from(name), Path::to_owned);
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        return Err(ProjectError::NotEmpty(dir));
    }
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{crate}}", name)
            .replace("{{language}}", language.title())
            .replace("{{lang}}", language.flag())
            .replace("{{recipe}}", language.recipe())
    };
    let project = toml::to_string(&Project {
        name: name.to_owned(),
        language,
    })
    .map_err(|e| ProjectError::BadProject {
        file: dir.join(PROJECT_FILE),
        message: e.to_string(),
    })?;
    let mut files: Vec<(&str, String)> = vec![(PROJECT_FILE, project)];
    for (path, text) in language.files().into_iter().chain(COMMON) {
        let text = match path {
            // The SDK's bindings come from the project's own `wit/`.
            "handler-kit/src/lib.rs" => text.replace("\"../../../wit\"", "\"../wit\""),
            // The contract as it is.
            _ if path.starts_with("wit/") => text.to_owned(),
            _ => fill(text),
        };
        files.push((path, text));
    }
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("test.sh"), std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(dir)
}

/// Build the project in `dir` by its language's recipe; returns the component's path.
///
/// # Errors
/// No project there, a tool the recipe needs is missing (named, with how to install it), or a
/// step failed (its output is the tool's own, on this process's stderr).
pub fn build(dir: &Path) -> Result<PathBuf, ProjectError> {
    // Steps run in the project: what they are given is absolute.
    let dir = &std::path::absolute(dir)?;
    let file = dir.join(PROJECT_FILE);
    let text = std::fs::read_to_string(&file).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ProjectError::NotAProject(dir.to_owned()),
        _ => ProjectError::Io(e),
    })?;
    let project: Project = toml::from_str(&text).map_err(|e| ProjectError::BadProject {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let component = dir.join(format!("{}.wasm", project.name));
    match project.language {
        Language::Rust => build_rust(dir, &project.name, &component)?,
        Language::Javascript => build_javascript(dir)?,
        Language::Python => build_python(dir, &component)?,
    }
    if !component.exists() {
        return Err(ProjectError::StepFailed {
            step: project.language.recipe().to_owned(),
            status: format!("it wrote no {}", component.display()),
        });
    }
    Ok(component)
}

/// Run one step of a recipe in `dir`, its output passed through to stderr.
fn step(dir: &Path, command: &mut Command) -> Result<(), ProjectError> {
    let said = format!("{command:?}").replace('"', "");
    eprintln!("roster: {said}");
    let status = command
        .current_dir(dir)
        .stdout(std::process::Stdio::inherit())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(ProjectError::StepFailed {
            step: said,
            status: status.to_string(),
        })
    }
}

/// Whether `tool` runs (`tool --version`).
fn runs(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn build_rust(dir: &Path, name: &str, component: &Path) -> Result<(), ProjectError> {
    const TARGET: &str = "wasm32-wasip2";
    if !runs("cargo") {
        return Err(ProjectError::ToolMissing {
            language: "Rust",
            tool: "cargo",
            install: "install Rust with rustup (https://rustup.rs), then `rustup target add wasm32-wasip2`",
        });
    }
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == TARGET)
        });
    if installed.is_ok_and(|installed| !installed) {
        return Err(ProjectError::ToolMissing {
            language: "Rust",
            tool: "the wasm32-wasip2 target",
            install: "`rustup target add wasm32-wasip2`",
        });
    }
    // CARGO_TARGET_DIR where it is set (shared with other builds), else the project's own.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| Ok(dir.join("target")), std::path::absolute)?;
    step(
        dir,
        Command::new("cargo")
            .args(["build", "--release", "--target", TARGET, "--target-dir"])
            .arg(&target_dir),
    )?;
    let built = target_dir
        .join(TARGET)
        .join("release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::copy(&built, component)?;
    Ok(())
}

fn build_javascript(dir: &Path) -> Result<(), ProjectError> {
    if !runs("node") || !runs("npm") {
        return Err(ProjectError::ToolMissing {
            language: "JavaScript",
            tool: "Node.js 20 or later with npm",
            install: "install Node.js (Debian: `apt install nodejs npm`)",
        });
    }
    if !dir.join("node_modules/@bytecodealliance/jco").exists() {
        step(
            dir,
            Command::new("npm").args(["install", "--no-audit", "--no-fund", "--loglevel=error"]),
        )?;
    }
    step(dir, Command::new("npm").args(["run", "--silent", "build"]))
}

fn build_python(dir: &Path, component: &Path) -> Result<(), ProjectError> {
    let tool = dir.join(".venv/bin/componentize-py");
    if !tool.exists() {
        if !runs("python3") {
            return Err(ProjectError::ToolMissing {
                language: "Python",
                tool: "python3 with venv",
                install: "install Python 3.10 or later (Debian: `apt install python3-venv`)",
            });
        }
        step(dir, Command::new("python3").args(["-m", "venv", ".venv"]))?;
        step(
            dir,
            Command::new(dir.join(".venv/bin/pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                "requirements.txt",
            ]),
        )?;
    }
    step(
        dir,
        Command::new(tool)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .args([
                "-d",
                "wit",
                "-w",
                "roster:coordination/handler",
                "componentize",
                "--stub-wasi",
                "handler",
                "-o",
            ])
            .arg(component),
    )
}
