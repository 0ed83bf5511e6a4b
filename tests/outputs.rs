//! What every writing command leaves on disk: one rule for run, export, sweep, search,
//! calibrate and infer (never overwrite an input or a file falsematch did not write, never a
//! partial output, even on a full disk), and sweep and export folders that `verify` re-makes.

use assert_cmd::Command;
use std::path::Path;

fn falsematch() -> Command {
    Command::cargo_bin("falsematch").unwrap()
}

fn small() -> String {
    format!("{}/tests/data/small.toml", env!("CARGO_MANIFEST_DIR"))
}

fn refused(o: &std::process::Output, fragment: &str) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(fragment), "`{fragment}` not in {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn export_and_sweep_folders_are_verified_and_never_replace_foreign_files() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    let export = |out: &Path| {
        falsematch()
            .args(["export", &small(), "--seed", "9", "--out"])
            .arg(out)
            .output()
            .unwrap()
    };
    // A folder of the user's: refused, untouched.
    std::fs::create_dir(p("mydata")).unwrap();
    std::fs::write(p("mydata/embeddings.npy"), b"mine").unwrap();
    refused(&export(&p("mydata")), "is not a falsematch output folder");
    assert_eq!(std::fs::read(p("mydata/embeddings.npy")).unwrap(), b"mine");
    // A fresh export, then the same again over it: the folder is falsematch's.
    let o = export(&p("exported"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(export(&p("exported")).status.success());
    assert_eq!(
        listing(&p("exported")),
        [
            "embeddings.npy",
            "manifest.json",
            "metadata.csv",
            "provenance.json"
        ]
    );
    // verify re-exports with the recorded seed and compares bytes.
    let verify = |dir: &Path| falsematch().arg("verify").arg(dir).output().unwrap();
    let v = verify(&p("exported"));
    assert_eq!(String::from_utf8_lossy(&v.stdout), "reproduced\n");
    // A file put into it is neither deleted by the next export nor accepted by verify.
    std::fs::write(p("exported/notes.txt"), "mine").unwrap();
    refused(&export(&p("exported")), "notes.txt");
    assert_eq!(
        std::fs::read_to_string(p("exported/notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(verify(&p("exported")).status.code(), Some(1));
    std::fs::remove_file(p("exported/notes.txt")).unwrap();
    // A changed metadata row is found.
    let meta = std::fs::read_to_string(p("exported/metadata.csv")).unwrap();
    std::fs::write(
        p("exported/metadata.csv"),
        meta.replacen("female", "male", 1),
    )
    .unwrap();
    let v = verify(&p("exported"));
    assert_eq!(v.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&v.stdout).contains("metadata.csv"));

    // Sweep: the same rule, and verify re-runs it.
    let sweep = |out: &Path| {
        falsematch()
            .args([
                "sweep",
                &small(),
                "--sizes",
                "1e3..4e3",
                "--per-decade",
                "2",
                "--simulate-up-to",
                "2e3",
                "--quiet",
                "--out",
            ])
            .arg(out)
            .output()
            .unwrap()
    };
    std::fs::create_dir(p("notes")).unwrap();
    std::fs::write(p("notes/sweep.md"), "mine").unwrap();
    refused(&sweep(&p("notes")), "is not a falsematch output folder");
    assert_eq!(
        std::fs::read_to_string(p("notes/sweep.md")).unwrap(),
        "mine"
    );
    std::fs::write(p("a-file"), "mine").unwrap();
    refused(&sweep(&p("a-file")), "a-file");
    let o = sweep(&p("swept"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        listing(&p("swept")),
        [
            "manifest.json",
            "provenance.json",
            "sweep.csv",
            "sweep.md",
            "sweep.svg"
        ]
    );
    let v = verify(&p("swept"));
    assert_eq!(String::from_utf8_lossy(&v.stdout), "reproduced\n");
    let md = std::fs::read_to_string(p("swept/sweep.md")).unwrap();
    std::fs::write(p("swept/sweep.md"), md.replacen('1', "2", 1)).unwrap();
    assert_eq!(verify(&p("swept")).status.code(), Some(1));
    // Nothing temporary is left anywhere.
    assert!(
        listing(tmp.path()).iter().all(|n| !n.starts_with('.')),
        "{:?}",
        listing(tmp.path())
    );
}

#[test]
fn infer_never_overwrites_its_scenario_or_a_foreign_file() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("model.toml");
    std::fs::copy(small(), &scenario).unwrap();
    let before = std::fs::read(&scenario).unwrap();
    let infer = |out: &Path| {
        falsematch()
            .args(["infer", "--candidates", "20", "--archive", "1e4..1e5"])
            .arg("--scenario")
            .arg(&scenario)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    refused(&infer(&scenario), "is an input of this command");
    assert_eq!(std::fs::read(&scenario).unwrap(), before);
    let notes = tmp.path().join("notes.json");
    std::fs::write(&notes, "{\"mine\": 1}").unwrap();
    refused(&infer(&notes), "was not written by falsematch");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "{\"mine\": 1}");
    let ours = tmp.path().join("inferred.json");
    for _ in 0..2 {
        let o = infer(&ours);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

/// Runs `script` (sh) with a tmpfs of `kib` KiB mounted at $1 in a private mount namespace, the
/// binary as $2 and the small scenario as $3; None when this machine cannot mount one.
fn on_small_tmpfs(kib: u32, script: &str) -> Option<std::process::Output> {
    let bin = assert_cmd::cargo::cargo_bin("falsematch");
    let dir = tempfile::tempdir().unwrap();
    let full = format!("mount -t tmpfs -o size={kib}k tmpfs \"$1\" || exit 97\n{script}");
    let o = std::process::Command::new("unshare")
        .args(["-rm", "sh", "-c", &full, "sh"])
        .arg(dir.path())
        .arg(&bin)
        .arg(small())
        .output()
        .ok()?;
    if o.status.code() == Some(97) || (!o.status.success() && o.stdout.is_empty()) {
        eprintln!(
            "skipped: no tmpfs can be mounted here ({})",
            String::from_utf8_lossy(&o.stderr).trim()
        );
        return None;
    }
    Some(o)
}

#[test]
fn a_full_disk_leaves_no_partial_output() {
    // Each command runs into a 200 KiB tmpfs, too small for its output; afterwards the tmpfs
    // must hold exactly what it held before. The script prints "exit=CODE" and the listing.
    let script = r#"
cd "$1"
mkdir keep && echo mine > keep/notes.txt
for cmd in "export $3 --out out" "run $3 --out out --quiet" "sweep $3 --sizes 1e3..1e3 --simulate-up-to 0 --out out --quiet" "run $3 --shard 0/2 --out part.json --quiet"; do
  "$2" $cmd 2>err.txt
  echo "cmd=$cmd exit=$? err=$(head -c 300 err.txt | tr '\n' ' ')"
  rm err.txt
  echo "listing: $(ls -A | tr '\n' ' ')"
  rm -rf out part.json
done
"#;
    let Some(o) = on_small_tmpfs(200, script) else {
        return;
    };
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        8,
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for pair in lines.chunks(2) {
        // The export (about 1.3 MB) and the run's bundle cannot fit; the sweep folder and
        // the part file can. Whatever happened, no temporary or partial file is left.
        let (cmd, listing) = (pair[0], pair[1]);
        if cmd.contains("exit=0") {
            continue;
        }
        assert!(cmd.contains("exit=2"), "{cmd}");
        assert!(cmd.contains("No space left on device"), "{cmd}");
        assert_eq!(listing.trim(), "listing: keep", "{cmd}: {listing}");
    }
    assert!(
        lines[0].contains("exit=2"),
        "the export should not fit: {out}"
    );
}
