//! The README's examples, run as written: every `$ falsematch ...` block is run (continuation
//! lines joined) and must print exactly the output the README shows under it, and the "your
//! own data" block (export, evaluate, verify) must end in "reproduced". A README that drifts
//! from the program fails here, not in a reader's terminal.

use assert_cmd::Command;
use std::path::Path;

/// One example: the arguments after `falsematch`, and the output shown under them.
struct Example {
    line: usize,
    args: Vec<String>,
    output: String,
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// Every `$ falsematch` block of the README, in order.
fn examples(text: &str) -> Vec<Example> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(first) = lines[i].strip_prefix("$ falsematch ") else {
            i += 1;
            continue;
        };
        let line = i + 1;
        let mut command = first.to_string();
        while command.ends_with('\\') {
            command.pop();
            i += 1;
            command.push(' ');
            command.push_str(lines[i].trim());
        }
        i += 1;
        let mut output = String::new();
        while i < lines.len() && !lines[i].starts_with("```") {
            output.push_str(lines[i]);
            output.push('\n');
            i += 1;
        }
        out.push(Example {
            line,
            args: command.split_whitespace().map(String::from).collect(),
            output,
        });
    }
    out
}

fn trimmed(text: &str) -> String {
    text.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

#[test]
fn every_readme_example_prints_what_the_readme_shows() {
    let text = readme();
    let examples = examples(&text);
    assert!(
        examples.len() >= 3,
        "only {} `$ falsematch` examples found",
        examples.len()
    );
    for example in &examples {
        let dir = tempfile::tempdir().unwrap();
        let run = Command::cargo_bin("falsematch")
            .unwrap()
            .current_dir(dir.path())
            .args(&example.args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "README.md line {}: `falsematch {}` failed: {}",
            example.line,
            example.args.join(" "),
            String::from_utf8_lossy(&run.stderr)
        );
        assert_eq!(
            trimmed(&stdout),
            trimmed(&example.output),
            "README.md line {}: `falsematch {}` prints something else than the README shows",
            example.line,
            example.args.join(" ")
        );
        // What the example says it writes is there.
        if let Some(at) = example.args.iter().position(|a| a == "--out") {
            let out = &example.args[at + 1];
            assert!(
                dir.path().join(out).exists(),
                "README.md line {}: no {out}",
                example.line
            );
        }
    }
}

#[test]
fn the_own_data_example_runs_as_written_and_reproduces() {
    // The block after "cargo build --release": its `target/release/falsematch` lines, with
    // comments dropped, run in order in one folder.
    let text = readme();
    let block: Vec<&str> = text
        .split("```")
        .find(|b| b.contains("target/release/falsematch export"))
        .expect("the own-data example")
        .lines()
        .collect();
    let mut commands: Vec<String> = Vec::new();
    for line in block {
        let line = line.split('#').next().unwrap().trim();
        match commands.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push(' ');
                last.push_str(line);
            }
            _ => {
                if let Some(rest) = line.strip_prefix("target/release/falsematch ") {
                    commands.push(rest.to_string());
                }
            }
        }
    }
    assert_eq!(commands.len(), 3, "{commands:?}");
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests"),
        dir.path().join("tests"),
    )
    .unwrap();
    let mut last = String::new();
    for command in &commands {
        let run = Command::cargo_bin("falsematch")
            .unwrap()
            .current_dir(dir.path())
            .args(command.split_whitespace())
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "`falsematch {command}` failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        last = String::from_utf8_lossy(&run.stdout).to_string();
    }
    assert_eq!(last.lines().next(), Some("reproduced"), "{last}");
}

#[test]
fn the_worked_example_is_what_cargo_run_prints() {
    // The block after "`cargo run --release` runs `kaganskikh-2019` and prints:", without its
    // first line (the start-up estimate on stderr, which names this machine's thread count).
    let text = readme();
    let start = text
        .find("`cargo run --release` runs `kaganskikh-2019` and prints:")
        .expect("the worked example");
    let block = text[start..].split("```").nth(1).unwrap();
    let shown: String = block
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("falsematch: "))
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let run = Command::cargo_bin("falsematch")
        .unwrap()
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        trimmed(&String::from_utf8_lossy(&run.stdout)),
        trimmed(&shown),
        "README.md's worked example is not what `cargo run --release` prints"
    );
    assert!(
        dir.path()
            .join("falsematch-out/kaganskikh-2019/report.html")
            .is_file()
    );
}
