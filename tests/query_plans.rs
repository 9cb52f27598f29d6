//! The plans PostgreSQL keeps for Maestro's paged reads. Every pool connection plans each
//! prepared statement once, without its parameters' values (`plan_cache_mode =
//! force_generic_plan`), so a keyset condition must stay an index range in that one plan:
//! written as `$2 IS NULL OR id > $2` it would become a filter over every row of the run or
//! experiment. These take each statement's text from `.sqlx/` (what the server sends) and
//! ask PostgreSQL, on a connection of the server's own pool, for its generic plan. (Every
//! string formatted into SQL here is a statement from `.sqlx/` or an id the server made.)

mod common;

use common::{TestApp, unique_email};
use serde_json::Value;
use sqlx::AssertSqlSafe;

/// The one statement in `.sqlx/` whose text holds every fragment of `wanted`.
fn statement(wanted: &[&str]) -> String {
    let mut found: Vec<String> = std::fs::read_dir(".sqlx")
        .expect(".sqlx/ is committed")
        .filter_map(|entry| {
            let text = std::fs::read_to_string(entry.ok()?.path()).ok()?;
            let query = serde_json::from_str::<Value>(&text).ok()?["query"]
                .as_str()?
                .to_string();
            wanted.iter().all(|w| query.contains(w)).then_some(query)
        })
        .collect();
    assert_eq!(found.len(), 1, "statements holding {wanted:?}: {found:?}");
    found.remove(0)
}

/// The generic plan of `query` (parameters of `types`) executed with `arguments`.
async fn generic_plan(app: &TestApp, query: &str, types: &str, arguments: &str) -> Value {
    let mut conn = app.state.db.acquire().await.unwrap();
    let mode: String = sqlx::query_scalar("SHOW plan_cache_mode")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(mode, "force_generic_plan", "the pool plans statements once");
    sqlx::raw_sql(AssertSqlSafe(format!(
        "PREPARE planned({types}) AS {query}"
    )))
    .execute(&mut *conn)
    .await
    .unwrap();
    let plan: Value = sqlx::query_scalar(AssertSqlSafe(format!(
        "EXPLAIN (FORMAT JSON) EXECUTE planned({arguments})"
    )))
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    sqlx::raw_sql("DEALLOCATE planned")
        .execute(&mut *conn)
        .await
        .unwrap();
    plan[0]["Plan"].clone()
}

/// Every node of a plan, depth first.
fn nodes(plan: &Value) -> Vec<&Value> {
    let mut out = vec![plan];
    if let Some(children) = plan["Plans"].as_array() {
        out.extend(children.iter().flat_map(nodes));
    }
    out
}

/// The scan of `index` in `plan`, which must hold `condition` in its index condition and
/// filter nothing, with no sort anywhere in the plan.
fn assert_index_range(plan: &Value, index: &str, condition: &str) {
    let all = nodes(plan);
    assert!(
        all.iter().all(|n| n["Node Type"] != "Sort"),
        "no sort: the index gives the order\n{plan:#}"
    );
    let scan = all
        .iter()
        .find(|n| n["Index Name"] == index)
        .unwrap_or_else(|| panic!("a scan of {index}\n{plan:#}"));
    let cond = scan["Index Cond"].as_str().unwrap_or_default();
    assert!(
        cond.contains(condition),
        "{condition} is part of the index range, not a filter: {cond}\n{plan:#}"
    );
    assert!(scan.get("Filter").is_none(), "nothing filtered\n{plan:#}");
}

/// A project with an experiment and a run made through the API; then `fill` (SQL, given
/// the project, experiment and run ids) adds rows in bulk. Returns the three ids.
async fn with_rows(app: &TestApp, fill: impl Fn(&str, &str, &str) -> String) -> [String; 3] {
    let session = app.register(&unique_email("plans")).await;
    let project = app.create_project(&session.access, "plans").await;
    let experiment = app
        .create_experiment(&session.access, &project, "plans")
        .await;
    let run = app.create_run(&session.access, &experiment, "plans").await;
    sqlx::raw_sql(AssertSqlSafe(fill(&project, &experiment, &run)))
        .execute(&app.state.db)
        .await
        .unwrap();
    [project, experiment, run]
}

#[tokio::test]
async fn a_metric_history_page_is_one_index_range_in_the_generic_plan() {
    let app = TestApp::spawn().await;
    // Enough history, over several keys, that a scan of the run's rows would cost.
    let [_, _, run] = with_rows(&app, |_, _, run| {
        format!(
            "INSERT INTO metric_points (run_id, key, step, value, timestamp)
             SELECT '{run}', 'key_' || (i % 20), i, 0.5, now() FROM generate_series(1, 40000) AS i;
             ANALYZE metric_points;"
        )
    })
    .await;

    let query = statement(&["FROM metric_points", "ORDER BY step, id LIMIT"]);
    let plan = generic_plan(
        &app,
        &query,
        "uuid, text, int8, int8, int8",
        &format!("'{run}', 'key_3', 1200, 0, 100"),
    )
    .await;
    assert_index_range(&plan, "metric_points_history", "ROW(step, id) >");
}

#[tokio::test]
async fn a_page_of_an_experiments_runs_is_one_index_range_in_the_generic_plan() {
    let app = TestApp::spawn().await;
    let [_, experiment, _] = with_rows(&app, |project, experiment, _| {
        format!(
            "INSERT INTO runs (id, experiment_id, project_id, name, status, started_at, created_at)
             SELECT gen_random_uuid(), '{experiment}', '{project}', 'run-' || i, 'RUNNING',
                    now(), now() - make_interval(secs => i)
             FROM generate_series(1, 5000) AS i;
             ANALYZE runs;"
        )
    })
    .await;

    let query = statement(&["FROM runs", "ORDER BY created_at, id LIMIT"]);
    let plan = generic_plan(
        &app,
        &query,
        "uuid[], timestamptz, uuid, int8",
        &format!("ARRAY['{experiment}']::uuid[], now() - interval '1 hour', NULL, 11"),
    )
    .await;
    assert_index_range(&plan, "runs_by_experiment_created", "ROW(created_at, id) >");
}
