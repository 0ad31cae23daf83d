//! The Records service through the library API, on both stores.

use recordport::Error;
use recordport::records::{BulkUpdate, ListQuery, RecordInput};
use serde_json::{Value, json};

use crate::both;
use crate::common::{TestDb, actor};

fn input(v: Value) -> RecordInput {
    RecordInput::from_json(v, "test body").expect("valid body")
}

async fn contact(db: &TestDb, fields: Value) -> recordport::records::Record {
    db.service
        .create("contacts", input(json!({ "fields": fields })), &actor())
        .await
        .expect("create contact")
}

fn query(params: &[(&str, &str)]) -> ListQuery {
    ListQuery::from_params(params.iter().copied()).expect("valid query")
}

async fn names(db: &TestDb, params: &[(&str, &str)]) -> Vec<String> {
    let mut out: Vec<String> = db
        .service
        .list("contacts", &query(params))
        .await
        .expect("list")
        .records
        .into_iter()
        .map(|r| r.display_name)
        .collect();
    out.sort();
    out
}

async fn create_normalises_and_names(db: TestDb) {
    let r = contact(
        &db,
        json!({
            "first_name": " Ada ", "last_name": "Lovelace", "email": "Ada@Example.COM",
            "phone": "+1 (212) 555-0100", "deal_value": "$75,000", "status": "Active",
            "last_contacted": "2024-01-15"
        }),
    )
    .await;
    assert!(r.id.starts_with("rec_"));
    assert_eq!(r.module_slug, "contacts");
    assert_eq!(r.display_name, "Ada Lovelace");
    assert_eq!(r.fields["email"], "ada@example.com");
    assert_eq!(r.fields["phone"][0]["number"], "+12125550100");
    assert_eq!(r.fields["deal_value"], 75000);
    assert_eq!(r.fields["status"], "active");
    assert_eq!(r.version, 1);
    assert_eq!(r.privacy_level, "account");
    assert_eq!(r.created_by_user_id.as_deref(), Some("usr_test"));
    let got = db.service.get("contacts", &r.id).await.unwrap();
    assert_eq!(got, r);
    // Ids are time-ordered: a later record sorts after an earlier one.
    let later = contact(&db, json!({ "first_name": "Later" })).await;
    assert!(later.id > r.id);
}
both!(create_normalises_and_names, create_normalises_and_names);

