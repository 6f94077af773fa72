//! The one error type of the shared contract, and how it maps to the user's exit code.
//!
//! Every message is a single line that names the file (or the config source) and the field,
//! so that the CLI can print it as it is: `Display` writes control characters escaped, since a
//! damaged file's bytes (a field name read from it, say) or a path can reach any message.

use std::path::{Path, PathBuf};

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the shared contract and in the stages built on it.
#[derive(Debug)]
pub enum Error {
    /// A value in a config file or on the command line is not acceptable.
    Config {
        /// Where the value came from: a file path or `command line`.
        source_name: String,
        /// The field (dotted path for nested config).
        field: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// An input file is missing, unreadable, or not what it should be.
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A Parquet table does not have the documented schema.
    Schema {
        /// The Parquet file.
        path: PathBuf,
        /// The column that is missing, extra or of the wrong type.
        column: String,
        /// What was expected and what was found.
        message: String,
    },
    /// Writing an output failed (disk full, permissions, ...).
    Output {
        /// The file or directory being written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The request is valid but the code to serve it does not exist yet.
    Unsupported(String),
}

impl Error {
    /// A bad config value.
    pub fn config(
        source_name: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Config {
            source_name: source_name.into(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// A bad input file.
    pub fn input(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }

    /// An input file that could not be read.
    pub fn read(path: impl AsRef<Path>, err: &std::io::Error) -> Self {
        let message = match err.kind() {
            std::io::ErrorKind::NotFound => "file not found".to_string(),
            _ => format!("cannot read: {err}"),
        };
        Error::input(path, message)
    }

    /// A failed write.
    pub fn output(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Output {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// True when the user can fix the problem by changing an input or a setting: the CLI
    /// exits with code 2 for these and 1 for the rest.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Error::Config { .. } | Error::Input { .. } | Error::Schema { .. }
        )
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            Error::Config {
                source_name,
                field,
                message,
            } => format!("{source_name}: `{field}`: {message}"),
            Error::Input { path, message } => format!("{}: {message}", path.display()),
            Error::Schema {
                path,
                column,
                message,
            } => format!("{}: column `{column}`: {message}", path.display()),
            Error::Output { path, source } => format!("{}: {source}", path.display()),
            Error::Unsupported(message) => message.clone(),
        };
        f.write_str(&one_line(text))
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Output { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// `message` with every control character (a newline, say) escaped as Rust writes it (`\n`).
fn one_line(message: String) -> String {
    if !message.chars().any(char::is_control) {
        return message;
    }
    message
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_is_one_line_whatever_the_file_held() {
        // A damaged schema can put a newline into a field name, and so into the message.
        let e = Error::input(
            "edges.parquet",
            "expected field named n_row\n got n_rows\t\u{7}",
        );
        let text = e.to_string();
        assert!(!text.contains('\n') && !text.contains('\t'), "{text}");
        assert!(text.contains("n_row\\n got n_rows\\t\\u{7}"), "{text}");
        // Every kind: a column name or a config key read from a damaged file.
        let schema = Error::Schema {
            path: "t.parquet".into(),
            column: "n_row\ns".into(),
            message: "missing".into(),
        };
        assert_eq!(schema.to_string(), "t.parquet: column `n_row\\ns`: missing");
        let config = Error::config("p.toml", "a\nb", "unknown field");
        assert_eq!(config.to_string(), "p.toml: `a\\nb`: unknown field");
        let unsupported = Error::Unsupported("line one\nline two".into());
        assert_eq!(unsupported.to_string(), "line one\\nline two");
        // A clean message is left as it is.
        assert_eq!(
            Error::input("a.parquet", "file not found").to_string(),
            "a.parquet: file not found"
        );
    }
}
