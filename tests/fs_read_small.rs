//! `fs::read` of files that fit one chunk: exact content, empty files,
//! files that report size 0 (/proc), sizes at the chunk boundary.

use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringbolt-fs-small-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn small_files_read_back_exactly() {
    ringbolt::run(async {
        for size in [
            0usize,
            1,
            4095,
            4096,
            65_537,
            (1 << 20) - 1,
            1 << 20,
            (1 << 20) + 1,
        ] {
            let path = tmp(&format!("f{size}"));
            let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            std::fs::write(&path, &data).unwrap();
            let got = ringbolt::fs::read(&path).await.unwrap();
            assert_eq!(got.len(), size);
            assert!(got == data, "content differs at size {size}");
            std::fs::remove_file(&path).unwrap();
        }
    });
}

#[test]
fn files_that_report_size_zero_are_read_to_the_end() {
    ringbolt::run(async {
        let status = ringbolt::fs::read("/proc/self/status").await.unwrap();
        let text = String::from_utf8(status).unwrap();
        assert!(text.starts_with("Name:"), "{text}");
        assert!(text.contains("VmRSS"), "{text}");
    });
}
