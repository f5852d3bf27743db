//! Migrations: idempotent, recorded, and refusing a changed history.

use stadtkarte_core::migrate::{self, MIGRATIONS, MigrateError};
use stadtkarte_tests::{connect, fresh_database};

#[tokio::test]
async fn running_again_applies_nothing() {
    let url = fresh_database().await;
    let mut client = connect(&url).await;
    assert!(migrate::run(&mut client).await.unwrap().is_empty());
    let n: i64 = client
        .query_one("SELECT count(*) FROM public.stadtkarte_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, i64::try_from(MIGRATIONS.len()).unwrap());
    for schema in ["catalog", "data"] {
        let exists: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
                &[&schema],
            )
            .await
            .unwrap()
            .get(0);
        assert!(exists, "schema {schema}");
    }
    let postgis: String = client
        .query_one("SELECT postgis_lib_version()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(postgis.starts_with('3'), "{postgis}");
}

#[tokio::test]
async fn a_migration_changed_after_it_was_applied_is_refused() {
    let url = fresh_database().await;
    let mut client = connect(&url).await;
    client
        .execute(
            "UPDATE public.stadtkarte_migrations SET checksum = 'tampered' WHERE version = 1",
            &[],
        )
        .await
        .unwrap();
    let err = migrate::run(&mut client).await.unwrap_err();
    assert!(matches!(err, MigrateError::Changed { .. }), "{err}");
    assert!(err.to_string().contains("0001_foundation.sql"), "{err}");
}

#[tokio::test]
async fn a_database_newer_than_the_binary_is_refused() {
    let url = fresh_database().await;
    let mut client = connect(&url).await;
    client
        .execute("INSERT INTO public.stadtkarte_migrations (version, name, checksum) VALUES (999, 'future.sql', 'x')", &[])
        .await
        .unwrap();
    let err = migrate::run(&mut client).await.unwrap_err();
    assert!(matches!(err, MigrateError::Unknown(999)), "{err}");
}

#[tokio::test]
async fn concurrent_runs_apply_each_migration_once() {
    let cluster = stadtkarte_tests::shared_cluster();
    let admin = connect(&cluster.url("postgres")).await;
    admin
        .batch_execute("CREATE DATABASE migrate_race")
        .await
        .unwrap();
    let url = cluster.url("migrate_race");
    let runs = (0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move {
            let mut client = connect(&url).await;
            migrate::run(&mut client).await.unwrap().len()
        })
    });
    let mut applied = 0;
    for run in runs {
        applied += run.await.unwrap();
    }
    assert_eq!(applied, MIGRATIONS.len());
}
