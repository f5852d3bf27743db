//! The dataset registry: add, update, list, remove; vocabularies checked; `modified` follows
//! the data; every change audited.

use stadtkarte_core::catalog;
use stadtkarte_importers::demo::{self, DemoOptions};
use stadtkarte_opendata::registry::{self, DatasetInput, RegistryError};
use stadtkarte_tests::{config_for, connect, fresh_database};

async fn demo_city() -> tokio_postgres::Client {
    let url = fresh_database().await;
    let mut client = connect(&url).await;
    demo::load(&mut client, DemoOptions::default(), |_| {})
        .await
        .unwrap();
    client
}

fn defaults() -> registry::Defaults {
    stadtkarte::dataset_defaults(&config_for("postgresql://x@localhost/y"))
}

#[tokio::test]
async fn the_demo_datasets_and_their_derived_fields() {
    let client = demo_city().await;
    assert_eq!(registry::fill_demo(&client, &defaults()).await.unwrap(), 5);
    let all = registry::list(&client).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        ["gebaeude", "gewaesser", "orte", "stadtteile", "strassen"]
    );
    let orte = all.iter().find(|d| d.id == "orte").unwrap();
    assert_eq!(orte.collections, ["poi"]);
    let poi = catalog::get(&client, "poi").await.unwrap().unwrap();
    assert_eq!(Some(orte.feature_count), poi.feature_count);
    assert_eq!(orte.extent_crs84, poi.extent_crs84);
    assert_eq!(orte.license, "http://dcat-ap.de/def/licenses/dl-by-de/2.0");
    assert_eq!(
        orte.contributor_id,
        "http://dcat-ap.de/def/contributors/openGovernmentDataPortalRheinlandPfalz"
    );
    assert_eq!(
        orte.political_geocoding,
        "http://dcat-ap.de/def/politicalGeocoding/regionalKey/071110000000"
    );
    assert!(orte.attribution.contains("Datenlizenz Deutschland"));
    assert_eq!(
        orte.title_en.as_deref(),
        Some("Schools, playgrounds, bus stops and toilets")
    );
    // Filling again replaces, it does not duplicate.
    registry::fill_demo(&client, &defaults()).await.unwrap();
    assert_eq!(registry::list(&client).await.unwrap().len(), 5);
}

#[tokio::test]
async fn modified_follows_the_data() {
    let client = demo_city().await;
    registry::fill_demo(&client, &defaults()).await.unwrap();
    let before = registry::get(&client, "strassen")
        .await
        .unwrap()
        .unwrap()
        .modified;
    let other_before = registry::get(&client, "gewaesser")
        .await
        .unwrap()
        .unwrap()
        .modified;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // The data changes (as an import does): the collection's statistics are refreshed.
    client
        .execute(
            "DELETE FROM data.strassen WHERE id = (SELECT min(id) FROM data.strassen)",
            &[],
        )
        .await
        .unwrap();
    catalog::refresh_statistics(&client, "strassen")
        .await
        .unwrap();
    let after = registry::get(&client, "strassen").await.unwrap().unwrap();
    assert!(after.modified > before, "{} > {before}", after.modified);
    let other = registry::get(&client, "gewaesser").await.unwrap().unwrap();
    assert_eq!(
        other.modified, other_before,
        "a dataset whose data did not change keeps its date"
    );
    let strassen = catalog::get(&client, "strassen").await.unwrap().unwrap();
    assert_eq!(Some(after.feature_count), strassen.feature_count);
}

