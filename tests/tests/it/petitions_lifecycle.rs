//! The petitions' background work and the signers' rights: closing at the deadline (with the
//! creator's mail and an audit row), unconfirmed signatures expiring, anonymisation a configured
//! time after closing (names replaced, addresses and postcodes gone, districts and counts kept),
//! and `stadtkarte privacy export|delete` covering petitions (aliases of the address included).

use stadtkarte_core::AppState;
use stadtkarte_petitions::model::{self, NewSignature, SignatureConfirmed};
use stadtkarte_petitions::tasks;
use stadtkarte_tests::{connect, maengel_app};

/// An open petition about Altstadt made in SQL (its creator `creator`); returns its id.
async fn open_petition(state: &AppState, title: &str, creator: &str) -> i64 {
    connect(&state.config.database.url)
        .await
        .query_one(
            "INSERT INTO petitions.petitions (status, title, body, topic, place_kind, districts, geom,
                 creator_name, creator_email, sponsor_key, threshold, residents_only, confirmed_at,
                 published_at, deadline)
             SELECT 'open', $1, repeat('Begründung der Petition. ', 3), 'verkehr', 'districts',
                    ARRAY['Altstadt'], ST_Multi(geom), 'Petra Petentin', $2, md5(random()::text), 100,
                    true, now(), now(), now() + interval '30 days'
             FROM data.stadtteile WHERE name = 'Altstadt'
             RETURNING id",
            &[&title, &creator],
        )
        .await
        .unwrap()
        .get(0)
}

/// Signs `id` through the model and confirms it; returns the signature's id.
async fn signed(state: &AppState, id: i64, name: &str, email: &str, district: &str) -> i64 {
    let client = connect(&state.config.database.url).await;
    let config = &state.config.petitions;
    let s = NewSignature {
        name: name.to_owned(),
        email: email.to_owned(),
        postcode: "56068".to_owned(),
        district: district.to_owned(),
        visibility: "oeffentlich".to_owned(),
        consent: true,
        lang: "de",
        sponsor_key: String::new(),
    };
    let done = model::sign(&client, config, id, &s, Some(district), true, "abc123")
        .await
        .unwrap()
        .unwrap();
    let confirmed = model::confirm_signature(&client, config, &done.token)
        .await
        .unwrap();
    assert_eq!(
        confirmed,
        SignatureConfirmed::Counted {
            petition_id: id,
            sponsor: false
        }
    );
    done.id
}

async fn total(state: &AppState, id: i64) -> (i64, Vec<(String, i64)>) {
    let client = connect(&state.config.database.url).await;
    let c = model::counts(&client, id, true).await.unwrap();
    (c.signatures, c.by_district)
}

