//! A check that a shared library file is whole before it is `dlopen`ed.
//!
//! A library cut short (a partial download, a full disk) still opens: the
//! loader maps its segments past the end of the file, and its first touch of
//! those pages kills the process with SIGBUS. Reading the ELF headers first
//! turns that into an error. Only 64-bit little-endian ELF files are checked;
//! anything else is left to the loader, which reports it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The size of a 64-bit ELF file header.
const EHDR_LEN: usize = 64;
/// The size of one 64-bit program header.
const PHDR_LEN: usize = 56;

fn u16_at(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// `Err` with a reason when the file at `path` is an ELF64 little-endian file
/// shorter than its own headers say (header tables or segment contents past
/// its end). `Ok` for whole files and for files this check does not read.
pub(crate) fn check_whole(path: &Path) -> Result<(), String> {
    let mut file = File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut ehdr = [0u8; EHDR_LEN];
    if len < EHDR_LEN as u64 || file.read_exact(&mut ehdr).is_err() {
        return Ok(());
    }
    if &ehdr[..4] != b"\x7fELF" || ehdr[4] != 2 || ehdr[5] != 1 {
        return Ok(());
    }
    let (phoff, shoff) = (u64_at(&ehdr, 0x20), u64_at(&ehdr, 0x28));
    let (phentsize, phnum) = (u16_at(&ehdr, 0x36), u16_at(&ehdr, 0x38));
    let (shentsize, shnum) = (u16_at(&ehdr, 0x3a), u16_at(&ehdr, 0x3c));
    let tables = phoff
        .saturating_add(phentsize * phnum)
        .max(shoff.saturating_add(shentsize * shnum));
    let truncated = |needed: u64| {
        Err(format!(
            "the file is truncated ({len} bytes, its ELF headers describe {needed}); \
             it is a partial copy"
        ))
    };
    if tables > len {
        return truncated(tables);
    }
    if phentsize != PHDR_LEN as u64 {
        return Ok(());
    }
    file.seek(SeekFrom::Start(phoff))
        .map_err(|e| e.to_string())?;
    let mut phdrs = vec![0u8; PHDR_LEN * phnum as usize];
    file.read_exact(&mut phdrs).map_err(|e| e.to_string())?;
    let contents = phdrs
        .chunks_exact(PHDR_LEN)
        .map(|p| u64_at(p, 8).saturating_add(u64_at(p, 32)))
        .max()
        .unwrap_or(0);
    if contents > len {
        return truncated(contents);
    }
    Ok(())
}

#[cfg(all(
    test,
    target_os = "linux",
    target_pointer_width = "64",
    target_endian = "little"
))]
mod tests {
    use super::*;

    #[test]
    fn a_whole_binary_passes_and_any_cut_copy_fails() {
        let exe = std::env::current_exe().expect("test binary");
        check_whole(&exe).expect("the running binary is whole");
        let bytes = std::fs::read(&exe).expect("read");
        let dir = tempfile::tempdir().expect("tempdir");
        let cut = dir.path().join("cut.so");
        for keep in [EHDR_LEN + 1, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(&cut, &bytes[..keep]).expect("write");
            let err = check_whole(&cut).expect_err("truncated");
            assert!(err.contains("truncated"), "{keep}: {err}");
        }
        std::fs::write(&cut, b"not ELF at all").expect("write");
        assert!(check_whole(&cut).is_ok(), "left to the loader");
    }
}
