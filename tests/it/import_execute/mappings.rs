//! Execute: value types, address parts, display name, static values and references.

use super::*;

// ---------------------------------------------------------------------------------------------
// Mapping: value types, address parts, display name, static values

async fn multi_value_address_and_display_name(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "multi.csv",
        "Full Name,First,Last,Email,Mobile,Work,Street,City,Zip\n\
         Dr. Ada King,Ada,King,ada@example.com,+1 (212) 555-0100,212-555-0101,12 Main St,New York,10001\n\
         ,Alan,Turing,alan@example.com,,+44 20 7946 0958,,London,\n",
    );
    let mut mapping = cols(&[
        ("Full Name", "displayName"),
        ("First", "first_name"),
        ("Last", "last_name"),
        ("Email", "email"),
    ]);
    mapping.extend([
        phone_col("Mobile", "Mobile"),
        phone_col("Work", "work"),
        address_col("Street", "street"),
        address_col("City", "city"),
        address_col("Zip", "zip"),
    ]);
    let result = import(&db, "contacts", &file, &request(mapping)).await;
    assert_eq!(counts(&result), (2, 2, 0, 0, 0, 0));
    let all = by_email(&db).await;
    let ada = &all["ada@example.com"];
    assert_eq!(ada.display_name, "Dr. Ada King");
    assert_eq!(
        ada.fields,
        obj(json!({
            "first_name": "Ada", "last_name": "King", "email": "ada@example.com",
            "phone": [{"number": "+12125550100", "type": "Mobile"},
                      {"number": "+12125550101", "type": "Work"}],
            "address": {"street": "12 Main St", "city": "New York", "zip": "10001"}
        }))
    );
    let alan = &all["alan@example.com"];
    // No display name in the row: the module's template makes one.
    assert_eq!(alan.display_name, "Alan Turing");
    assert_eq!(
        alan.fields["phone"],
        json!([{"number": "+442079460958", "type": "Work"}])
    );
    assert_eq!(alan.fields["address"], json!({"city": "London"}));

    // A value type on a field that is no phone, an unknown one and an unknown address part are
    // request errors naming the mapping entry.
    let mut bad = cols(&[("Email", "email")]);
    bad.push(ColumnMapping {
        value_type: Some("Mobile".into()),
        ..col("First", "first_name")
    });
    bad.push(phone_col("Mobile", "Fax"));
    bad.push(address_col("Zip", "postcode"));
    let err = import_err(&db, "contacts", &file, &request(bad)).await;
    assert_eq!(
        validation_fields(&err),
        [
            "columnMapping[1].valueType",
            "columnMapping[2].valueType",
            "columnMapping[3].addressPart"
        ]
    );
    assert_eq!(records(&db, "contacts").await.len(), 2);
    assert_eq!(jobs(&db, "contacts").await, 1);
}
both!(
    multi_value_address_and_display_name,
    multi_value_address_and_display_name
);

async fn static_values_fill_empty_cells(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "static.csv",
        "First Name,Email,Source\nAnn,ann@example.com,Web\nBob,bob@example.com,\n",
    );
    let mapping = cols(&[
        ("First Name", "first_name"),
        ("Email", "email"),
        ("Source", "source"),
    ]);
    let mut req = request(mapping.clone());
    req.static_values = obj(json!({"source": "Trade show", "status": "Lead"}));
    let result = import(&db, "contacts", &file, &req).await;
    assert_eq!(counts(&result), (2, 2, 0, 0, 0, 0));
    let all = by_email(&db).await;
    assert_eq!(
        all["ann@example.com"].fields,
        obj(
            json!({"first_name": "Ann", "email": "ann@example.com", "source": "Web",
                   "status": "lead"})
        )
    );
    assert_eq!(
        all["bob@example.com"].fields,
        obj(
            json!({"first_name": "Bob", "email": "bob@example.com", "source": "Trade show",
                   "status": "lead"})
        )
    );

    // A static value that does not fit its field, or names no field, fails the request.
    let mut req = request(mapping);
    req.duplicate_strategy = DuplicateStrategy::Create;
    req.static_values = obj(json!({"status": "prospect", "nope": "x"}));
    let err = import_err(&db, "contacts", &file, &req).await;
    let mut fields = validation_fields(&err);
    fields.sort();
    assert_eq!(fields, ["staticValues.nope", "staticValues.status"]);
    match &err {
        Error::Validation { fields, .. } => {
            let status = fields
                .iter()
                .find(|f| f.field == "staticValues.status")
                .unwrap();
            assert_eq!(
                status.message,
                "Value 'prospect' is not an option (expected one of: lead, active, customer, churned)"
            );
        }
        _ => unreachable!(),
    }
    assert_eq!(records(&db, "contacts").await.len(), 2);
    assert_eq!(jobs(&db, "contacts").await, 1);
}
both!(
    static_values_fill_empty_cells,
    static_values_fill_empty_cells
);

// ---------------------------------------------------------------------------------------------
// References

const REFERENCE_FILE: &str = "\
First Name,Email,Company
Ann,ann@example.com,acme corporation
Bob,bob@example.com,Unknown Co
Cy,cy@example.com,Unknown Co
Di,di@example.com,Other Inc
";