#[tokio::test]
async fn the_deadline_closes_petitions_and_unconfirmed_signatures_expire() {
    let (_app, state) = maengel_app(|c| c.petitions.confirm_hours = 72).await;
    let due = open_petition(&state, "Fällige Petition zum Schließen", "due@example.org").await;
    let running = open_petition(&state, "Laufende Petition bleibt offen", "run@example.org").await;
    let client = connect(&state.config.database.url).await;
    client
        .execute(
            "UPDATE petitions.petitions SET deadline = now() - interval '1 minute' WHERE id = $1",
            &[&due],
        )
        .await
        .unwrap();
    assert_eq!(tasks::close_due(&state).await.unwrap(), 1);
    let statuses: Vec<(i64, String)> = client
        .query(
            "SELECT id, status FROM petitions.petitions WHERE id = ANY($1) ORDER BY id",
            &[&vec![due, running]],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        statuses,
        [(due, "closed".to_owned()), (running, "open".to_owned())]
    );
    let mails: i64 = client
        .query_one(
            "SELECT count(*) FROM petitions.outbox WHERE recipient = 'due@example.org' AND kind = 'closed'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(mails, 1, "the creator hears of it");
    let audited: i64 = client
        .query_one(
            "SELECT count(*) FROM catalog.audit_log WHERE action = 'petition.close' AND subject = $1",
            &[&format!("petition:{due}")],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 1);
    // A closed petition takes no confirmation any more; an unconfirmed signature expires.
    signed(&state, running, "Anna Alt", "anna@example.org", "Altstadt").await;
    let s = NewSignature {
        name: "Otto Offen".to_owned(),
        email: "otto@example.org".to_owned(),
        postcode: "56068".to_owned(),
        visibility: "anonym".to_owned(),
        consent: true,
        lang: "de",
        ..NewSignature::default()
    };
    let pending = model::sign(
        &client,
        &state.config.petitions,
        running,
        &s,
        None,
        true,
        "h",
    )
    .await
    .unwrap()
    .unwrap();
    client
        .execute(
            "UPDATE petitions.signatures SET created_at = now() - interval '73 hours' WHERE id = $1",
            &[&pending.id],
        )
        .await
        .unwrap();
    let (signatures, _) = tasks::expire_unconfirmed(&state).await.unwrap();
    assert_eq!(signatures, 1);
    let left: i64 = client
        .query_one(
            "SELECT count(*) FROM petitions.signatures WHERE petition_id = $1",
            &[&running],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 1, "the confirmed signature stays");
    assert_eq!(
        model::confirm_signature(&client, &state.config.petitions, &pending.token)
            .await
            .unwrap(),
        SignatureConfirmed::Unknown,
        "an expired link confirms nothing"
    );
}

#[tokio::test]
async fn signatures_are_anonymised_after_closing_and_the_counts_stay() {
    let (_app, state) = maengel_app(|c| c.petitions.anonymise_after_days = 182).await;
    let old = open_petition(&state, "Alte geschlossene Petition", "alt@example.org").await;
    let recent = open_petition(&state, "Kürzlich geschlossene Petition", "neu@example.org").await;
    let a = signed(
        &state,
        old,
        "Anna Anonymisiert",
        "anna.a@example.org",
        "Altstadt",
    )
    .await;
    signed(&state, old, "Bert Beispiel", "bert@example.org", "Mitte").await;
    signed(
        &state,
        recent,
        "Clara Current",
        "clara@example.org",
        "Altstadt",
    )
    .await;
    let client = connect(&state.config.database.url).await;
    client
        .execute(
            "UPDATE petitions.petitions SET status = 'closed',
                 closed_at = CASE WHEN id = $1 THEN now() - interval '183 days' ELSE now() - interval '10 days' END
             WHERE id = ANY($2)",
            &[&old, &vec![old, recent]],
        )
        .await
        .unwrap();
    let before = total(&state, old).await;
    assert_eq!(before.0, 2);
    assert_eq!(tasks::anonymise(&state).await.unwrap(), 2);
    let row = client
        .query_one(
            "SELECT name, email, email_canonical, postcode, client_hash, district, visibility
             FROM petitions.signatures WHERE id = $1",
            &[&a],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), format!("Unterschrift {a}"));
    for i in 1..5 {
        assert_eq!(row.get::<_, Option<String>>(i), None, "column {i}");
    }
    assert_eq!(row.get::<_, Option<String>>(5).as_deref(), Some("Altstadt"));
    assert_eq!(row.get::<_, String>(6), "anonymous");
    assert_eq!(total(&state, old).await, before, "the counts stay");
    let creator: Option<String> = client
        .query_one(
            "SELECT creator_email FROM petitions.petitions WHERE id = $1",
            &[&old],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(creator, None);
    let untouched: i64 = client
        .query_one(
            "SELECT count(*) FROM petitions.signatures WHERE petition_id = $1 AND email IS NOT NULL",
            &[&recent],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        untouched, 1,
        "a petition closed ten days ago keeps its signers"
    );
    // The audit row has counts, never data; a second run has nothing to do.
    let details: serde_json::Value = client
        .query_one(
            "SELECT details FROM catalog.audit_log WHERE action = 'petition.anonymise'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(details["signatures"], 2);
    assert!(!details.to_string().contains("example.org"));
    assert_eq!(tasks::anonymise(&state).await.unwrap(), 0);
}

#[tokio::test]
async fn privacy_export_and_delete_cover_petitions_and_aliases() {
    let (_app, state) = maengel_app(|_| {}).await;
    let own = open_petition(&state, "Eigene Petition von Paula", "paula.p@gmail.com").await;
    let other = open_petition(&state, "Petition von jemand anderem", "x@example.org").await;
    // Signed with an alias of the address; someone else signs too.
    let sig = signed(
        &state,
        other,
        "Paula P",
        "Paula.P+petition@googlemail.com",
        "Mitte",
    )
    .await;
    signed(&state, other, "Someone Else", "else@example.org", "Mitte").await;
    let client = connect(&state.config.database.url).await;
    stadtkarte_petitions::notify::creator_news(&client, &state, own, "published", "")
        .await
        .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(stadtkarte_tests::stadtkarte_bin())
            .args(args)
            .env("STADTKARTE_DATABASE__URL", &state.config.database.url)
            .env("STADTKARTE_LOG__LEVEL", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let export: serde_json::Value =
        serde_json::from_str(&run(&["privacy", "export", "--email", "paula.p@gmail.com"])).unwrap();
    assert_eq!(export["petitionen"][0]["nummer"], own);
    let signatures = export["unterschriften"].as_array().unwrap();
    assert_eq!(signatures.len(), 1, "{export}");
    assert_eq!(signatures[0]["petition"], other);
    assert_eq!(signatures[0]["name"], "Paula P");
    assert_eq!(export["e_mails_petitionen"].as_array().unwrap().len(), 1);
    let before = total(&state, other).await;
    run(&["privacy", "delete", "--email", "paula.p@gmail.com"]);
    let export: serde_json::Value =
        serde_json::from_str(&run(&["privacy", "export", "--email", "paula.p@gmail.com"])).unwrap();
    assert!(
        export["petitionen"].as_array().unwrap().is_empty(),
        "{export}"
    );
    assert!(export["unterschriften"].as_array().unwrap().is_empty());
    assert!(export["e_mails_petitionen"].as_array().unwrap().is_empty());
    let row = client
        .query_one(
            "SELECT name, email FROM petitions.signatures WHERE id = $1",
            &[&sig],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), format!("Unterschrift {sig}"));
    assert_eq!(row.get::<_, Option<String>>(1), None);
    assert_eq!(
        total(&state, other).await,
        before,
        "the signature still counts"
    );
    let others: i64 = client
        .query_one(
            "SELECT count(*) FROM petitions.signatures WHERE email = 'else@example.org'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(others, 1, "nobody else's data is touched");
}
