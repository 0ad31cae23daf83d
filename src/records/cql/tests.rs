//! The parser and the compiler without a store: every construct, positions of errors, hostile
//! input.

use serde_json::{Map, Value, json};

use super::compile::{Context, Plan, compile};
use super::lexer::{CmpOp, lex};
use super::parser::{Expr, Operand, Query, SelectItem, parse};
use crate::error::Error;
use crate::records::query::{AggregateFn, SortDirection};
use crate::schema::Module;
use crate::schema::value::ValueOptions;
use crate::store::Dialect;

fn tree(text: &str) -> Query {
    parse(&lex(text).unwrap()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn parse_error(text: &str) -> String {
    match lex(text).and_then(|tokens| parse(&tokens)) {
        Ok(q) => panic!("{text} parsed: {q:?}"),
        Err(e) => e.to_string(),
    }
}

fn modules() -> Vec<Module> {
    let contacts = Module::from_test_json(json!({
        "slug": "contacts", "name": "Contacts",
        "fields": [
            {"slug": "first_name", "label": "First", "type": "text"},
            {"slug": "email", "label": "Email", "type": "email"},
            {"slug": "deal_value", "label": "Deal", "type": "currency"},
            {"slug": "active", "label": "Active", "type": "boolean"},
            {"slug": "status", "label": "Status", "type": "select", "options": ["lead", "customer"]},
            {"slug": "phone", "label": "Phone", "type": "phone"},
            {"slug": "address", "label": "Address", "type": "address"},
            {"slug": "account", "label": "Account", "type": "reference", "target": "accounts"}
        ]
    }));
    let mut accounts = Module::from_test_json(json!({
        "slug": "accounts", "name": "Accounts",
        "fields": [{"slug": "name", "label": "Name", "type": "text"}]
    }));
    accounts.id = "mod_2".into();
    vec![contacts, accounts]
}

fn compiled(text: &str, parameters: Value) -> Result<Plan, Error> {
    let modules = modules();
    let parameters: Map<String, Value> = serde_json::from_value(parameters).unwrap();
    let tokens = lex(text)?;
    compile(
        &parse(&tokens)?,
        &Context {
            modules: &modules,
            parameters: &parameters,
            dialect: Dialect::Sqlite,
            options: &ValueOptions::default(),
        },
    )
}

fn compile_error(text: &str, parameters: Value) -> Error {
    match compiled(text, parameters) {
        Ok(plan) => panic!("{text} compiled: {plan:?}"),
        Err(e) => e,
    }
}

#[test]
fn every_clause_parses_in_any_case() {
    let q = tree(
        "from Contacts where deal_value between 50 and 200 and (active = true or status <> 'lead') \
         order by deal_value desc limit 10 offset 20",
    );
    assert_eq!(q.module.dotted(), "Contacts");
    assert_eq!(q.limit.map(|l| l.0), Some(10));
    assert_eq!(q.offset.map(|l| l.0), Some(20));
    let (sort, descending) = q.order_by.unwrap();
    assert_eq!(
        (sort.dotted().as_str(), descending),
        ("deal_value", Some(true))
    );
    let Some(Expr::And(terms)) = q.filter else {
        panic!("AND at the top")
    };
    assert!(matches!(&terms[0], Expr::Between { negated: false, .. }));
    let Expr::Or(alternatives) = &terms[1] else {
        panic!("the parenthesised OR")
    };
    assert!(matches!(
        &alternatives[1],
        Expr::Compare { op: CmpOp::Neq, value: Operand::Literal(Value::String(s), _), .. } if s == "lead"
    ));
}

#[test]
fn predicates_literals_and_parameters() {
    let q = tree(
        "FROM c WHERE a IN (1, 'x', true) AND b NOT IN :ids AND c IS NOT NULL AND NOT d = null \
         AND e NOT BETWEEN -1.5 AND :hi AND SEARCH(\"machine learning\") IN (title, content)",
    );
    let Some(Expr::And(terms)) = q.filter else {
        panic!()
    };
    assert!(matches!(&terms[0], Expr::In { values, negated: false, .. } if values.len() == 3));
    assert!(matches!(&terms[1], Expr::In { values, negated: true, .. }
        if matches!(&values[0], Operand::Param(p, _) if p == "ids")));
    assert!(matches!(&terms[2], Expr::IsNull { negated: true, .. }));
    assert!(matches!(&terms[3], Expr::Not(inner)
        if matches!(&**inner, Expr::Compare { value: Operand::Literal(Value::Null, _), .. })));
    assert!(
        matches!(&terms[4], Expr::Between { negated: true, low: Operand::Literal(v, _), .. } if *v == json!(-1.5))
    );
    assert!(matches!(&terms[5], Expr::Search { fields, .. } if fields.len() == 2));
}

#[test]
fn group_select_and_includes_parse() {
    let q = tree(
        "FROM Order\nGROUP BY status\nSELECT status, COUNT(*) as count, SUM(total) AS totalRevenue, avg(total)",
    );
    assert_eq!(q.group_by[0].dotted(), "status");
    assert!(
        matches!(&q.select[1], SelectItem::Aggregate { function: AggregateFn::Count, field: None, alias: Some(a), .. } if a == "count")
    );
    assert!(matches!(
        &q.select[3],
        SelectItem::Aggregate {
            function: AggregateFn::Avg,
            alias: None,
            ..
        }
    ));
    let q = tree(
        "FROM Order WHERE status = \"pending\"\n\
         INCLUDE items FROM OrderItem WHERE orderId = Order.id\n\
         INCLUDE customer FROM Customer WHERE id = Order.customerId",
    );
    assert_eq!(q.includes.len(), 2);
    assert_eq!(q.includes[1].relation, "customer");
    assert!(
        matches!(&q.includes[1].filter, Expr::Compare { value: Operand::Field(n), .. } if n.dotted() == "Order.customerId")
    );
    // Comments as in the spec's examples.
    let q = tree("-- Basic query\nFROM Product WHERE category = \"electronics\" -- trailing");
    assert!(q.filter.is_some());
}

#[test]
fn syntax_errors_name_the_place_and_what_was_expected() {
    assert_eq!(
        parse_error("FROM contacts WHERE status = "),
        "line 1, column 30: expected a value (a string, number, true, false, null or :parameter), found the end of the query"
    );
    assert_eq!(
        parse_error("FROM contacts\nWHERE (status = 'a'"),
        "line 2, column 20: expected \")\" or AND/OR, found the end of the query"
    );
    assert!(parse_error("SELECT * FROM x").starts_with("line 1, column 1: expected FROM"));
    assert!(
        parse_error("FROM x WHERE a = 1 WHERE b = 2").contains("column 20: WHERE is given twice")
    );
    assert!(parse_error("FROM x LIMIT -1").contains("column 14: LIMIT takes a whole number"));
    assert!(parse_error("FROM x WHERE a LIKE 'b'").contains("column 16: expected a comparison"));
    assert!(parse_error("FROM x ORDER BY a, b").contains("ORDER BY takes one field"));
    assert!(parse_error("FROM x SELECT FOO(a)").contains("unknown function FOO"));
    assert!(parse_error("FROM x WHERE and = 1").contains("column 14: expected a field name"));
    assert!(parse_error("FROM x WHERE a = 'it''s").contains("column 18: unterminated string"));
}

#[test]
fn hostile_input_is_bounded() {
    let deep = format!("FROM x WHERE {}a = 1{}", "(".repeat(3000), ")".repeat(3000));
    assert!(parse_error(&deep).contains("nest more than 5 deep"));
    let nots = format!("FROM x WHERE {}a = 1", "NOT ".repeat(2000));
    assert!(parse_error(&nots).contains("nest more than 5 deep"));
    let many = format!(
        "FROM x WHERE {}",
        (0..101)
            .map(|i| format!("a = {i}"))
            .collect::<Vec<_>>()
            .join(" OR ")
    );
    assert!(parse_error(&many).contains("at most 100 conditions"));
    let long = format!("FROM x WHERE a = '{}'", "x".repeat(20_000));
    assert!(parse_error(&long).contains("at most 10000"));
    let list = format!(
        "FROM x WHERE a IN ({})",
        (0..1001)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    assert!(parse_error(&list).contains("at most 1000 values"));
    let includes = "FROM x ".to_string() + &"INCLUDE r FROM y WHERE a = x.id ".repeat(6);
    assert!(parse_error(&includes).contains("at most 5 INCLUDE"));
}

#[test]
fn unknown_names_suggest_the_nearest() {
    let e = compile_error(
        "FROM contacts WHERE status = 'lead' AND dealvalue > 5",
        json!({}),
    );
    assert_eq!(
        e.to_string(),
        "line 1, column 41: unknown field \"dealvalue\" in contacts (did you mean deal_value?)"
    );
    assert_eq!(e.code(), "validation_error");
    assert_eq!(
        e.to_json()["error"]["details"],
        json!({"line": 1, "column": 41})
    );
    let e = compile_error("FROM contacts WHERE dealValue > 5", json!({}));
    assert!(e.to_string().contains("did you mean deal_value?"), "{e}");
    let e = compile_error("FROM contact WHERE email = 'a@b.c'", json!({}));
    assert_eq!(
        e.to_string(),
        "line 1, column 6: unknown module \"contact\" (did you mean contacts?)"
    );
    let e = compile_error("FROM contacts ORDER BY zzzzzz", json!({}));
    assert!(
        e.to_string().starts_with(
            "line 1, column 24: unknown field \"zzzzzz\" in contacts (fields: first_name"
        ),
        "{e}"
    );
    let e = compile_error("FROM contacts WHERE address.town = 'x'", json!({}));
    assert!(
        e.to_string().starts_with("line 1, column 21:")
            && e.to_string().contains("unknown address part"),
        "{e}"
    );
}

#[test]
fn values_are_checked_for_their_fields_at_their_place() {
    let e = compile_error("FROM contacts WHERE deal_value > 'lots'", json!({}));
    assert!(
        e.to_string().starts_with("line 1, column 34: deal_value"),
        "{e}"
    );
    let e = compile_error("FROM contacts WHERE status IN ('lead', 'nope')", json!({}));
    assert!(
        e.to_string().starts_with("line 1, column 40: status"),
        "{e}"
    );
    let e = compile_error("FROM contacts WHERE deal_value > :min", json!({"other": 1}));
    assert_eq!(
        e.to_string(),
        "line 1, column 34: parameter :min is not in the request's parameters (other)"
    );
    let e = compile_error("FROM contacts WHERE deal_value < null", json!({}));
    assert!(e.to_string().contains("IS NULL"), "{e}");
    let e = compile_error("FROM contacts WHERE email = first_name", json!({}));
    assert!(e.to_string().contains("is a name, not a value"), "{e}");
    let e = compile_error("FROM contacts LIMIT 5000", json!({}));
    assert!(
        e.to_string()
            .starts_with("line 1, column 21: LIMIT takes 1 to 1000"),
        "{e}"
    );
}

#[test]
fn where_becomes_the_lists_filter_with_not_pushed_down() {
    let plan = compiled(
        "FROM Contacts WHERE NOT (deal_value >= :min OR status IN :statuses) AND email IS NULL \
         ORDER BY first_name",
        json!({"min": 100, "statuses": ["lead", "customer"]}),
    )
    .unwrap();
    assert_eq!(plan.module.slug(), "contacts");
    assert_eq!(
        plan.list.advanced_filter.unwrap(),
        json!({"root": {"conjunction": "AND", "conditions": [
            {"conjunction": "AND", "conditions": [
                {"fieldSlug": "deal_value", "operator": "lt", "value": 100},
                {"fieldSlug": "status", "operator": "notIn", "values": ["lead", "customer"]}
            ]},
            {"fieldSlug": "email", "operator": "isNull"}
        ]}})
    );
    assert_eq!(plan.list.sort_field.as_deref(), Some("first_name"));
    assert_eq!(plan.list.sort_direction, Some(SortDirection::Asc));
    assert_eq!((plan.limit, plan.offset), (100, 0));

    let plan = compiled(
        "FROM contacts WHERE NOT SEARCH('ada lovelace') IN (first_name, email)",
        json!({}),
    )
    .unwrap();
    let not_contains =
        |f: &str, w: &str| json!({"fieldSlug": f, "operator": "notContains", "value": w});
    assert_eq!(
        plan.list.advanced_filter.unwrap()["root"],
        json!({"conjunction": "OR", "conditions": [
            {"conjunction": "AND", "conditions": [not_contains("first_name", "ada"), not_contains("email", "ada")]},
            {"conjunction": "AND", "conditions": [not_contains("first_name", "lovelace"), not_contains("email", "lovelace")]}
        ]})
    );
}

#[test]
fn groups_and_includes_compile() {
    let plan = compiled(
        "FROM contacts GROUP BY status SELECT status AS stage, COUNT(*) AS n, SUM(deal_value) ORDER BY n DESC",
        json!({}),
    )
    .unwrap();
    let grouping = plan.grouping.unwrap();
    assert_eq!(grouping.key_names, ["stage"]);
    assert_eq!(grouping.aggregates[1].name, "sum_deal_value");
    assert_eq!(grouping.order, Some(("n".to_string(), SortDirection::Desc)));
    let e = compile_error("FROM contacts GROUP BY status SELECT email", json!({}));
    assert!(e.to_string().contains("\"email\" is not grouped"), "{e}");
    let e = compile_error("FROM contacts SELECT SUM(first_name)", json!({}));
    assert!(
        e.to_string()
            .starts_with("line 1, column 22: first_name: SUM needs a number"),
        "{e}"
    );
    let e = compile_error("FROM contacts GROUP BY phone", json!({}));
    assert!(
        e.to_string()
            .starts_with("line 1, column 24: phone: cannot group"),
        "{e}"
    );

    let plan = compiled(
        "FROM accounts INCLUDE people FROM Contacts WHERE account = Accounts.id AND deal_value > 10",
        json!({}),
    )
    .unwrap();
    let include = &plan.includes[0];
    assert_eq!(
        (
            include.relation.as_str(),
            include.child_field.as_str(),
            include.parent_field.as_str()
        ),
        ("people", "account", "id")
    );
    assert!(include.list.advanced_filter.is_some());
    let e = compile_error(
        "FROM accounts INCLUDE people FROM contacts WHERE deal_value > 10",
        json!({}),
    );
    assert!(
        e.to_string()
            .contains("needs one condition that links it to accounts"),
        "{e}"
    );
    let e = compile_error(
        "FROM accounts INCLUDE people FROM contacts WHERE account = deals.id",
        json!({}),
    );
    assert!(e.to_string().contains("names a field of accounts"), "{e}");
    let e = compile_error(
        "FROM accounts INCLUDE people FROM contacts WHERE phone = accounts.id",
        json!({}),
    );
    assert!(
        e.to_string().contains("links by a field with one value"),
        "{e}"
    );
}

#[test]
fn the_deepest_query_allowed_fits_the_lists_filter() {
    let mut text = "first_name = 'a' OR SEARCH('x y') IN (first_name, email)".to_string();
    for i in 0..5 {
        let conjunction = if i % 2 == 0 { "AND" } else { "OR" };
        text = format!("NOT status = 'lead' {conjunction} ({text})");
    }
    compiled(&format!("FROM contacts WHERE {text}"), json!({})).unwrap();
}