fn reference_mapping() -> Vec<ColumnMapping> {
    cols(&[
        ("First Name", "first_name"),
        ("Email", "email"),
        ("Company", "account"),
    ])
}

/// The account "Acme Corporation", and [`REFERENCE_FILE`] written in a temporary directory
/// (kept while the returned guard lives).
async fn acme_and_reference_file(db: &TestDb) -> (Record, tempfile::TempDir, PathBuf) {
    let acme = create(
        db,
        "accounts",
        json!({"fields": {"name": "Acme Corporation"}}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "refs.csv", REFERENCE_FILE);
    (acme, dir, file)
}

async fn references_resolve_by_name(db: TestDb) {
    let (acme, dir, file) = acme_and_reference_file(&db).await;
    let result = import(&db, "contacts", &file, &request(reference_mapping())).await;
    assert_eq!(counts(&result), (4, 4, 0, 0, 0, 0));
    assert_eq!(result.created_reference_count, 0);
    assert_eq!(
        serde_json::to_value(&result.reference_warnings).unwrap(),
        json!([{
            "code": "reference_not_found", "fieldSlug": "account", "fieldLabel": "Account",
            "unresolvedValues": ["Unknown Co", "Other Inc"], "targetModuleSlug": "accounts"
        }])
    );
    let all = by_email(&db).await;
    assert_eq!(all["ann@example.com"].fields["account"], json!(acme.id));
    for email in ["bob@example.com", "cy@example.com", "di@example.com"] {
        assert!(!all[email].fields.contains_key("account"), "{email}");
    }
    assert_eq!(records(&db, "accounts").await, vec![acme]);
    // The job keeps the warnings.
    let job = get_job(
        db.service.store(),
        db.service.modules(),
        "contacts",
        result.import_job_id.as_deref().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(job.reference_warnings, result.reference_warnings);

    // A name two accounts share is never a guess: the row fails; an id resolves.
    let twin = create(&db, "accounts", json!({"fields": {"name": "Twin"}})).await;
    create(&db, "accounts", json!({"fields": {"name": "Twin"}})).await;
    let file = write_file(
        dir.path(),
        "twins.csv",
        &format!(
            "First Name,Email,Company\nEd,ed@example.com,twin\nFi,fi@example.com,{}\n",
            twin.id
        ),
    );
    let mut req = request(reference_mapping());
    req.skip_validation = true;
    let result = import(&db, "contacts", &file, &req).await;
    assert_eq!(counts(&result), (2, 1, 0, 0, 0, 1));
    assert_eq!(
        result.errors,
        vec![RowError {
            row: 2,
            code: RowErrorCode::ReferenceAmbiguous,
            field: Some("account".into()),
            column: None,
            value: Some("twin".into()),
            error: "several accounts records are named 'twin': give the record id".into(),
        }]
    );
    assert_eq!(
        by_email(&db).await["fi@example.com"].fields["account"],
        json!(twin.id)
    );
}
both!(references_resolve_by_name, references_resolve_by_name);

async fn create_missing_references(db: TestDb) {
    let (acme, _dir, file) = acme_and_reference_file(&db).await;
    let mut req = request(reference_mapping());
    req.create_missing_references = true;
    let result = import(&db, "contacts", &file, &req).await;
    assert_eq!(counts(&result), (4, 4, 0, 0, 0, 0));
    assert_eq!(result.created_reference_count, 2);
    assert!(result.reference_warnings.is_empty());
    let contacts = records(&db, "contacts").await;
    let mut contact_ids: Vec<String> = contacts.iter().map(|r| r.id.clone()).collect();
    let mut created = result.created_record_ids.clone();
    contact_ids.sort();
    created.sort();
    assert_eq!(
        created, contact_ids,
        "createdRecordIds lists the contacts only"
    );

    let accounts = records(&db, "accounts").await;
    assert_eq!(accounts.len(), 3);
    let by_name: BTreeMap<&str, &Record> = accounts
        .iter()
        .map(|r| (r.display_name.as_str(), r))
        .collect();
    let unknown = by_name["Unknown Co"];
    assert_eq!(unknown.fields, obj(json!({"name": "Unknown Co"})));
    let other = by_name["Other Inc"];
    let all = by_email(&db).await;
    assert_eq!(all["ann@example.com"].fields["account"], json!(acme.id));
    assert_eq!(all["bob@example.com"].fields["account"], json!(unknown.id));
    assert_eq!(all["cy@example.com"].fields["account"], json!(unknown.id));
    assert_eq!(all["di@example.com"].fields["account"], json!(other.id));

    // Rollback deletes the referenced records it made too.
    let outcome = roll_back_contacts(&db, result.import_job_id.as_deref().unwrap()).await;
    assert_eq!(outcome.deleted_count, 6);
    assert_eq!(outcome.restored_count, 0);
    assert!(outcome.conflicts.is_empty());
    assert!(records(&db, "contacts").await.is_empty());
    assert_eq!(records(&db, "accounts").await, vec![acme]);
}
both!(create_missing_references, create_missing_references);
