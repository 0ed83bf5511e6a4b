//! `.npy` embeddings: any byte sequence is read or refused with an error, never a panic, and a
//! file that is read has exactly the rows and columns its header promised.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(data).unwrap();
    let path = file.path();
    let shape = falsematch::import::npy::npy_shape(path);
    match falsematch::import::npy::read_npy_hashed(path) {
        Ok((rows, _)) => {
            let (r, c) = shape.expect("a file that reads has a shape");
            assert_eq!(rows.dim(), (r, c));
        }
        Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
    }
});
