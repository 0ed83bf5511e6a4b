//! The shard a cluster's job array assigns to a process (`run --shard-from-env`).

use super::Shard;

impl Shard {
    /// The shard a cluster's job array assigns to this process, read through `var` (the
    /// environment, or a map in tests): Slurm's `SLURM_ARRAY_TASK_ID` (counted from
    /// `SLURM_ARRAY_TASK_MIN`, so `--array=1-16` works too) of `SLURM_ARRAY_TASK_COUNT` (or
    /// `count`), else a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` of `count` (Kubernetes
    /// does not export the number of completions, so it must be given).
    ///
    /// # Errors
    /// [`ShardEnvError`] naming the variable that is missing, not a number, or out of range.
    pub fn from_env(
        var: impl Fn(&str) -> Option<String>,
        count: Option<u32>,
    ) -> Result<Shard, ShardEnvError> {
        let number = |name: &str| -> Result<Option<u32>, ShardEnvError> {
            var(name)
                .map(|v| {
                    v.trim()
                        .parse::<u32>()
                        .map_err(|_| ShardEnvError::NotANumber {
                            variable: name.to_string(),
                            value: crate::format::quoted(&v),
                        })
                })
                .transpose()
        };
        let (index, count, origin) = if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            if number("SLURM_ARRAY_TASK_STEP")?.is_some_and(|step| step != 1) {
                return Err(ShardEnvError::Step);
            }
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let count = match count {
                Some(n) => n,
                None => number("SLURM_ARRAY_TASK_COUNT")?.ok_or(ShardEnvError::NoCount {
                    variable: "SLURM_ARRAY_TASK_COUNT",
                })?,
            };
            (
                id.checked_sub(min),
                count,
                "SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN",
            )
        } else if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let count = count.ok_or(ShardEnvError::NoCount {
                variable: "--shard-count (Kubernetes sets no count)",
            })?;
            (Some(index), count, "JOB_COMPLETION_INDEX")
        } else {
            return Err(ShardEnvError::Unset);
        };
        index
            .and_then(|i| Shard::parse(&format!("{i}/{count}")).ok())
            .ok_or_else(|| ShardEnvError::OutOfRange {
                origin,
                shard: format!("{}/{count}", index.map_or("-1".into(), |i| i.to_string())),
            })
    }
}

/// The environment does not name a shard (`Shard::from_env`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShardEnvError {
    /// Neither a Slurm array task nor a Kubernetes indexed job.
    #[error(
        "--shard-from-env: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; run inside one, or give --shard i/n"
    )]
    Unset,
    /// A variable that is not a whole number.
    #[error("--shard-from-env: {variable} is {value}, not a whole number >= 0")]
    NotANumber {
        /// The variable.
        variable: String,
        /// Its value, quoted.
        value: String,
    },
    /// The number of shards is not known.
    #[error(
        "--shard-from-env: the number of shards is not known: set {variable}, or give --shard-count N"
    )]
    NoCount {
        /// Where it would come from.
        variable: &'static str,
    },
    /// A Slurm array with a step other than 1 (its task ids are not 0..n).
    #[error(
        "--shard-from-env: SLURM_ARRAY_TASK_STEP is not 1; submit the array as --array=0-(N-1) so task ids are consecutive"
    )]
    Step,
    /// The index is not below the count.
    #[error("--shard-from-env: {origin} gives shard {shard}; the index must lie in 0..count")]
    OutOfRange {
        /// Which variables gave the index.
        origin: &'static str,
        /// The shard they give.
        shard: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_arrays_environment_names_the_shard() {
        fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        }
        let shard = |index, count| Shard { index, count };
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(Shard::from_env(env(&slurm), None), Ok(shard(2, 4)));
        // An array submitted as --array=1-4 counts from its minimum.
        let from_one = [
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(Shard::from_env(env(&from_one), None), Ok(shard(3, 4)));
        let k8s = [("JOB_COMPLETION_INDEX", "0")];
        assert_eq!(Shard::from_env(env(&k8s), Some(3)), Ok(shard(0, 3)));
        // What cannot name a shard says which variable is wrong.
        assert_eq!(
            Shard::from_env(env(&[]), Some(3)),
            Err(ShardEnvError::Unset)
        );
        assert!(matches!(
            Shard::from_env(env(&k8s), None),
            Err(ShardEnvError::NoCount { .. })
        ));
        let past = [
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        let err = Shard::from_env(env(&past), None).unwrap_err();
        assert!(err.to_string().contains("gives shard 4/4"), "{err}");
        let below = [("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_MIN", "1")];
        let err = Shard::from_env(env(&below), Some(2)).unwrap_err();
        assert!(err.to_string().contains("gives shard -1/2"), "{err}");
        let text = [("JOB_COMPLETION_INDEX", "one")];
        let err = Shard::from_env(env(&text), Some(2)).unwrap_err();
        assert!(
            err.to_string().contains("JOB_COMPLETION_INDEX is `one`"),
            "{err}"
        );
        let stepped = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(
            Shard::from_env(env(&stepped), None),
            Err(ShardEnvError::Step)
        );
    }
}