async fn invalid_values_name_their_fields(db: TestDb) {
    let err = db
        .service
        .create(
            "contacts",
            input(
                json!({ "fields": { "email": "not-an-email", "deal_value": "lots", "nope": 1 } }),
            ),
            &actor(),
        )
        .await
        .unwrap_err();
    match &err {
        Error::Validation { fields, .. } => {
            let mut names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            names.sort();
            assert_eq!(names, ["deal_value", "email", "nope"]);
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert_eq!(err.code(), "validation_error");
    assert_eq!(err.http_status(), 400);
    assert_eq!(err.to_json()["error"]["code"], "validation_error");

    let err = db
        .service
        .create(
            "accounts",
            input(json!({ "fields": { "industry": "Retail" } })),
            &actor(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("name"), "{err}");
    let total = db
        .service
        .list("accounts", &ListQuery::default())
        .await
        .unwrap()
        .total;
    assert_eq!(total, Some(0), "nothing half-written");
}
both!(
    invalid_values_name_their_fields,
    invalid_values_name_their_fields
);

async fn update_patches_and_locks(db: TestDb) {
    let r = contact(&db, json!({ "first_name": "Grace", "last_name": "Hopper", "status": "lead", "company": "Navy" })).await;
    let u = db
        .service
        .update(
            "contacts",
            &r.id,
            input(json!({ "version": 1, "fields": { "status": "customer", "company": null } })),
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(u.version, 2);
    assert_eq!(u.fields["status"], "customer");
    assert!(!u.fields.contains_key("company"), "null clears");
    assert_eq!(u.fields["first_name"], "Grace", "absent keys stay");

    let err = db
        .service
        .update(
            "contacts",
            &r.id,
            input(json!({ "version": 1, "fields": { "status": "active" } })),
            &actor(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert_eq!(err.http_status(), 409);
    assert_eq!(
        db.service.get("contacts", &r.id).await.unwrap().fields["status"],
        "customer"
    );

    // Changing nothing keeps the version.
    let same = db
        .service
        .update(
            "contacts",
            &r.id,
            input(json!({ "fields": { "status": "customer" } })),
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(same.version, 2);

    // A generated display name follows the fields; a chosen one stays.
    let renamed = db
        .service
        .update(
            "contacts",
            &r.id,
            input(json!({ "fields": { "last_name": "Murray Hopper" } })),
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(renamed.display_name, "Grace Murray Hopper");
    let chosen = db
        .service
        .update(
            "contacts",
            &r.id,
            input(json!({ "displayName": "Amazing Grace" })),
            &actor(),
        )
        .await
        .unwrap();
    let after = db
        .service
        .update(
            "contacts",
            &r.id,
            input(json!({ "fields": { "first_name": "G." } })),
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(chosen.display_name, "Amazing Grace");
    assert_eq!(after.display_name, "Amazing Grace");
}
both!(update_patches_and_locks, update_patches_and_locks);

async fn unique_values_conflict(db: TestDb) {
    let first = contact(&db, json!({ "email": "dup@example.com" })).await;
    let err = db
        .service
        .create(
            "contacts",
            input(json!({ "fields": { "email": "DUP@example.com" } })),
            &actor(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("email"), "{err}");

    // A trashed record frees its unique values; restoring it while they are taken conflicts.
    db.service
        .delete("contacts", &first.id, &actor())
        .await
        .unwrap();
    let second = contact(&db, json!({ "email": "dup@example.com" })).await;
    let err = db
        .service
        .restore("contacts", &first.id, &actor())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    db.service
        .delete("contacts", &second.id, &actor())
        .await
        .unwrap();
    let restored = db
        .service
        .restore("contacts", &first.id, &actor())
        .await
        .unwrap();
    assert_eq!(restored.fields["email"], "dup@example.com");
}
both!(unique_values_conflict, unique_values_conflict);

async fn trash_restore_purge(db: TestDb) {
    let a = contact(&db, json!({ "first_name": "A" })).await;
    let b = contact(&db, json!({ "first_name": "B" })).await;
    let c = contact(&db, json!({ "first_name": "C" })).await;
    db.service
        .delete("contacts", &a.id, &actor())
        .await
        .unwrap();
    assert!(matches!(
        db.service.get("contacts", &a.id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        db.service.delete("contacts", &a.id, &actor()).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(names(&db, &[]).await, ["B", "C"]);
    let trash = db.service.list_trash("contacts", 1, 25).await.unwrap();
    assert_eq!(trash.total, Some(1));
    assert!(trash.records[0].deleted_date_time.is_some());

    let restored = db
        .service
        .restore("contacts", &a.id, &actor())
        .await
        .unwrap();
    assert_eq!(restored.version, 3, "delete and restore are versions");
    assert!(restored.deleted_date_time.is_none());

    let ids = vec![
        a.id.clone(),
        b.id.clone(),
        "rec_missing".to_string(),
        a.id.clone(),
    ];
    let outcome = db
        .service
        .bulk_delete("contacts", &ids, &actor())
        .await
        .unwrap();
    assert_eq!((outcome.deleted, outcome.skipped), (2, 2));
    let outcome = db
        .service
        .bulk_restore("contacts", &[b.id.clone(), c.id.clone()], &actor())
        .await
        .unwrap();
    assert_eq!((outcome.restored, outcome.skipped), (1, 1));

    db.service.purge("contacts", &a.id).await.unwrap();
    assert!(matches!(
        db.service.restore("contacts", &a.id, &actor()).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        matches!(
            db.service.purge("contacts", &c.id).await,
            Err(Error::NotFound { .. })
        ),
        "live records are not purged"
    );

    db.service
        .delete("contacts", &c.id, &actor())
        .await
        .unwrap();
    // Nothing is older than 30 days yet; 31 days from now, the trash has expired.
    assert_eq!(
        db.service
            .purge_expired_trash(recordport::store::now_micros())
            .await
            .unwrap(),
        0
    );
    let in_31_days = recordport::store::now_micros() + 31 * 24 * 3600 * 1_000_000;
    assert_eq!(db.service.purge_expired_trash(in_31_days).await.unwrap(), 1);
    db.service
        .delete("contacts", &b.id, &actor())
        .await
        .unwrap();
    assert_eq!(db.service.empty_trash("contacts").await.unwrap(), 1);
    assert_eq!(
        db.service
            .list_trash("contacts", 1, 25)
            .await
            .unwrap()
            .total,
        Some(0)
    );
}
both!(trash_restore_purge, trash_restore_purge);

async fn seed(db: &TestDb) {
    let rows = [
        json!({ "first_name": "Alice", "last_name": "Active", "email": "alice@acme.com", "status": "active", "deal_value": 60000, "last_contacted": "2024-01-10", "phone": ["+12125550101"], "address": { "city": "Berlin", "country": "Germany" } }),
        json!({ "first_name": "Bob", "last_name": "Lead", "email": "bob@other.org", "status": "lead", "deal_value": 5000, "last_contacted": "2024-03-01", "company": "Acme Corp" }),
        json!({ "first_name": "Carol", "last_name": "Customer", "email": "carol@acme.com", "status": "customer", "deal_value": 120000 }),
        json!({ "first_name": "Dan", "last_name": "Churned", "email": "dan@spam.net", "status": "churned", "notes": "spam risk, 100% sure" }),
        json!({ "first_name": "Eve", "last_name": "Active", "status": "active", "deal_value": 15000, "last_contacted": "2023-12-31" }),
    ];
    for fields in rows {
        contact(db, fields).await;
    }
}

async fn advanced(db: &TestDb, filter: Value) -> Vec<String> {
    let text = filter.to_string();
    names(db, &[("advancedFilter", text.as_str())]).await
}

fn cond(field: &str, op: &str, value: Value) -> Value {
    let mut c = json!({ "id": "c", "fieldSlug": field, "operator": op });
    if value.is_array() {
        c["values"] = value;
    } else if !value.is_null() {
        c["value"] = value;
    }
    json!({ "root": { "id": "g", "conjunction": "AND", "conditions": [c] } })
}

async fn list_filters_every_operator(db: TestDb) {
    seed(&db).await;
    assert_eq!(
        names(&db, &[("filter[status]", "active")]).await,
        ["Alice Active", "Eve Active"]
    );
    assert_eq!(
        names(&db, &[("filter[status]", "active,lead")]).await,
        ["Alice Active", "Bob Lead", "Eve Active"]
    );
    assert_eq!(
        names(
            &db,
            &[
                ("filter[status]", "active"),
                ("filter[last_name]", "Active"),
                ("filter[first_name]", "Eve")
            ]
        )
        .await,
        ["Eve Active"]
    );

    let all = [
        "Alice Active",
        "Bob Lead",
        "Carol Customer",
        "Dan Churned",
        "Eve Active",
    ];
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            cond("status", "eq", json!("active")),
            vec!["Alice Active", "Eve Active"],
        ),
        (
            cond("status", "neq", json!("active")),
            vec!["Bob Lead", "Carol Customer", "Dan Churned"],
        ),
        (
            cond("deal_value", "gt", json!(15000)),
            vec!["Alice Active", "Carol Customer"],
        ),
        (
            cond("deal_value", "gte", json!(15000)),
            vec!["Alice Active", "Carol Customer", "Eve Active"],
        ),
        (cond("deal_value", "lt", json!(15000)), vec!["Bob Lead"]),
        (
            cond("deal_value", "lte", json!("15,000")),
            vec!["Bob Lead", "Eve Active"],
        ),
        (
            cond("email", "contains", json!("@ACME.com")),
            vec!["Alice Active", "Carol Customer"],
        ),
        (
            cond("email", "notContains", json!("acme")),
            vec!["Bob Lead", "Dan Churned", "Eve Active"],
        ),
        (
            cond("first_name", "startsWith", json!("ca")),
            vec!["Carol Customer"],
        ),
        (cond("email", "endsWith", json!(".org")), vec!["Bob Lead"]),
        (
            cond("status", "in", json!(["lead", "churned"])),
            vec!["Bob Lead", "Dan Churned"],
        ),
        (
            cond("status", "notIn", json!(["lead", "churned"])),
            vec!["Alice Active", "Carol Customer", "Eve Active"],
        ),
        (cond("email", "isNull", Value::Null), vec!["Eve Active"]),
        (cond("company", "isNotNull", Value::Null), vec!["Bob Lead"]),
        (
            cond("deal_value", "between", json!([5000, 60000])),
            vec!["Alice Active", "Bob Lead", "Eve Active"],
        ),
        (
            cond("last_contacted", "before", json!("2024-01-10")),
            vec!["Eve Active"],
        ),
        (
            cond("last_contacted", "after", json!("01/10/2024")),
            vec!["Bob Lead"],
        ),
        (
            cond("notes", "contains", json!("100%")),
            vec!["Dan Churned"],
        ),
        (
            cond("phone", "eq", json!("(212) 555-0101")),
            vec!["Alice Active"],
        ),
        (
            cond("address.city", "eq", json!("Berlin")),
            vec!["Alice Active"],
        ),
        (
            cond("createdDateTime", "after", json!("2000-01-01")),
            all.to_vec(),
        ),
        (
            cond("createdDateTime", "before", json!("2000-01-01")),
            vec![],
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            advanced(&db, filter.clone()).await,
            expected,
            "filter {filter}"
        );
    }
    // Nested groups: active AND (deal_value >= 50000 OR last_name = Lead) — Alice only.
    let nested = json!({ "root": { "id": "g1", "conjunction": "AND", "conditions": [
        { "id": "c1", "fieldSlug": "status", "operator": "eq", "value": "active" },
        { "id": "g2", "conjunction": "OR", "conditions": [
            { "id": "c2", "fieldSlug": "deal_value", "operator": "gte", "value": 50000 },
            { "id": "c3", "fieldSlug": "last_name", "operator": "eq", "value": "Lead" }
        ]}
    ]}});
    assert_eq!(advanced(&db, nested).await, ["Alice Active"]);
    let either = json!({ "root": { "conjunction": "OR", "conditions": [
        { "fieldSlug": "status", "operator": "eq", "value": "churned" },
        { "conjunction": "AND", "conditions": [
            { "fieldSlug": "status", "operator": "eq", "value": "active" },
            { "fieldSlug": "deal_value", "operator": "lt", "value": 20000 }
        ]}
    ]}});
    assert_eq!(advanced(&db, either).await, ["Dan Churned", "Eve Active"]);

    // Unknown fields and operators are errors that name them, never SQL.
    let err = db
        .service
        .list(
            "contacts",
            &query(&[("filter[nope); DROP TABLE records;--]", "x")]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "validation_error");
    let err = db
        .service
        .list(
            "contacts",
            &query(&[(
                "advancedFilter",
                &cond("status", "like", json!("a")).to_string(),
            )]),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("like"), "{err}");
    assert_eq!(
        names(&db, &[("search", "acme")]).await,
        ["Alice Active", "Bob Lead", "Carol Customer"]
    );
    assert_eq!(
        names(&db, &[("search", "active alice")]).await,
        ["Alice Active"]
    );
}
both!(list_filters_every_operator, list_filters_every_operator);

async fn list_sorts_pages_and_selects(db: TestDb) {
    seed(&db).await;
    let page = db
        .service
        .list("contacts", &ListQuery::default())
        .await
        .unwrap();
    assert_eq!(page.total, Some(5));
    assert_eq!((page.page, page.page_size), (Some(1), Some(25)));
    let newest_first: Vec<&str> = page
        .records
        .iter()
        .map(|r| r.display_name.as_str())
        .collect();
    assert_eq!(
        newest_first,
        [
            "Eve Active",
            "Dan Churned",
            "Carol Customer",
            "Bob Lead",
            "Alice Active"
        ]
    );

    let by_value = db
        .service
        .list(
            "contacts",
            &query(&[("sortField", "deal_value"), ("sortDirection", "desc")]),
        )
        .await
        .unwrap();
    let order: Vec<&str> = by_value
        .records
        .iter()
        .map(|r| r.display_name.as_str())
        .collect();
    assert_eq!(
        order,
        [
            "Carol Customer",
            "Alice Active",
            "Eve Active",
            "Bob Lead",
            "Dan Churned"
        ],
        "empty values last"
    );
    let by_name = db
        .service
        .list(
            "contacts",
            &query(&[
                ("sortField", "first_name"),
                ("sortDirection", "asc"),
                ("page", "2"),
                ("pageSize", "2"),
            ]),
        )
        .await
        .unwrap();
    let order: Vec<&str> = by_name
        .records
        .iter()
        .map(|r| r.display_name.as_str())
        .collect();
    assert_eq!(order, ["Carol Customer", "Dan Churned"]);
    assert_eq!(by_name.total, Some(5));
    let capped = db
        .service
        .list("contacts", &query(&[("pageSize", "500")]))
        .await
        .unwrap();
    assert_eq!(capped.page_size, Some(100));

    let selected = db
        .service
        .list("contacts", &query(&[("fields", "email,status")]))
        .await
        .unwrap();
    for r in &selected.records {
        assert!(
            r.fields.keys().all(|k| k == "email" || k == "status"),
            "{:?}",
            r.fields
        );
        assert!(!r.id.is_empty() && !r.created_date_time.is_empty());
    }

    // Cursor pages walk the whole list once, in order, for several sorts.
    for sort in [
        ("createdDateTime", "desc"),
        ("deal_value", "asc"),
        ("deal_value", "desc"),
        ("last_name", "asc"),
    ] {
        let full: Vec<String> = db
            .service
            .list(
                "contacts",
                &query(&[("sortField", sort.0), ("sortDirection", sort.1)]),
            )
            .await
            .unwrap()
            .records
            .into_iter()
            .map(|r| r.id)
            .collect();
        let mut walked = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut params = vec![
                ("sortField", sort.0),
                ("sortDirection", sort.1),
                ("limit", "2"),
            ];
            if let Some(c) = &cursor {
                params.push(("cursor", c.as_str()));
            }
            let page = db.service.list("contacts", &query(&params)).await.unwrap();
            let p = page.pagination.expect("cursor pagination");
            walked.extend(page.records.into_iter().map(|r| r.id));
            match p.next_cursor {
                Some(c) => {
                    assert!(p.has_more);
                    cursor = Some(c);
                }
                None => break,
            }
        }
        assert_eq!(walked, full, "cursor walk for {sort:?}");
    }
    let err = db
        .service
        .list("contacts", &query(&[("cursor", "garbage")]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "validation_error");
}
both!(list_sorts_pages_and_selects, list_sorts_pages_and_selects);

async fn bulk_update_labels_and_types(db: TestDb) {
    let a = db
        .service
        .create(
            "contacts",
            input(
                json!({ "fields": { "first_name": "A" }, "labelIds": ["lbl_pending", "lbl_vip"] }),
            ),
            &actor(),
        )
        .await
        .unwrap();
    let b = contact(&db, json!({ "first_name": "B" })).await;
    let request = BulkUpdate {
        record_ids: vec![a.id.clone(), b.id.clone()],
        add_label_ids: vec!["lbl_reviewed".into()],
        remove_label_ids: vec!["lbl_pending".into()],
        add_type_ids: vec!["type_qualified".into()],
        remove_type_ids: vec![],
    };
    let out = db
        .service
        .bulk_update("contacts", &request, &actor())
        .await
        .unwrap();
    assert_eq!(out[0].label_ids, ["lbl_vip", "lbl_reviewed"]);
    assert_eq!(out[1].label_ids, ["lbl_reviewed"]);
    assert_eq!(out[1].type_ids, ["type_qualified"]);
    assert_eq!(names(&db, &[("labelIds", "lbl_vip")]).await, ["A"]);
    assert_eq!(
        names(&db, &[("typeIds", "type_qualified,type_x")]).await,
        ["A", "B"]
    );

    // An unknown id fails the whole request: nothing changes.
    let request = BulkUpdate {
        record_ids: vec![a.id.clone(), "rec_nope".into()],
        add_label_ids: vec!["lbl_x".into()],
        ..Default::default()
    };
    assert!(matches!(
        db.service.bulk_update("contacts", &request, &actor()).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        !db.service
            .get("contacts", &a.id)
            .await
            .unwrap()
            .label_ids
            .contains(&"lbl_x".to_string())
    );
    let too_many = BulkUpdate {
        record_ids: (0..101).map(|i| format!("rec_{i}")).collect(),
        ..Default::default()
    };
    assert_eq!(
        db.service
            .bulk_update("contacts", &too_many, &actor())
            .await
            .unwrap_err()
            .code(),
        "validation_error"
    );
}
both!(bulk_update_labels_and_types, bulk_update_labels_and_types);

async fn bulk_create_is_all_or_nothing(db: TestDb) {
    let ok = db
        .service
        .bulk_create(
            "contacts",
            vec![
                input(json!({ "fields": { "email": "one@x.com" } })),
                input(json!({ "fields": { "email": "two@x.com" } })),
            ],
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(ok.len(), 2);
    let err = db
        .service
        .bulk_create(
            "contacts",
            vec![
                input(json!({ "fields": { "email": "three@x.com" } })),
                input(json!({ "fields": { "email": "bad" } })),
                input(json!({ "fields": { "email": "ONE@x.com" } })),
            ],
            &actor(),
        )
        .await
        .unwrap_err();
    match err {
        Error::Validation { fields, .. } => {
            let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(names, ["records[1].email", "records[2]"]);
        }
        other => panic!("expected validation error, got {other:?}"),
    }
    assert_eq!(
        db.service
            .list("contacts", &ListQuery::default())
            .await
            .unwrap()
            .total,
        Some(2)
    );
}
both!(bulk_create_is_all_or_nothing, bulk_create_is_all_or_nothing);

async fn history_and_versions(db: TestDb) {
    let r = contact(
        &db,
        json!({ "first_name": "Hedy", "status": "lead", "deal_value": 10 }),
    )
    .await;
    db.service
        .update(
            "contacts",
            &r.id,
            input(json!({ "fields": { "status": "active", "deal_value": 20 } })),
            &actor(),
        )
        .await
        .unwrap();
    db.service
        .update(
            "contacts",
            &r.id,
            input(json!({ "fields": { "deal_value": null }, "labelIds": ["lbl_a"] })),
            &actor(),
        )
        .await
        .unwrap();
    let versions = db.service.history("contacts", &r.id).await.unwrap();
    let numbers: Vec<i64> = versions.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [3, 2, 1]);
    assert_eq!(
        versions[1].changes["status"],
        json!({ "old": "lead", "new": "active" })
    );
    assert_eq!(
        versions[0].changes["deal_value"],
        json!({ "old": 20, "new": null })
    );
    assert_eq!(
        versions[0].changes["labelIds"],
        json!({ "old": [], "new": ["lbl_a"] })
    );
    assert_eq!(versions[2].action, "create");
    assert_eq!(versions[2].fields["deal_value"], 10);

    let v1 = db.service.get_version("contacts", &r.id, 1).await.unwrap();
    assert_eq!(v1.fields, r.fields);
    assert_eq!(v1.version, 1);
    let v2 = db.service.get_version("contacts", &r.id, 2).await.unwrap();
    assert_eq!(v2.fields["deal_value"], 20);
    assert!(v2.label_ids.is_empty());
    assert!(matches!(
        db.service.get_version("contacts", &r.id, 4).await,
        Err(Error::NotFound { .. })
    ));
}
both!(history_and_versions, history_and_versions);

async fn upsert_by_external_id(db: TestDb) {
    let (created, was_created) = db
        .service
        .upsert_by_external_id(
            "contacts",
            "crm-42",
            input(json!({ "fields": { "first_name": "Ext", "status": "lead" } })),
            &actor(),
        )
        .await
        .unwrap();
    assert!(was_created);
    assert_eq!(created.external_id.as_deref(), Some("crm-42"));
    let (updated, was_created) = db
        .service
        .upsert_by_external_id(
            "contacts",
            "crm-42",
            input(json!({ "fields": { "status": "customer" } })),
            &actor(),
        )
        .await
        .unwrap();
    assert!(!was_created);
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.fields["status"], "customer");
    assert_eq!(updated.fields["first_name"], "Ext");
    assert_eq!(updated.version, 2);
}
both!(upsert_by_external_id, upsert_by_external_id);

async fn references_resolve_by_id_or_name(db: TestDb) {
    let acme = db
        .service
        .create(
            "accounts",
            input(json!({ "fields": { "name": "Acme Corporation", "domain": "acme.com" } })),
            &actor(),
        )
        .await
        .unwrap();
    let by_name = contact(
        &db,
        json!({ "first_name": "Ref", "account": "acme corporation" }),
    )
    .await;
    assert_eq!(by_name.fields["account"], acme.id);
    let by_id = contact(&db, json!({ "first_name": "Ref2", "account": acme.id })).await;
    assert_eq!(by_id.fields["account"], acme.id);
    let err = db
        .service
        .create(
            "contacts",
            input(json!({ "fields": { "account": "Nobody Inc" } })),
            &actor(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("account"), "{err}");
    let refs = db.service.references("contacts").await.unwrap();
    assert_eq!(refs[0].slug, "account");
    assert_eq!(refs[0].target_module_slug, "accounts");
    let linked = db
        .service
        .linked_records("contacts", "account", &by_name.id)
        .await
        .unwrap();
    assert_eq!(linked[0].display_name, "Acme Corporation");
}
both!(
    references_resolve_by_id_or_name,
    references_resolve_by_id_or_name
);
