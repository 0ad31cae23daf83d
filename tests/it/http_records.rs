//! Spec 000's Records endpoints through a real server: CRUD with a 409 version conflict, list
//! parameters and the page size cap, trash, bulk operations, versions, references; 401 and 403.

use recordport::apikeys::Scope;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::common::TestDb;
use crate::http_support::{Server, assert_error, key_with};

async fn crud_with_conflict(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let records = "/v1/modules/contacts/records";

    let (status, created) = server
        .post(
            records,
            json!({"fields": {"first_name": "Ada", "last_name": "Lovelace",
                "email": "ADA@example.com", "status": "lead"}, "labelIds": ["lbl_vip"]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let record = &created["record"];
    let id = record["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("rec_"));
    assert_eq!(record["displayName"], "Ada Lovelace");
    assert_eq!(record["fields"]["email"], "ada@example.com");
    assert_eq!(record["moduleSlug"], "contacts");
    assert_eq!(record["version"], 1);
    assert_eq!(record["createdByDisplayName"], "test");

    let (status, got) = server.get(&format!("{records}/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got["record"], *record);

    let (status, updated) = server
        .call(
            Method::PATCH,
            &format!("{records}/{id}"),
            json!({"version": 1, "fields": {"status": "customer"}}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["record"]["version"], 2);
    assert_eq!(updated["record"]["fields"]["status"], "customer");
    assert_eq!(updated["record"]["labelIds"], json!(["lbl_vip"]));

    // A second writer that still holds version 1 is refused.
    let (status, body) = server
        .call(
            Method::PATCH,
            &format!("{records}/{id}"),
            json!({"version": 1, "fields": {"status": "churned"}}),
        )
        .await;
    assert_error(status, &body, 409, "conflict");
    assert_eq!(body["error"]["details"]["currentVersion"], 2);

    let (status, body) = server
        .post(records, json!({"fields": {"email": "not-an-email"}}))
        .await;
    assert_error(status, &body, 400, "validation_error");
    assert_eq!(body["error"]["details"]["field"], "email");

    let (status, body) = server
        .post(records, json!({"fields": {"email": "ada@example.com"}}))
        .await;
    assert_error(status, &body, 409, "conflict");

    let (status, versions) = server.get(&format!("{records}/{id}/versions")).await;
    assert_eq!(status, 200);
    assert_eq!(versions["versions"][0]["version"], 2);
    let (status, old) = server.get(&format!("{records}/{id}?version=1")).await;
    assert_eq!(status, 200);
    assert_eq!(old["record"]["fields"]["status"], "lead");

    let (status, body) = server
        .call(Method::DELETE, &format!("{records}/{id}"), Value::Null)
        .await;
    assert_eq!((status.as_u16(), body), (200, json!({"success": true})));
    let (status, body) = server.get(&format!("{records}/{id}")).await;
    assert_error(status, &body, 404, "not_found");
    let (_, trash) = server.get(&format!("{records}/trash")).await;
    assert_eq!(trash["total"], 1);
    let (status, restored) = server
        .post(&format!("{records}/{id}/restore"), Value::Null)
        .await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["record"]["id"], id.as_str());

    let (status, body) = server.get("/v1/modules/nope/records").await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = server.get("/v1/no/such/route").await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = server.call(Method::PUT, records, json!({})).await;
    assert_error(status, &body, 405, "method_not_allowed");
}
both!(records_crud_with_version_conflict, crud_with_conflict);

async fn list_bulk_and_trash(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let records = "/v1/modules/contacts/records";
    let mut ids = Vec::new();
    for (i, status) in ["lead", "active", "active", "customer"].iter().enumerate() {
        let (code, body) = server
            .post(
                records,
                json!({"displayName": format!("Person {i}"),
                    "fields": {"email": format!("p{i}@acme.com"), "status": status,
                        "deal_value": (i as i64 + 1) * 1000}}),
            )
            .await;
        assert_eq!(code, 201, "{body}");
        ids.push(body["record"]["id"].as_str().unwrap().to_string());
    }

    let (status, page) = server
        .get(&format!(
            "{records}?filter[status]=active,customer&sortField=deal_value&sortDirection=desc&pageSize=2&page=1&fields=email"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 3);
    assert_eq!(page["page"], 1);
    assert_eq!(page["pageSize"], 2);
    let names: Vec<&str> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Person 3", "Person 2"]);
    assert!(page["records"][0]["fields"].get("status").is_none());

    // Page sizes above 100 are clamped, as the library does.
    let (_, page) = server.get(&format!("{records}?pageSize=500")).await;
    assert_eq!(page["pageSize"], 100);
    assert_eq!(page["total"], 4);

    let filter = json!({"root": {"id": "g1", "conjunction": "AND", "conditions": [
        {"id": "c1", "fieldSlug": "deal_value", "operator": "gte", "value": 2000},
        {"id": "c2", "fieldSlug": "email", "operator": "endsWith", "value": "acme.com"}]}});
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("advancedFilter", &filter.to_string())
        .append_pair("search", "person")
        .finish();
    let (status, page) = server.get(&format!("{records}?{query}")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 3);

    let (status, body) = server.get(&format!("{records}?bogus=1")).await;
    assert_error(status, &body, 400, "validation_error");

    let (status, body) = server
        .post(
            &format!("{records}/bulk"),
            json!({"recordIds": [ids[0], ids[1]], "addLabelIds": ["lbl_reviewed"], "addTypeIds": ["type_qualified"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"][1]["labelIds"], json!(["lbl_reviewed"]));
    let (_, page) = server
        .get(&format!("{records}?labelIds=lbl_reviewed"))
        .await;
    assert_eq!(page["total"], 2);

    let (status, body) = server
        .post(
            &format!("{records}/bulk-delete"),
            json!({"recordIds": [ids[0], ids[1], "rec_missing"]}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body),
        (200, json!({"deleted": 2, "skipped": 1}))
    );
    let (status, body) = server
        .post(
            &format!("{records}/bulk-restore"),
            json!({"recordIds": [ids[0]]}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body),
        (200, json!({"restored": 1, "skipped": 0}))
    );
    let (status, body) = server
        .call(
            Method::DELETE,
            &format!("{records}/{}/purge", ids[1]),
            Value::Null,
        )
        .await;
    assert_eq!((status.as_u16(), body), (200, json!({"success": true})));
    server
        .call(
            Method::DELETE,
            &format!("{records}/{}", ids[2]),
            Value::Null,
        )
        .await;
    let (status, body) = server
        .post(&format!("{records}/empty-trash"), Value::Null)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["purged"], 1);
    let (_, page) = server.get(records).await;
    assert_eq!(page["total"], 2);

    let (status, body) = server.get("/v1/modules/contacts/references").await;
    assert_eq!(status, 200);
    assert!(
        body["references"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["slug"] == "account" && r["targetModuleSlug"] == "accounts")
    );
    let (_, account) = server
        .post(
            "/v1/modules/accounts/records",
            json!({"fields": {"name": "Acme", "domain": "acme.com", "industry": "Technology"}}),
        )
        .await;
    let account_id = account["record"]["id"].as_str().unwrap();
    let (_, linked) = server
        .call(
            Method::PATCH,
            &format!("{records}/{}", ids[0]),
            json!({"fields": {"account": account_id}}),
        )
        .await;
    assert_eq!(linked["record"]["fields"]["account"], account_id);
    let (status, body) = server
        .get(&format!(
            "/v1/modules/contacts/references/account/records/{}",
            ids[0]
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["recordIds"], json!([account_id]));
    assert_eq!(body["records"][0]["displayName"], "Acme");

    let (status, picked) = server
        .get("/v1/modules/contacts/references/account/picker?search=acm&limit=5")
        .await;
    assert_eq!(status, 200, "{picked}");
    assert_eq!(
        picked["records"],
        json!([{"id": account_id, "label": "Acme", "subtitle": "Technology"}])
    );
    let (_, none) = server
        .get("/v1/modules/contacts/references/account/picker?search=zzz")
        .await;
    assert_eq!(none["records"], json!([]));
    let (status, body) = server
        .get("/v1/modules/contacts/references/email/picker")
        .await;
    assert_error(status, &body, 400, "validation_error");
}
both!(records_list_bulk_trash_references, list_bulk_and_trash);

async fn keys_and_scopes(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let records = "/v1/modules/contacts/records";

    let response = server.client.get(server.url(records)).send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let (status, body) = crate::http_support::json_of(response).await;
    assert_error(status, &body, 401, "unauthorized");

    let (status, body) = server
        .call_with(Some("rpk_0000"), Method::GET, records, Value::Null)
        .await;
    assert_error(status, &body, 401, "unauthorized");

    let reader = key_with(&db, &[Scope::RecordsRead]).await;
    let (status, _) = server
        .call_with(Some(&reader), Method::GET, records, Value::Null)
        .await;
    assert_eq!(status, 200);
    let (status, body) = server
        .call_with(Some(&reader), Method::POST, records, json!({"fields": {}}))
        .await;
    assert_error(status, &body, 403, "forbidden");
    assert_eq!(body["error"]["details"]["requiredScope"], "records:write");
    let (status, body) = server
        .call_with(Some(&reader), Method::GET, "/v1/export-jobs", Value::Null)
        .await;
    assert_error(status, &body, 403, "forbidden");

    // A revoked key stops working at once.
    let keys = recordport::apikeys::list(db.service.store()).await.unwrap();
    let reader_id = &keys
        .iter()
        .find(|k| k.scopes == [Scope::RecordsRead])
        .unwrap()
        .id;
    recordport::apikeys::revoke(db.service.store(), reader_id)
        .await
        .unwrap();
    let (status, body) = server
        .call_with(Some(&reader), Method::GET, records, Value::Null)
        .await;
    assert_error(status, &body, 401, "unauthorized");
}
both!(http_keys_and_scopes, keys_and_scopes);
