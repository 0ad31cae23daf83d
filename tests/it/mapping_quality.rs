//! The quality of mapping suggestions, held where a later change cannot quietly lower it: the
//! dev cases of issue 16 (20 real export formats and hand-made sheets, copied into
//! `tests/fixtures/mapping/dev-cases.json`) and other vendors' exports written for the project
//! (`vendor-cases.json`), each column with the mapping a careful person picks. Scored as
//! `shared/mapping-dev/score.py` scores the binary: top-1 accuracy, and confident mistakes (a
//! wrong suggestion at confidence 0.9 or more). Also: learning across modules.

use recordport::import::mapping::{ColumnMapping, SuggestResult, suggest};
use recordport::schema::Module;
use recordport::schema::value::ValueOptions;
use serde_json::{Map, Value, json};

use crate::both;
use crate::common::{TestDb, sample_modules};

fn contacts() -> Module {
    let def = sample_modules()
        .into_iter()
        .find(|m| m.slug == "contacts")
        .expect("contacts module");
    Module {
        id: "mod_contacts".into(),
        def,
        created_date_time: String::new(),
        updated_date_time: String::new(),
    }
}

struct Score {
    total: usize,
    right: usize,
    confident: usize,
    confident_wrong: usize,
    misses: Vec<String>,
}

/// Whether a suggestion is one of the expected mappings (`[slug, valueType, addressPart]`, or a
/// list of them; null = leave the column unmapped).
fn matches(s: &recordport::import::mapping::MappingSuggestion, expected: &Value) -> bool {
    let slug = s.target_field_slug.as_deref();
    if expected.is_null() {
        return slug.is_none();
    }
    let alternatives: Vec<&Value> = if expected[0].is_array() {
        expected.as_array().unwrap().iter().collect()
    } else {
        vec![expected]
    };
    alternatives.iter().any(|e| {
        let want = |i: usize, got: Option<&str>| {
            e[i].as_str()
                .is_none_or(|w| got.is_some_and(|g| g.eq_ignore_ascii_case(w)))
        };
        slug == e[0].as_str()
            && want(1, s.value_type.as_deref())
            && want(2, s.address_part.as_deref())
    })
}

fn score(fixture: &str) -> Score {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mapping")
        .join(fixture);
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read cases")).unwrap();
    let module = contacts();
    let mut s = Score {
        total: 0,
        right: 0,
        confident: 0,
        confident_wrong: 0,
        misses: Vec::new(),
    };
    for case in &cases {
        let headers: Vec<String> = case["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_string())
            .collect();
        let rows: Vec<Map<String, Value>> = case["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                headers
                    .iter()
                    .zip(r.as_array().unwrap())
                    .map(|(h, v)| (h.clone(), v.clone()))
                    .collect()
            })
            .collect();
        let result: SuggestResult =
            suggest(&module, &headers, &rows, &[], &ValueOptions::default());
        for (header, expected) in case["expected"].as_object().unwrap() {
            let got = result
                .suggestions
                .iter()
                .find(|g| &g.source_column == header)
                .expect("a suggestion per column");
            assert!(
                got.target_field_slug.is_none() || got.confidence >= 0.5,
                "a column below 0.5 is left unmapped: {got:?}"
            );
            s.total += 1;
            let confident = got.target_field_slug.is_some() && got.confidence >= 0.9;
            s.confident += usize::from(confident);
            if matches(got, expected) {
                s.right += 1;
            } else {
                s.confident_wrong += usize::from(confident);
                s.misses.push(format!(
                    "{}: {header:?} -> {got:?}, want {expected}",
                    case["name"]
                ));
            }
        }
    }
    s
}

fn assert_quality(fixture: &str) {
    let s = score(fixture);
    let accuracy = s.right as f64 / s.total as f64;
    let misses = s.misses.join("\n");
    assert!(
        accuracy >= 0.95,
        "{fixture}: {}/{} = {:.1}% top-1\n{misses}",
        s.right,
        s.total,
        accuracy * 100.0
    );
    assert_eq!(
        s.confident_wrong, 0,
        "{fixture}: confident mistakes\n{misses}"
    );
    // Calibration: most suggestions are confident, and those are right (≥ 99% holds with none
    // wrong).
    assert!(
        s.confident * 2 > s.total,
        "{fixture}: {} confident of {}",
        s.confident,
        s.total
    );
}

#[test]
fn dev_cases_are_suggested_right_and_never_confidently_wrong() {
    assert_quality("dev-cases.json");
}

#[test]
fn other_vendors_exports_are_suggested_right_and_never_confidently_wrong() {
    assert_quality("vendor-cases.json");
}

/// A header confirmed for a field of another module is a strong hint for the field of the same
/// slug and type here; one confirmed for this module still comes first.
async fn learning_reaches_other_modules(db: TestDb) {
    use recordport::import::memory::{remember, suggest_for_columns};
    let store = db.service.store();
    let contacts = db.service.modules().get("contacts").await.unwrap();
    let accounts = db.service.modules().get("accounts").await.unwrap();
    let deals = db.service.modules().get("deals").await.unwrap();
    let mapping = |col: &str, target: &str| ColumnMapping {
        value_map: None,
        source_column: col.into(),
        target_field_slug: Some(target.into()),
        ignored: false,
        value_type: None,
        address_part: None,
    };
    let columns = vec!["Quux".to_string(), "Zz Info".to_string()];
    let samples: Vec<Map<String, Value>> = vec![
        json!({"Quux": "ask Bo", "Zz Info": "Pays on time"})
            .as_object()
            .unwrap()
            .clone(),
    ];
    let before = suggest_for_columns(store, &contacts, &columns, &samples)
        .await
        .unwrap();
    assert!(
        before
            .suggestions
            .iter()
            .all(|s| s.target_field_slug.is_none()),
        "{before:?}"
    );
    remember(store, &accounts, &[mapping("Quux", "website")])
        .await
        .unwrap();
    // A deals field of another type than any contacts field of that slug is no hint.
    remember(store, &deals, &[mapping("Zz Info", "name")])
        .await
        .unwrap();
    let after = suggest_for_columns(store, &contacts, &columns, &samples)
        .await
        .unwrap();
    assert_eq!(
        after.suggestions[0].target_field_slug.as_deref(),
        Some("website")
    );
    assert_eq!(after.suggestions[0].confidence, 0.9);
    assert_eq!(after.suggestions[1].target_field_slug, None);

    remember(store, &contacts, &[mapping("quux", "notes")])
        .await
        .unwrap();
    let mine = suggest_for_columns(store, &contacts, &columns, &samples)
        .await
        .unwrap();
    assert_eq!(
        mine.suggestions[0].target_field_slug.as_deref(),
        Some("notes")
    );
    assert_eq!(mine.suggestions[0].confidence, 0.99);
}
both!(
    learning_reaches_other_modules,
    learning_reaches_other_modules
);
