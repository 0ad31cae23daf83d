//! `records list` flags, bulk trash and upsert through the binary.

use super::*;

// 4. List flags.

/// Five contacts, created oldest first.
fn seed_list(db: &TestDb) -> Vec<String> {
    [
        json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "status": "active", "deal_value": 75000, "company": "Acme Corp"}),
        json!({"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com", "status": "lead", "deal_value": 120000, "company": "Navy"}),
        json!({"first_name": "Alan", "last_name": "Turing", "email": "alan@example.com", "status": "customer", "deal_value": 30000, "company": "Acme Labs"}),
        json!({"first_name": "Linus", "last_name": "Torvalds", "email": "linus@example.com", "status": "active", "deal_value": 5000, "company": "Linux"}),
        json!({"first_name": "Margaret", "last_name": "Hamilton", "email": "margaret@example.com", "status": "lead", "company": "NASA"}),
    ]
    .into_iter()
    .map(|fields| id_of(&create_contact(db, fields)))
    .collect()
}

async fn list_flags(db: TestDb) {
    let ids = seed_list(&db);

    let both_statuses = list(&db, &["--filter", "status=active,lead"]);
    assert_eq!(
        sorted(names(&both_statuses)),
        [
            "Ada Lovelace",
            "Grace Hopper",
            "Linus Torvalds",
            "Margaret Hamilton"
        ]
    );
    assert_eq!(both_statuses["total"], 4);
    let and = list(
        &db,
        &[
            "--filter",
            "status=active,lead",
            "--filter",
            "last_name=Hopper",
        ],
    );
    assert_eq!(names(&and), ["Grace Hopper"]);
    assert_eq!(and["total"], 1);
    assert_eq!(
        contacts_err(&db, &["list", "--filter", "status"]),
        err(2, "validation_error")
    );
    let (code, json, _) = contacts(&db, &["list", "--filter", "colour=red"]);
    assert_eq!(code, 2);
    assert_eq!(json["error"]["details"]["field"], "colour");

    let acme = list(&db, &["--search", "acme"]);
    assert_eq!(sorted(names(&acme)), ["Ada Lovelace", "Alan Turing"]);
    let acme_active = list(&db, &["--search", "acme", "--filter", "status=active"]);
    assert_eq!(names(&acme_active), ["Ada Lovelace"]);

    let by_value = list(&db, &["--sort", "deal_value:desc"]);
    assert_eq!(
        names(&by_value),
        [
            "Grace Hopper",
            "Ada Lovelace",
            "Alan Turing",
            "Linus Torvalds",
            "Margaret Hamilton"
        ],
        "biggest first, no value last"
    );
    let by_value_asc = list(&db, &["--sort", "deal_value:asc"]);
    assert_eq!(
        names(&by_value_asc),
        [
            "Linus Torvalds",
            "Alan Turing",
            "Ada Lovelace",
            "Grace Hopper",
            "Margaret Hamilton"
        ]
    );
    assert_eq!(
        contacts_err(&db, &["list", "--sort", "deal_value:sideways"]),
        err(2, "validation_error")
    );

    let page2 = list(
        &db,
        &[
            "--sort",
            "deal_value:desc",
            "--page",
            "2",
            "--page-size",
            "2",
        ],
    );
    assert_eq!(names(&page2), ["Alan Turing", "Linus Torvalds"]);
    assert_eq!(page2["total"], 5);
    assert_eq!(page2["page"], 2);
    assert_eq!(page2["pageSize"], 2);
    let page3 = list(
        &db,
        &[
            "--sort",
            "deal_value:desc",
            "--page",
            "3",
            "--page-size",
            "2",
        ],
    );
    assert_eq!(names(&page3), ["Margaret Hamilton"]);
    let page9 = list(&db, &["--page", "9", "--page-size", "2"]);
    assert_eq!(page9["records"], json!([]));
    assert_eq!(page9["total"], 5);
    let (code, json, _) = contacts(&db, &["list", "--page", "0"]);
    assert_eq!(
        (code, &json["error"]["details"]["field"]),
        (2, &json!("page"))
    );

    let projected = list(&db, &["--fields", "email,status"]);
    let records = projected["records"].as_array().unwrap();
    assert_eq!(records.len(), 5);
    for r in records {
        let keys: Vec<&str> = r["fields"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(sorted(keys), ["email", "status"], "{r}");
        assert!(r["displayName"].is_string() && r["id"].is_string());
    }
    let grace = records
        .iter()
        .find(|r| r["displayName"] == "Grace Hopper")
        .unwrap();
    assert_eq!(
        grace["fields"],
        json!({"email": "grace@example.com", "status": "lead"})
    );

    // Cursor pages walk every record once, in the default order (newest first).
    let all = list(&db, &["--page-size", "100"]);
    let all_ids: Vec<&str> = all["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let mut walked: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = vec!["--limit", "2"];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let page = list(&db, &args);
        pages += 1;
        assert_eq!(page["pagination"]["limit"], 2);
        assert_eq!(page.get("total"), None, "cursor pages carry pagination");
        walked.extend(
            page["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string()),
        );
        let has_more = page["pagination"]["hasMore"].as_bool().unwrap();
        match page["pagination"]["nextCursor"].as_str() {
            Some(c) => {
                assert!(has_more);
                cursor = Some(c.to_string());
            }
            None => {
                assert!(!has_more);
                break;
            }
        }
        assert!(pages < 10, "the cursor walk does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(walked, all_ids);
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.reverse();
    assert_eq!(walked, expected, "newest first");
    let (code, json, _) = contacts(&db, &["list", "--cursor", "garbage"]);
    assert_eq!(code, 2);
    assert_eq!(json["error"]["details"]["field"], "cursor");

    // The sorted cursor walk agrees with the sorted offset pages.
    let first = list(&db, &["--sort", "deal_value:desc", "--limit", "3"]);
    assert_eq!(
        names(&first),
        ["Grace Hopper", "Ada Lovelace", "Alan Turing"]
    );
    let next = first["pagination"]["nextCursor"].as_str().unwrap();
    let rest = list(
        &db,
        &[
            "--sort",
            "deal_value:desc",
            "--limit",
            "3",
            "--cursor",
            next,
        ],
    );
    assert_eq!(names(&rest), ["Linus Torvalds", "Margaret Hamilton"]);
    assert_eq!(rest["pagination"]["hasMore"], false);

    // Human output.
    let (code, text, stderr) = contacts_text(
        &db,
        &["list", "--sort", "deal_value:desc", "--page-size", "2"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        text.contains("Grace Hopper") && text.contains("Ada Lovelace"),
        "{text}"
    );
    assert!(!text.contains("Alan Turing"), "only page 1: {text}");
    assert!(text.contains("grace@example.com"), "{text}");
    assert_eq!(
        text.lines().last(),
        Some("page 1 of 3 (5 records)"),
        "{text}"
    );
    let (code, text, _) = contacts_text(&db, &["list", "--limit", "4"]);
    assert_eq!(code, 0);
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("4 records; more with --cursor "),
        "{text}"
    );
}
both!(list_flags, list_flags);

// 5. Bulk operations, trash and upsert.

async fn bulk_trash_and_upsert(db: TestDb) {
    let body = json!([
        {"fields": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}},
        {"fields": {"first_name": "Grace", "last_name": "Hopper"}, "labelIds": ["lbl_old"]},
        {"displayName": "Third", "fields": {"company": "Acme"}}
    ])
    .to_string();
    let created = contacts_ok(&db, &["bulk-create", "--data", &body]);
    assert_eq!(created["created"], 3);
    let records = created["records"].as_array().unwrap();
    let shown: Vec<&str> = records
        .iter()
        .map(|r| r["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(shown, ["Ada Lovelace", "Grace Hopper", "Third"]);
    let ids: Vec<String> = records.iter().map(id_of).collect();
    let (a, b, c) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());

    // All or nothing: one bad record creates none.
    let bad = json!({"records": [
        {"fields": {"first_name": "Fine"}},
        {"fields": {"first_name": "Broken", "email": "nope"}}
    ]})
    .to_string();
    let (code, json, _) = contacts(&db, &["bulk-create", "--data", &bad]);
    assert_eq!(code, 2, "{json}");
    assert_eq!(json["error"]["code"], "validation_error");
    assert_eq!(json["error"]["details"]["field"], "records[1].email");
    let duplicate =
        json!([{"fields": {"email": "new@example.com"}}, {"fields": {"email": "ADA@example.com"}}])
            .to_string();
    let (code, json, _) = contacts(&db, &["bulk-create", "--data", &duplicate]);
    assert_eq!(code, 2, "{json}");
    assert_eq!(json["error"]["details"]["field"], "records[1]");
    assert_eq!(
        contacts_err(&db, &["bulk-create", "--data", r#"{"fields":{}}"#]),
        err(2, "validation_error")
    );
    assert_eq!(list(&db, &[])["total"], 3, "nothing of the failed requests");

    // Bulk update: labels added and removed.
    let add = json!({"recordIds": [a, b], "addLabelIds": ["lbl_vip", "lbl_new"], "addTypeIds": ["type_customer"]})
        .to_string();
    let updated = contacts_ok(&db, &["bulk-update", "--data", &add]);
    assert_eq!(
        updated,
        json!({"records": [
            {"id": a, "displayName": "Ada Lovelace", "labelIds": ["lbl_vip", "lbl_new"], "typeIds": ["type_customer"]},
            {"id": b, "displayName": "Grace Hopper", "labelIds": ["lbl_old", "lbl_vip", "lbl_new"], "typeIds": ["type_customer"]}
        ]})
    );
    let remove = json!({"recordIds": [a, b], "removeLabelIds": ["lbl_new", "lbl_old"]}).to_string();
    let updated = contacts_ok(&db, &["bulk-update", "--data", &remove]);
    assert_eq!(updated["records"][0]["labelIds"], json!(["lbl_vip"]));
    assert_eq!(updated["records"][1]["labelIds"], json!(["lbl_vip"]));
    let got = contacts_ok(&db, &["get", b]);
    assert_eq!(got["record"]["labelIds"], json!(["lbl_vip"]));
    assert_eq!(got["record"]["typeIds"], json!(["type_customer"]));
    assert_eq!(got["record"]["version"], 3);
    let labelled = list(&db, &["--label-ids", "lbl_vip"]);
    assert_eq!(sorted(names(&labelled)), ["Ada Lovelace", "Grace Hopper"]);
    let missing = json!({"recordIds": [a, "rec_missing"], "addLabelIds": ["lbl_x"]}).to_string();
    assert_eq!(
        contacts_err(&db, &["bulk-update", "--data", &missing]),
        err(3, "not_found")
    );
    let got = contacts_ok(&db, &["get", a]);
    assert_eq!(
        got["record"]["labelIds"],
        json!(["lbl_vip"]),
        "all or nothing"
    );
    let (code, json, _) = contacts(&db, &["bulk-update", "--data", r#"{"recordIds":[]}"#]);
    assert_eq!(code, 2);
    assert_eq!(json["error"]["details"]["field"], "recordIds");

    // Bulk delete and the trash.
    let deleted = contacts_ok(&db, &["bulk-delete", a, b, "rec_missing"]);
    assert_eq!(deleted, json!({"deleted": 2, "skipped": 1}));
    let again = contacts_ok(&db, &["bulk-delete", a]);
    assert_eq!(again, json!({"deleted": 0, "skipped": 1}));
    assert_eq!(names(&list(&db, &[])), ["Third"]);
    let trash = contacts_ok(&db, &["trash"]);
    assert_eq!(trash["total"], 2);
    assert_eq!(trash["page"], 1);
    assert_eq!(trash["pageSize"], 25);
    assert_eq!(sorted(names(&trash)), ["Ada Lovelace", "Grace Hopper"]);
    assert!(
        trash["records"][0]["deletedDateTime"].is_string(),
        "{trash}"
    );

    let restored = contacts_ok(&db, &["bulk-restore", a, "rec_missing", c]);
    assert_eq!(restored, json!({"restored": 1, "skipped": 2}));
    assert_eq!(sorted(names(&list(&db, &[]))), ["Ada Lovelace", "Third"]);
    let trash = contacts_ok(&db, &["trash"]);
    assert_eq!(names(&trash), ["Grace Hopper"]);

    // Purge: only from the trash, and for good.
    assert_eq!(contacts_err(&db, &["purge", a]), err(3, "not_found"));
    let purged = contacts_ok(&db, &["purge", b]);
    assert_eq!(purged, json!({"success": true}));
    assert_eq!(contacts_ok(&db, &["trash"])["total"], 0);
    let (code, _, _) = contacts(&db, &["restore", b]);
    assert_eq!(code, 3);
    let (code, _, _) = contacts(&db, &["history", b]);
    assert_eq!(code, 3, "history goes with the record");

    // Empty trash.
    contacts_ok(&db, &["bulk-delete", a, c]);
    let emptied = contacts_ok(&db, &["empty-trash"]);
    assert_eq!(emptied, json!({"success": true, "purged": 2}));
    assert_eq!(contacts_ok(&db, &["trash"])["total"], 0);
    assert_eq!(list(&db, &[])["total"], 0);
    let emptied = contacts_ok(&db, &["empty-trash"]);
    assert_eq!(emptied, json!({"success": true, "purged": 0}));
    // The purged email is free again.
    create_contact(&db, json!({"email": "ada@example.com"}));

    // Upsert by external id: created, then updated in place.
    let upsert =
        |data: &str| contacts_ok(&db, &["upsert", "--external-id", "crm-42", "--data", data]);
    let first = upsert(r#"{"fields":{"first_name":"Eve","last_name":"Adams","status":"lead"}}"#);
    assert_eq!(first["created"], true);
    assert_eq!(first["record"]["externalId"], "crm-42");
    assert_eq!(first["record"]["version"], 1);
    assert_eq!(first["record"]["displayName"], "Eve Adams");
    let second = upsert(r#"{"fields":{"status":"customer"}}"#);
    assert_eq!(second["created"], false);
    assert_eq!(second["record"]["id"], first["record"]["id"]);
    assert_eq!(second["record"]["version"], 2);
    assert_eq!(second["record"]["fields"]["status"], "customer");
    assert_eq!(second["record"]["fields"]["first_name"], "Eve");
    assert_eq!(second["record"]["externalId"], "crm-42");
    let by_external = list(&db, &["--filter", "externalId=crm-42"]);
    assert_eq!(names(&by_external), ["Eve Adams"]);
    assert_eq!(by_external["total"], 1);
    let (code, json, _) = contacts(
        &db,
        &[
            "upsert",
            "--external-id",
            "crm-42",
            "--data",
            r#"{"externalId":"crm-43","fields":{}}"#,
        ],
    );
    assert_eq!(code, 2);
    assert_eq!(json["error"]["details"]["field"], "externalId");
}
both!(bulk_trash_and_upsert, bulk_trash_and_upsert);
