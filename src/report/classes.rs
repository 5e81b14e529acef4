//! The flows counted by verdict class, in words: the sentences the Markdown and HTML reports put
//! under the verdict, and the lists journal rebuilds reuse.

use super::model::ClassRow;
use crate::rules::verdict::VerdictClass;

/// `3 to known collection endpoints`, `1 that cannot be judged`: `n` flows of a class (or of
/// none) in words, for the summaries that count flows by class. The words say what the flows
/// went to, not what they are, so that a count of flows never reads as a count of hosts.
pub fn class_count(class: Option<VerdictClass>, n: u64) -> String {
    let one = n == 1;
    let pick = |a: &'static str, b: &'static str| if one { a } else { b };
    let words = match class {
        Some(VerdictClass::Collection) => pick(
            "to a known collection endpoint",
            "to known collection endpoints",
        ),
        Some(VerdictClass::VendorUndeclared) => pick(
            "to the vendor's own host with no declared purpose",
            "to the vendor's own hosts with no declared purpose",
        ),
        Some(VerdictClass::ThirdParty) => pick(
            "to a third party that no rule explains",
            "to third parties that no rule explains",
        ),
        Some(VerdictClass::CannotJudge) => "that cannot be judged",
        Some(VerdictClass::LocalOnly) => "of a local-only protocol on the internet",
        Some(VerdictClass::TurnedOff) => pick(
            "of a declared exception the owner's settings turn off",
            "of declared exceptions the owner's settings turn off",
        ),
        Some(VerdictClass::OverBudget) => pick(
            "of a declared exception beyond its budget",
            "of declared exceptions beyond their budgets",
        ),
        None => "with no class",
    };
    format!("{n} {words}")
}

/// The flagged flows, and the allowed ones, counted by class: one sentence for each kind that has
/// any (`Flagged, by class: 3 to known collection endpoints, ...; the other 2 are explained by
/// declared exceptions`), the first thing a reader needs after how many is which kind they are.
pub fn class_sentences(
    r: &super::model::Report,
) -> Vec<(crate::rules::verdict::VerdictKind, String)> {
    use crate::rules::verdict::VerdictKind;
    let mut out = Vec::new();
    for (kind, title) in [
        (VerdictKind::Flagged, "Flagged"),
        (
            VerdictKind::Allowed,
            "Allowed (the owner has not opted out)",
        ),
    ] {
        let rows = r.by_class(kind);
        let folded = r.folded(kind);
        if rows.is_empty() && folded == 0 {
            continue;
        }
        let explained = match r.by_exception(kind) {
            0 => String::new(),
            1 => "; the other 1 is explained by a declared exception".to_string(),
            n => format!("; the other {n} are explained by declared exceptions"),
        };
        out.push((
            kind,
            format!(
                "{title}, by class: {}{explained}.",
                class_counts(&rows, folded)
            ),
        ));
    }
    out
}

/// The counts of [`class_count`] in one sentence's list (`3 to known collection endpoints, 1
/// to a third party that no rule explains, and 2 folded into groups, which keep no class`), for
/// flows of one verdict kind: each class present, those with none, and those folded into groups.
pub fn class_counts(rows: &[ClassRow], folded: u64) -> String {
    let mut parts: Vec<String> = rows.iter().map(|r| class_count(r.class, r.flows)).collect();
    if folded > 0 {
        parts.push(format!("{folded} folded into groups, which keep no class"));
    }
    match parts.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, [first])) => format!("{first} and {last}"),
        Some((last, rest)) => format!("{}, and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_class_read_as_a_list_of_flows() {
        use crate::report::model::ClassRow;
        let row = |class, flows| ClassRow {
            class,
            flows,
            bytes_out: 0,
            ids: Vec::new(),
        };
        assert_eq!(class_counts(&[], 0), "");
        assert_eq!(
            class_counts(&[row(Some(VerdictClass::CannotJudge), 1)], 0),
            "1 that cannot be judged"
        );
        assert_eq!(
            class_counts(
                &[
                    row(Some(VerdictClass::Collection), 3),
                    row(Some(VerdictClass::VendorUndeclared), 1),
                    row(Some(VerdictClass::ThirdParty), 2),
                ],
                4
            ),
            "3 to known collection endpoints, 1 to the vendor's own host with no declared purpose, \
             2 to third parties that no rule explains, and 4 folded into groups, which keep no class"
        );
        // every class has words of its own
        let mut words: Vec<String> = VerdictClass::ALL
            .iter()
            .map(|c| class_count(Some(*c), 2))
            .chain([class_count(None, 2)])
            .collect();
        words.sort();
        words.dedup();
        assert_eq!(words.len(), VerdictClass::ALL.len() + 1);
    }
}
