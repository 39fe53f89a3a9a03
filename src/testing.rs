//! Helpers for the unit tests.

/// Compares `actual` with the committed snapshot at `path` (from the crate's root). With the
/// environment variable `update` set, writes it instead and fails: a run with the variable
/// set never passes silently. Update, review the diff, run again without it.
pub fn snapshot(path: &str, actual: &str, update: &str) {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    if std::env::var_os(update).is_some() {
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&file, actual).unwrap();
        let what = if committed == actual {
            "was already up to date"
        } else {
            "is updated: review the diff and commit it"
        };
        panic!("{path} {what}; unset {update} and run the tests again");
    }
    assert!(
        committed == actual,
        "{path} is out of date; if the change is on purpose, run the tests with {update}=1 and review the diff"
    );
}
