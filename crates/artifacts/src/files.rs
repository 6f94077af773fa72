//! Files a user names: inputs read once, whole, and only when they are regular files; outputs
//! written through one safe writer.
//!
//! Reading: [`read_input`] refuses anything but a regular file (a FIFO would block forever, a
//! device would never end) and a file larger than the memory limit, before it reads a byte. A
//! caller that keys a run by a file's hash decodes the bytes it hashed, never the path again, so
//! a file replaced in between cannot be cached under the old bytes' key.
//!
//! Writing: [`write_output`] puts a user's output file (an export, a scoring batch) in place
//! atomically. The target must be a regular file or not exist, must lie outside the artifact
//! store, and is written through a temporary created exclusively (`create_new`) beside it, with
//! a unique name, then renamed over it: a device node, a FIFO, a directory, a run of the store
//! or another writer's temporary is never replaced.

use crate::{Error, Result};
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The bytes of the input file `path`: a regular file (a link to one is followed) no larger than
/// the memory limit, read once. `field` names what the file is in a refusal (`edge list`).
pub fn read_input(path: &Path, field: &str) -> Result<bytes::Bytes> {
    let meta = fs::metadata(path).map_err(|e| Error::read(path, &e))?;
    if !meta.is_file() {
        return Err(Error::input(
            path,
            format!("the {field} must be a regular file, not {}", kind(&meta)),
        ));
    }
    // The file alone against the limit (no process base: a small file is always read; what
    // its decoding needs is each caller's estimate).
    let limit = crate::memory::limit()?;
    if meta.len() > limit.bytes {
        return Err(Error::input(
            path,
            format!(
                "the {field} has {}, more than the memory limit of {} ({})",
                crate::memory::human(meta.len()),
                crate::memory::human(limit.bytes),
                limit.source
            ),
        ));
    }
    let mut file = fs::File::open(path).map_err(|e| Error::read(path, &e))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)
        .map_err(|e| Error::read(path, &e))?;
    Ok(bytes.into())
}

/// What a file system entry is, in words, for a refusal.
fn kind(meta: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

/// `path` made absolute with the links of its existing part resolved; a tail that does not
/// exist yet is kept as written. Two names of one file or directory resolve to one path.
pub fn resolve(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut tail = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return tail.iter().rev().fold(real, |acc: PathBuf, c| acc.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                tail.push(name.to_os_string());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// Whether `path` is `dir` or lies inside it, both resolved ([`resolve`]).
pub fn within(path: &Path, dir: &Path) -> bool {
    resolve(path).starts_with(resolve(dir))
}

/// Why `out` may not be an output file, if it may not: it exists and is not a regular file, or
/// it lies inside the artifact store rooted at `store_root`.
pub fn refuse_output(out: &Path, store_root: &Path) -> Option<String> {
    if let Ok(meta) = fs::symlink_metadata(out) {
        let regular = fs::metadata(out).is_ok_and(|m| m.is_file());
        if !regular {
            return Some(format!(
                "exists and is {}; an output is written only over a regular file",
                if meta.file_type().is_symlink() {
                    "a link to something other than a regular file"
                } else {
                    kind(&meta)
                }
            ));
        }
    }
    if within(out, store_root) {
        return Some(format!(
            "is inside the artifact store {}; write outputs outside it",
            store_root.display()
        ));
    }
    None
}

/// Writes `bytes` to the user's output file `out` (refused as [`refuse_output`] says, before
/// anything is written): a unique temporary beside it, created exclusively and synced, then
/// renamed over it. A link to a regular file is replaced by the file, not followed.
pub fn write_output(out: &Path, store_root: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(why) = refuse_output(out, store_root) {
        return Err(Error::input(out, why));
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = out
        .file_name()
        .ok_or_else(|| Error::input(out, "names no file"))?
        .to_string_lossy();
    let tmp = parent.join(format!(".{name}.tmp-{}", crate::store::unique_suffix()));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(Error::output(&tmp, e));
    }
    fs::rename(&tmp, out).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::output(out, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.bin");
        fs::write(&file, b"abc").unwrap();
        assert_eq!(&read_input(&file, "edge list").unwrap()[..], b"abc");
        let err = read_input(dir.path(), "edge list").unwrap_err().to_string();
        assert!(err.contains("regular file, not a directory"), "{err}");
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        // Refused before it is opened: opening a FIFO with no writer blocks forever.
        let err = read_input(&fifo, "edge list").unwrap_err().to_string();
        assert!(err.contains("not a FIFO"), "{err}");
    }

    #[test]
    fn outputs_replace_only_regular_files_outside_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("artifacts");
        fs::create_dir_all(store.join("masks/0123456789abcdef")).unwrap();
        let out = dir.path().join("out.parquet");
        write_output(&out, &store, b"one").unwrap();
        write_output(&out, &store, b"two").unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"two");
        // A user's file named like a temporary is left alone.
        let user = dir.path().join("out.parquet.tmp");
        fs::write(&user, b"mine").unwrap();
        write_output(&out, &store, b"three").unwrap();
        assert_eq!(fs::read(&user).unwrap(), b"mine");
        // Nothing else is left beside the output.
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["artifacts", "out.parquet", "out.parquet.tmp"]);

        for bad in [
            store.join("masks/0123456789abcdef/masks.parquet"),
            store.join("x.parquet"),
            dir.path().to_path_buf(),
            PathBuf::from("/dev/null"),
        ] {
            let err = write_output(&bad, &store, b"x").unwrap_err();
            assert!(err.is_bad_input(), "{bad:?}: {err}");
        }
        assert_eq!(fs::metadata("/dev/null").unwrap().len(), 0);
        let fifo = dir.path().join("fifo");
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        let err = write_output(&fifo, &store, b"x").unwrap_err().to_string();
        assert!(err.contains("FIFO"), "{err}");
        use std::os::unix::fs::FileTypeExt;
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    }
}
