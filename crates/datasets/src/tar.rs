//! A minimal streaming reader of tar archives (POSIX ustar, with GNU long names and pax
//! `path` records), enough to extract the CIFAR-10 archive without a new dependency.

use std::io::{self, Read};

use crate::error::{Error, Result};

const BLOCK: usize = 512;

/// One regular file of a tar archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarEntry {
    /// Path inside the archive (`prefix/name` for ustar).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

impl TarEntry {
    /// The last path component.
    pub fn file_name(&self) -> &str {
        self.path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
    }
}

fn tar_err(file: &str, offset: u64, problem: &'static str) -> Error {
    Error::Tar {
        file: file.to_string(),
        offset,
        problem,
    }
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn parse_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        // GNU base-256: big-endian in the remaining bytes.
        let mut v: u64 = 0;
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(b as u64)?;
        }
        return Some(v);
    }
    let s: String = field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as char)
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn checksum_ok(h: &[u8; BLOCK]) -> bool {
    let Some(stored) = parse_size(&h[148..156]) else {
        return false;
    };
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u64
            }
        })
        .sum();
    sum == stored
}

/// Read exactly one block; `Ok(false)` on a clean end of stream before the block.
fn read_block<R: Read>(r: &mut R, buf: &mut [u8; BLOCK]) -> io::Result<bool> {
    let mut got = 0;
    while got < BLOCK {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn pax_path(data: &[u8]) -> Option<String> {
    // records: "<len> <key>=<value>\n"
    let text = String::from_utf8_lossy(data);
    text.lines().find_map(|line| {
        let (_, kv) = line.split_once(' ')?;
        kv.strip_prefix("path=").map(str::to_string)
    })
}

/// Walk the regular files of a tar stream, calling `f` with each entry and a reader of
/// exactly its content (`f` may read any part of it; the rest is skipped). `file` names the
/// archive in errors. Read errors of the underlying stream (e.g. a truncated gzip) are
/// returned by the `map_io` closure so the caller can attach context.
pub fn for_each_file<R: Read>(
    mut reader: R,
    file: &str,
    map_io: impl Fn(io::Error) -> Error,
    mut f: impl FnMut(&TarEntry, &mut dyn Read) -> Result<()>,
) -> Result<()> {
    let mut offset: u64 = 0;
    let mut header = [0u8; BLOCK];
    let mut long_name: Option<String> = None;
    loop {
        if !read_block(&mut reader, &mut header).map_err(&map_io)? {
            return Ok(()); // no end-of-archive blocks: accept
        }
        if header.iter().all(|&b| b == 0) {
            return Ok(()); // end-of-archive marker
        }
        if !checksum_ok(&header) {
            return Err(tar_err(file, offset, "header checksum mismatch"));
        }
        let size = parse_size(&header[124..136])
            .ok_or_else(|| tar_err(file, offset, "unreadable size field"))?;
        let kind = header[156];
        let mut path = cstr(&header[0..100]);
        if &header[257..262] == b"ustar" {
            let prefix = cstr(&header[345..500]);
            if !prefix.is_empty() {
                path = format!("{prefix}/{path}");
            }
        }
        offset += BLOCK as u64;
        let padded = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        let mut body = (&mut reader).take(size);
        match kind {
            b'L' | b'x' => {
                // GNU long name / pax extended header: applies to the next entry.
                if size > 1 << 20 {
                    return Err(tar_err(file, offset, "oversized extended header"));
                }
                let mut data = Vec::with_capacity(size as usize);
                body.read_to_end(&mut data).map_err(&map_io)?;
                if data.len() as u64 != size {
                    return Err(tar_err(file, offset, "truncated extended header"));
                }
                long_name = if kind == b'L' {
                    Some(cstr(&data))
                } else {
                    pax_path(&data).or(long_name)
                };
            }
            b'0' | 0 | b'7' => {
                let entry = TarEntry {
                    path: long_name.take().unwrap_or(path),
                    size,
                };
                f(&entry, &mut body)?;
                let rest = io::copy(&mut body, &mut io::sink()).map_err(&map_io)?;
                let _ = rest;
                if body.limit() != 0 {
                    return Err(tar_err(file, offset, "truncated file content"));
                }
            }
            _ => {
                long_name = None;
                io::copy(&mut body, &mut io::sink()).map_err(&map_io)?;
                if body.limit() != 0 {
                    return Err(tar_err(file, offset, "truncated entry"));
                }
            }
        }
        let pad = padded - size;
        let skipped = io::copy(&mut (&mut reader).take(pad), &mut io::sink()).map_err(&map_io)?;
        if skipped != pad {
            return Err(tar_err(file, offset, "truncated padding"));
        }
        offset += padded;
    }
}

/// Build a ustar header for a regular file (used by tests and by callers that want to
/// write small archives).
pub fn ustar_header(path: &str, size: u64) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    let name = path.as_bytes();
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    let s = format!("{size:011o}");
    h[124..135].copy_from_slice(s.as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| b as u64).sum();
    let c = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(c.as_bytes());
    h
}

/// Build a whole tar archive of regular files (for tests).
pub fn build_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, data) in files {
        out.extend_from_slice(&ustar_header(path, data.len() as u64));
        out.extend_from_slice(data);
        let pad = (BLOCK - data.len() % BLOCK) % BLOCK;
        out.extend(std::iter::repeat_n(0u8, pad));
    }
    out.extend([0u8; 2 * BLOCK]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        for_each_file(
            bytes,
            "t.tar",
            |source| Error::Gzip {
                file: "t.tar".into(),
                source,
            },
            |e, r| {
                let mut v = Vec::new();
                r.read_to_end(&mut v).unwrap();
                out.push((e.path.clone(), v));
                Ok(())
            },
        )?;
        Ok(out)
    }

    #[test]
    fn round_trip() {
        let a = vec![7u8; 1000];
        let tar = build_tar(&[("dir/a.bin", &a), ("dir/b.txt", b"hello")]);
        let files = collect(&tar).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].0, "dir/a.bin");
        assert_eq!(files[0].1, a);
        assert_eq!(files[1].1, b"hello");
    }

    #[test]
    fn gnu_long_name() {
        let long = "x".repeat(150);
        let mut tar = Vec::new();
        let mut h = ustar_header("././@LongLink", long.len() as u64 + 1);
        h[156] = b'L';
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| b as u64).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        tar.extend_from_slice(&h);
        let mut name = long.clone().into_bytes();
        name.push(0);
        name.resize(512, 0);
        tar.extend_from_slice(&name);
        tar.extend(build_tar(&[("short", b"abc")]));
        let files = collect(&tar).unwrap();
        assert_eq!(files[0].0, long);
        assert_eq!(files[0].1, b"abc");
    }

    #[test]
    fn corrupt_header_and_truncation() {
        let tar = build_tar(&[("a", &[1u8; 600])]);
        let mut bad = tar.clone();
        bad[10] ^= 1;
        assert!(matches!(
            collect(&bad),
            Err(Error::Tar {
                problem: "header checksum mismatch",
                ..
            })
        ));
        assert!(collect(&tar[..700]).is_err());
        assert!(collect(&tar[..100]).is_err());
    }

    #[test]
    fn file_name() {
        let e = TarEntry {
            path: "cifar-10-batches-bin/data_batch_1.bin".into(),
            size: 0,
        };
        assert_eq!(e.file_name(), "data_batch_1.bin");
    }
}