#[tokio::test]
async fn add_update_remove_and_audit() {
    let client = demo_city().await;
    let input = DatasetInput {
        title: Some("Haltestellen und Straßen".into()),
        description: Some("Für eine Verkehrs-App.".into()),
        themes: Some(vec!["TRAN".into()]),
        keywords: Some(vec!["ÖPNV".into()]),
        collections: Some(vec!["poi".into(), "strassen".into()]),
        accrual_periodicity: Some("MONTHLY".into()),
        temporal_start: Some("2020-01-01".into()),
        ..DatasetInput::default()
    };
    let d = registry::add(&client, "verkehr", &input, &defaults(), "sachbearbeiter")
        .await
        .unwrap();
    assert_eq!(d.collections, ["poi", "strassen"]);
    assert_eq!(d.accrual_periodicity, "MONTHLY");
    assert_eq!(d.temporal_start.as_deref(), Some("2020-01-01"));
    assert!(matches!(
        registry::add(&client, "verkehr", &input, &defaults(), "x").await,
        Err(RegistryError::Exists(_))
    ));
    let changed = registry::update(
        &client,
        "verkehr",
        &DatasetInput {
            license: Some("cc-by/4.0".into()),
            collections: Some(vec!["poi".into()]),
            ..DatasetInput::default()
        },
        "sachbearbeiter",
    )
    .await
    .unwrap();
    assert_eq!(changed.license, "http://dcat-ap.de/def/licenses/cc-by/4.0");
    assert_eq!(changed.collections, ["poi"]);
    assert_eq!(
        changed.title, "Haltestellen und Straßen",
        "fields not given stay"
    );
    registry::remove(&client, "verkehr", "sachbearbeiter")
        .await
        .unwrap();
    assert!(registry::get(&client, "verkehr").await.unwrap().is_none());
    assert!(
        catalog::get(&client, "poi").await.unwrap().is_some(),
        "collections stay"
    );
    assert!(matches!(
        registry::remove(&client, "verkehr", "x").await,
        Err(RegistryError::NotFound(_))
    ));
    let actions: Vec<String> = client
        .query(
            "SELECT action FROM catalog.audit_log WHERE subject = 'dataset:verkehr' ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(actions, ["dataset.add", "dataset.update", "dataset.remove"]);
}

#[tokio::test]
async fn bad_values_are_refused_with_the_allowed_ones() {
    let client = demo_city().await;
    let base = DatasetInput {
        title: Some("T".into()),
        description: Some("D".into()),
        collections: Some(vec!["poi".into()]),
        ..DatasetInput::default()
    };
    let cases: Vec<(&str, DatasetInput, &str)> = vec![
        (
            "a",
            DatasetInput {
                themes: Some(vec!["SPORT".into()]),
                ..base.clone()
            },
            "TRAN",
        ),
        (
            "b",
            DatasetInput {
                accrual_periodicity: Some("HOURLY".into()),
                ..base.clone()
            },
            "ANNUAL",
        ),
        (
            "c",
            DatasetInput {
                license: Some("gpl".into()),
                ..base.clone()
            },
            "dl-by-de/2.0",
        ),
        (
            "d",
            DatasetInput {
                temporal_start: Some("01.01.2020".into()),
                ..base.clone()
            },
            "YYYY-MM-DD",
        ),
        (
            "e",
            DatasetInput {
                contact_email: Some("niemand".into()),
                ..base.clone()
            },
            "e-mail",
        ),
        (
            "f",
            DatasetInput {
                collections: Some(vec!["gibtsnicht".into()]),
                ..base.clone()
            },
            "does not exist",
        ),
        (
            "g",
            DatasetInput {
                title: None,
                ..base.clone()
            },
            "title",
        ),
        ("Kein Id", base.clone(), "not a valid dataset id"),
    ];
    for (id, input, expected) in cases {
        let err = registry::add(&client, id, &input, &defaults(), "x")
            .await
            .unwrap_err();
        assert!(err.to_string().contains(expected), "{id}: {err}");
    }
    assert!(registry::list(&client).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imagery_epochs_are_published_checked_and_followed() {
    let work = tempfile::tempdir().unwrap();
    let url = fresh_database().await;
    let imagery_dir = work.path().join("imagery");
    let client = connect(&url).await;
    // Without imagery there is no imagery dataset.
    assert_eq!(
        registry::link_demo_imagery(&client, &defaults())
            .await
            .unwrap(),
        0
    );
    assert!(registry::list(&client).await.unwrap().is_empty());

    let id =
        crate::opendata_sizes::import_epoch(&url, &imagery_dir, work.path(), 1958, false, false)
            .await;
    let unknown = registry::add(
        &client,
        "alt",
        &DatasetInput {
            title: Some("Alt".into()),
            description: Some("Alte Bilder".into()),
            imagery: Some(vec![id.clone(), "luftbild-1999".into()]),
            ..DatasetInput::default()
        },
        &defaults(),
        "x",
    )
    .await
    .unwrap_err();
    assert!(
        unknown
            .to_string()
            .contains("\"luftbild-1999\" does not exist"),
        "{unknown}"
    );

    assert_eq!(
        registry::link_demo_imagery(&client, &defaults())
            .await
            .unwrap(),
        1
    );
    let d = registry::get(&client, registry::DEMO_IMAGERY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.title, "Luftbilder");
    assert_eq!(d.imagery, std::slice::from_ref(&id));
    assert!(d.collections.is_empty());
    assert_eq!(d.themes, ["REGI", "ENVI"]);
    assert_eq!(d.license, "http://dcat-ap.de/def/licenses/dl-by-de/2.0");
    assert_eq!(d.temporal_start.as_deref(), Some("1958-01-01"));
    assert_eq!(d.temporal_end.as_deref(), Some("1958-12-31"));
    let epoch = stadtkarte_core::imagery::get(&client, &id)
        .await
        .unwrap()
        .unwrap();
    let extent = d.extent_crs84.expect("the epoch's footprint is the extent");
    for (a, b) in extent.iter().zip(epoch.bbox) {
        assert!((a - b).abs() < 1e-9, "{extent:?} vs {:?}", epoch.bbox);
    }
    // Linking again replaces the dataset.
    registry::link_demo_imagery(&client, &defaults())
        .await
        .unwrap();
    assert_eq!(registry::list(&client).await.unwrap().len(), 1);

    // A new import of the epoch (delete and insert in one transaction) keeps it in the
    // dataset, and `modified` follows it.
    let before = registry::get(&client, registry::DEMO_IMAGERY)
        .await
        .unwrap()
        .unwrap()
        .modified;
    crate::opendata_sizes::import_epoch(&url, &imagery_dir, work.path(), 1958, false, true).await;
    let after = registry::get(&client, registry::DEMO_IMAGERY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.imagery, std::slice::from_ref(&id));
    assert!(after.modified > before, "{} > {before}", after.modified);

    // An epoch a dataset publishes cannot be removed; unlinked it can.
    let refused = client
        .execute("DELETE FROM catalog.imagery WHERE id = $1", &[&id])
        .await;
    assert!(refused.is_err(), "a published epoch was deleted");
    let unlinked = registry::update(
        &client,
        registry::DEMO_IMAGERY,
        &DatasetInput {
            imagery: Some(vec![]),
            ..DatasetInput::default()
        },
        "x",
    )
    .await
    .unwrap();
    assert!(unlinked.imagery.is_empty());
    client
        .execute("DELETE FROM catalog.imagery WHERE id = $1", &[&id])
        .await
        .unwrap();
}

/// A city's first start creates the open-data datasets of the Mängelmelder and the petitions
/// (in the DCAT-AP.de catalog at once); a dataset staff changed stays as it is on the next
/// start, and `opendata.participation_datasets = false` creates none.
#[test]
fn the_first_start_publishes_the_participation_datasets() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let url = runtime.block_on(fresh_database());
    let ready = |port: u16| {
        let started = std::time::Instant::now();
        while stadtkarte_tests::http_get(port, "/ready").is_none_or(|(s, _)| s != 200) {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "not ready"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    {
        let server = stadtkarte_tests::ServerProcess::start(&[("STADTKARTE_DATABASE__URL", &url)]);
        ready(server.port);
        let (status, ttl) =
            stadtkarte_tests::http_get(server.port, "/opendata/catalog.ttl").expect("catalog");
        assert_eq!(status, 200, "{ttl}");
        for id in ["maengelmeldungen", "petitionen"] {
            assert!(
                ttl.contains(&format!("/opendata/{id}>")),
                "{id} missing in the catalog:\n{ttl}"
            );
        }
    }
    runtime.block_on(async {
        let client = connect(&url).await;
        client
            .execute(
                "UPDATE catalog.datasets SET title = 'Petitionen der Stadt' WHERE id = 'petitionen'",
                &[],
            )
            .await
            .expect("edit");
    });
    {
        let server = stadtkarte_tests::ServerProcess::start(&[("STADTKARTE_DATABASE__URL", &url)]);
        ready(server.port);
    }
    let title: String = runtime.block_on(async {
        connect(&url)
            .await
            .query_one(
                "SELECT title FROM catalog.datasets WHERE id = 'petitionen'",
                &[],
            )
            .await
            .expect("title")
            .get(0)
    });
    assert_eq!(title, "Petitionen der Stadt", "the staff's edit stays");

    let other = runtime.block_on(fresh_database());
    {
        let server = stadtkarte_tests::ServerProcess::start(&[
            ("STADTKARTE_DATABASE__URL", &other),
            ("STADTKARTE_OPENDATA__PARTICIPATION_DATASETS", "false"),
        ]);
        ready(server.port);
    }
    let count: i64 = runtime.block_on(async {
        connect(&other)
            .await
            .query_one("SELECT count(*) FROM catalog.datasets", &[])
            .await
            .expect("count")
            .get(0)
    });
    assert_eq!(count, 0, "switched off: no dataset");
}
