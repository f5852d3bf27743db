//! The petitions' back office through its pages: the queue and its tabs, a petition's page
//! with the creator's contact for staff only, every moderation action (with its mail in the
//! outbox and its audit entry in the same transaction, 409 for the wrong status), who may
//! enter, the bulk invalidation of signatures with the counts corrected, trending alerts, and
//! comments restored after being hidden by reports. Petitions and signatures are made in SQL
//! (the citizens' pages are tested on their own).

use axum::Router;
use serde_json::Value;
use stadtkarte_core::AppState;
use stadtkarte_core::auth::Role;
use stadtkarte_core::config::Config;
use stadtkarte_tests::{app_with, config_for, connect, demo_copy, fresh_database, get};
use tokio_postgres::Client;

use crate::maengel::{staff, staff_get, staff_post};

const BODY: &str = "Die Ampel an der Kreuzung schaltet für Fußgänger viel zu kurz auf Grün.";

async fn app(tweak: impl FnOnce(&mut Config)) -> (Router, AppState, Client) {
    app_on(fresh_database().await, tweak).await
}

/// The application over the database `url`.
async fn app_on(url: String, tweak: impl FnOnce(&mut Config)) -> (Router, AppState, Client) {
    let mut config = config_for(&url);
    tweak(&mut config);
    let (router, state) = app_with(config).await;
    let client = connect(&state.config.database.url).await;
    (router, state, client)
}

async fn moderator(state: &AppState) -> (String, String) {
    let (cookie, csrf, _) =
        staff(state, "moderation@test.example", &[(Role::Moderator, None)]).await;
    (cookie, csrf)
}

/// A petition in `status`, made directly in the database; open ones are published now.
async fn petition(client: &Client, status: &str, title: &str) -> i64 {
    client
        .query_one(
            "INSERT INTO petitions.petitions (status, title, body, topic, place_kind, districts,
                 creator_name, creator_email, lang, sponsor_key, threshold, residents_only, geom,
                 confirmed_at, published_at, deadline)
             VALUES ($1, $2, $3, 'verkehr', 'point', '{Altstadt}', 'Erika Mustermann',
                 'erika@example.org', 'de', md5(random()::text), 10, false,
                 ST_Transform(ST_SetSRID(ST_MakePoint(7.5986, 50.3597), 4326), 25832), now(),
                 CASE WHEN $1 IN ('open', 'closed') THEN now() END,
                 CASE WHEN $1 IN ('open', 'closed') THEN now() + interval '30 days' END)
             RETURNING id",
            &[&status, &title, &BODY],
        )
        .await
        .unwrap()
        .get(0)
}

/// `n` signatures from `domain` (addresses `{prefix}{i}@{domain}`), with `client` as the
/// client hash, made `minutes_ago`; confirmed or not.
#[allow(clippy::too_many_arguments)]
async fn signatures(
    client: &Client,
    petition: i64,
    prefix: &str,
    domain: &str,
    client_hash: &str,
    n: i32,
    minutes_ago: i32,
    confirmed: bool,
) {
    client
        .execute(
            "INSERT INTO petitions.signatures (petition_id, name, email, email_canonical, email_domain,
                 postcode, district, resident, visibility, client_hash, created_at, confirmed_at)
             SELECT $1, 'Person ' || g, $2 || g || '@' || $3, $2 || g || '@' || $3, $3, '56068',
                    'Altstadt', true, 'public', $4, now() - make_interval(mins => $6),
                    CASE WHEN $7 THEN now() - make_interval(mins => $6) END
             FROM generate_series(1, $5) g",
            &[
                &petition,
                &prefix,
                &domain,
                &client_hash,
                &n,
                &minutes_ago,
                &confirmed,
            ],
        )
        .await
        .unwrap();
}

async fn status_of(client: &Client, id: i64) -> String {
    client
        .query_one(
            "SELECT status FROM petitions.petitions WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0)
}

/// (recipient, kind, subject, body) of the queued mails.
async fn outbox(client: &Client) -> Vec<(String, String, String, String)> {
    client
        .query(
            "SELECT recipient, kind, subject, body FROM petitions.outbox ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// (action, actor, object, before, after, details) of a petition's audit entries.
async fn audit(
    client: &Client,
    id: i64,
) -> Vec<(String, String, Option<String>, Value, Value, Value)> {
    client
        .query(
            "SELECT action, actor, object, coalesce(before, 'null'), coalesce(after, 'null'), details
             FROM catalog.audit_log WHERE subject = $1 ORDER BY chain",
            &[&format!("petition:{id}")],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect()
}

/// The counts kept by the trigger and a count of the valid, confirmed signatures.
async fn counts(client: &Client, id: i64) -> (i64, i64) {
    let r = client
        .query_one(
            "SELECT (SELECT coalesce(sum(n), 0) FROM petitions.counts WHERE petition_id = $1)::bigint,
                    (SELECT count(*) FROM petitions.signatures WHERE petition_id = $1
                         AND confirmed_at IS NOT NULL AND invalidated_at IS NULL)",
            &[&id],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn a_moderator_publishes_from_the_queue_with_mail_and_audit() {
    // The demo city: the preview draws the place on its districts.
    let (app, state, client) = app_on(demo_copy().await, |_| {}).await;
    let (cookie, csrf) = moderator(&state).await;
    let id = petition(&client, "moderation", "Längere Grünphase an der Kreuzung").await;
    let old = petition(&client, "moderation", "Mehr Bänke am Deutschen Eck bitte").await;
    client
        .execute(
            "UPDATE petitions.petitions SET confirmed_at = now() - interval '3 days' WHERE id = $1",
            &[&old],
        )
        .await
        .unwrap();

    let queue = staff_get(&app, &cookie, "/admin/petitionen").await;
    assert_eq!(queue.status, 200, "{}", queue.text());
    let text = queue.text();
    assert!(text.contains("Längere Grünphase an der Kreuzung"), "{text}");
    assert!(text.contains("Neu (2)"), "{text}");
    assert!(
        text.contains("wartet schon 3 Tage"),
        "the delay banner: {text}"
    );
    let english = staff_get(&app, &cookie, "/admin/petitionen?lang=en")
        .await
        .text();
    assert!(
        english.contains("has been waiting for moderation for 3 days"),
        "{english}"
    );

    // The page shows the preview and, to staff, the creator's contact.
    let page = staff_get(&app, &cookie, &format!("/admin/petitionen/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let text = page.text();
    assert!(text.contains("erika@example.org") && text.contains("Erika Mustermann"));
    assert!(text.contains(BODY) && text.contains("Altstadt"));
    assert!(
        text.contains("<g class=\"districts\">\n<path d=\"M")
            && text.contains("<title>Altstadt</title></path>"),
        "the districts on the map: {text}"
    );
    let chosen = &text[text.find("<g class=\"chosen\"").unwrap()..];
    let chosen = chosen.lines().nth(1).unwrap();
    assert!(
        chosen.starts_with("<path d=\"M") && chosen.contains("<title>Altstadt</title>"),
        "the petition's district stands out: {chosen}"
    );
    assert!(text.contains("<circle cx="), "the petition's point: {text}");
    assert!(text.contains(&format!("/admin/petitionen/{id}/veroeffentlichen")));

    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/veroeffentlichen"),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("ist veröffentlicht"), "{}", r.text());
    let row = client
        .query_one(
            "SELECT status, published_at IS NOT NULL,
                    round(extract(epoch FROM deadline - now()) / 86400)::int
             FROM petitions.petitions WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "open");
    assert!(row.get::<_, bool>(1));
    assert_eq!(
        row.get::<_, i32>(2),
        i32::try_from(state.config.petitions.duration_days).unwrap()
    );
    let mails = outbox(&client).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].0, "erika@example.org");
    assert_eq!(mails[0].1, "published");
    let entries = audit(&client, id).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let (action, actor, _, before, after, _) = &entries[0];
    assert_eq!(action, "petition.publish");
    assert!(actor.starts_with("staff:"));
    assert_eq!(before["status"], "moderation");
    assert_eq!(after["status"], "open");
    let logged = format!("{entries:?}");
    assert!(
        !logged.contains("erika") && !logged.contains("Mustermann"),
        "{logged}"
    );

    // The history on the page comes from the audit log.
    let text = staff_get(&app, &cookie, &format!("/admin/petitionen/{id}"))
        .await
        .text();
    assert!(
        text.contains("Veröffentlicht") && text.contains("Test Sachbearbeitung"),
        "{text}"
    );

    // Publishing twice: a conflict, in the request's language; nothing more is mailed.
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/veroeffentlichen?lang=en"),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(
        r.text()
            .contains("is not possible for a petition with the status"),
        "{}",
        r.text()
    );
    assert_eq!(outbox(&client).await.len(), 1);
    assert_eq!(audit(&client, id).await.len(), 1);
}

#[tokio::test]
async fn reject_with_a_code_and_text_and_hide_with_a_reason() {
    let (app, state, client) = app(|_| {}).await;
    let (cookie, csrf) = moderator(&state).await;
    let id = petition(&client, "moderation", "Werbung für meinen Laden am Markt").await;

    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/ablehnen"),
        &format!("csrf={csrf}&grund=frech&text=Werbung"),
    )
    .await;
    assert_eq!(r.status, 400, "an unknown code: {}", r.text());
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/ablehnen"),
        &format!("csrf={csrf}&grund=advertising&text="),
    )
    .await;
    assert_eq!(r.status, 400, "no text: {}", r.text());
    assert_eq!(status_of(&client, id).await, "moderation");

    let reason = "Petitionen dürfen nicht für ein Geschäft werben.";
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/ablehnen"),
        &format!("csrf={csrf}&grund=advertising&text={}", enc(reason)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let row = client
        .query_one(
            "SELECT status, reject_code, reject_reason, closed_at IS NOT NULL FROM petitions.petitions WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "rejected");
    assert_eq!(row.get::<_, String>(1), "advertising");
    assert_eq!(row.get::<_, String>(2), reason);
    assert!(row.get::<_, bool>(3));
    let mails = outbox(&client).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].1, "rejected");
    assert!(
        mails[0].3.contains(reason) && mails[0].3.contains("Werbung"),
        "{}",
        mails[0].3
    );
    let entries = audit(&client, id).await;
    assert_eq!(entries[0].0, "petition.reject");
    assert_eq!(entries[0].5["reject_code"], "advertising");
    // Rejected petitions are not published.
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/veroeffentlichen"),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 409);

    // Hiding an open petition.
    let open = petition(&client, "open", "Ein offener Text mit einem Namen darin").await;
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{open}/verbergen"),
        &format!("csrf={csrf}&text=+"),
    )
    .await;
    assert_eq!(r.status, 400, "no reason: {}", r.text());
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{open}/verbergen"),
        &format!("csrf={csrf}&text={}", enc("Nennt eine Privatperson.")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let row = client
        .query_one(
            "SELECT status, hidden_reason FROM petitions.petitions WHERE id = $1",
            &[&open],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "hidden");
    assert_eq!(row.get::<_, String>(1), "Nennt eine Privatperson.");
    let mails = outbox(&client).await;
    assert_eq!(mails.last().unwrap().1, "hidden");
    assert!(mails.last().unwrap().3.contains("Nennt eine Privatperson."));
    let entries = audit(&client, open).await;
    assert_eq!(entries[0].0, "petition.hide");
    assert_eq!(entries[0].3["status"], "open");
    assert_eq!(entries[0].4["status"], "hidden");
    // The queue's hidden tab lists it.
    let text = staff_get(&app, &cookie, "/admin/petitionen?ansicht=verborgen")
        .await
        .text();
    assert!(
        text.contains("Ein offener Text mit einem Namen darin"),
        "{text}"
    );
}

#[tokio::test]
async fn an_edited_title_keeps_the_creators_and_flags_keep_their_note_out_of_the_log() {
    let (app, state, client) = app(|_| {}).await;
    let (cookie, csrf) = moderator(&state).await;
    let id = petition(&client, "moderation", "AMPEL!!! SOFORT ÄNDERN!!!").await;
    for title in [
        "Längere Grünphase an der Ampel",
        "Längere Grünphase an der Fußgängerampel",
    ] {
        let r = staff_post(
            &app,
            &cookie,
            &format!("/admin/petitionen/{id}/titel"),
            &format!("csrf={csrf}&titel={}", enc(title)),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/titel"),
        &format!("csrf={csrf}&titel=kurz"),
    )
    .await;
    assert_eq!(r.status, 400);
    let row = client
        .query_one(
            "SELECT title, original_title FROM petitions.petitions WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, String>(0),
        "Längere Grünphase an der Fußgängerampel"
    );
    assert_eq!(row.get::<_, String>(1), "AMPEL!!! SOFORT ÄNDERN!!!");
    let page = staff_get(&app, &cookie, &format!("/admin/petitionen/{id}"))
        .await
        .text();
    assert!(page.contains("AMPEL!!! SOFORT ÄNDERN!!!"), "{page}");
    let entries = audit(&client, id).await;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].3["title"], "AMPEL!!! SOFORT ÄNDERN!!!");
    assert_eq!(entries[1].4["original_title"], "AMPEL!!! SOFORT ÄNDERN!!!");

    let note = "Ähnlich wie Nr. 4, Herr Meier hat angerufen";
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/markieren"),
        &format!("csrf={csrf}&markiert=ja&notiz={}", enc(note)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let row = client
        .query_one(
            "SELECT flagged, moderation_note FROM petitions.petitions WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, String>(1), note);
    let text = staff_get(&app, &cookie, "/admin/petitionen?ansicht=markiert")
        .await
        .text();
    assert!(
        text.contains("Längere Grünphase an der Fußgängerampel") && text.contains("Markiert (1)"),
        "{text}"
    );
    let entries = audit(&client, id).await;
    assert_eq!(entries[2].0, "petition.flag");
    assert!(!format!("{entries:?}").contains("Meier"));
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/markieren"),
        &format!("csrf={csrf}&markiert=nein"),
    )
    .await;
    assert_eq!(r.status, 200);
    let flagged: bool = client
        .query_one(
            "SELECT flagged FROM petitions.petitions WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!flagged);
}

#[tokio::test]
async fn the_response_is_mailed_to_the_creator_and_the_signers_and_closing_early() {
    let (app, state, client) = app(|_| {}).await;
    let (cookie, csrf) = moderator(&state).await;
    let id = petition(&client, "open", "Ein Zebrastreifen vor der Grundschule").await;
    signatures(&client, id, "eltern", "example.org", "aa11", 3, 5, true).await;
    signatures(&client, id, "offen", "example.org", "aa11", 2, 5, false).await;
    client
        .execute(
            "UPDATE petitions.signatures SET invalidated_at = now() WHERE email = 'eltern3@example.org'",
            &[],
        )
        .await
        .unwrap();

    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/antwort"),
        &format!("csrf={csrf}&antwort=+"),
    )
    .await;
    assert_eq!(r.status, 400);
    let response = "Der Stadtrat hat den Zebrastreifen am 3. März beschlossen.";
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/antwort"),
        &format!("csrf={csrf}&antwort={}", enc(response)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("2 Unterzeichnende"), "{}", r.text());
    let row = client
        .query_one(
            "SELECT response, response_at IS NOT NULL FROM petitions.petitions WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), response);
    assert!(row.get::<_, bool>(1));
    let mails = outbox(&client).await;
    let mut to: Vec<(&str, &str)> = mails.iter().map(|m| (m.0.as_str(), m.1.as_str())).collect();
    to.sort_unstable();
    assert_eq!(
        to,
        [
            ("eltern1@example.org", "antwort"),
            ("eltern2@example.org", "antwort"),
            ("erika@example.org", "response"),
        ]
    );
    assert!(
        mails
            .iter()
            .any(|m| m.1 == "response" && m.3.contains(response))
    );
    // A correction is published but not mailed again.
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/antwort"),
        &format!(
            "csrf={csrf}&antwort={}",
            enc("Der Stadtrat hat den Zebrastreifen beschlossen.")
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(outbox(&client).await.len(), 3);

    // Close early: once.
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/schliessen"),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let row = client
        .query_one(
            "SELECT status, closed_at IS NOT NULL AND closed_at > now() - interval '1 minute'
             FROM petitions.petitions WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "closed");
    assert!(row.get::<_, bool>(1));
    let mails = outbox(&client).await;
    assert_eq!(mails.last().unwrap().1, "closed");
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/schliessen"),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 409);
    let actions: Vec<String> = audit(&client, id).await.into_iter().map(|e| e.0).collect();
    assert_eq!(
        actions,
        ["petition.response", "petition.response", "petition.close"]
    );
}

#[tokio::test]
async fn only_moderators_and_admins_enter() {
    let (app, state, client) = app(|_| {}).await;
    let id = petition(&client, "moderation", "Längere Grünphase an der Kreuzung").await;
    client
        .execute(
            "INSERT INTO auth.departments (id, name) VALUES ('tiefbau', 'Tiefbauamt')",
            &[],
        )
        .await
        .unwrap();
    let (triage, triage_csrf, _) = staff(
        &state,
        "triage@test.example",
        &[(Role::Triage, Some("tiefbau"))],
    )
    .await;
    for path in [
        "/admin/petitionen".to_owned(),
        format!("/admin/petitionen/{id}"),
    ] {
        let r = staff_get(&app, &triage, &path).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        let r = get(&app, &path, &[("accept", "text/html")]).await;
        assert_eq!(r.status, 303, "{path}");
        assert!(r.header("location").starts_with("/admin/login"));
    }
    let r = staff_post(
        &app,
        &triage,
        &format!("/admin/petitionen/{id}/veroeffentlichen"),
        &format!("csrf={triage_csrf}"),
    )
    .await;
    assert_eq!(r.status, 403);
    // A moderator without the session's CSRF token changes nothing either.
    let (cookie, _) = moderator(&state).await;
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/veroeffentlichen"),
        "csrf=falsch",
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(status_of(&client, id).await, "moderation");
    // An admin may.
    let (admin, admin_csrf, _) = staff(&state, "admin@test.example", &[(Role::Admin, None)]).await;
    let r = staff_post(
        &app,
        &admin,
        &format!("/admin/petitionen/{id}/veroeffentlichen"),
        &format!("csrf={admin_csrf}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(status_of(&client, id).await, "open");
    assert!(!audit(&client, id).await.is_empty());
}

#[tokio::test]
async fn bulk_invalidation_by_domain_and_client_corrects_the_counts() {
    let (app, state, client) = app(|_| {}).await;
    let (cookie, csrf) = moderator(&state).await;
    let id = petition(&client, "open", "Ein Zebrastreifen vor der Grundschule").await;
    let other = petition(&client, "open", "Mehr Bäume in der Innenstadt pflanzen").await;
    signatures(
        &client,
        id,
        "bot",
        "spam.example",
        "c0ffee0000000000000000000000aaaa",
        20,
        10,
        true,
    )
    .await;
    signatures(
        &client,
        id,
        "botx",
        "spam.example",
        "c0ffee0000000000000000000000aaaa",
        2,
        10,
        false,
    )
    .await;
    signatures(
        &client,
        id,
        "mensch",
        "web.de",
        "0123456789abcdef0123456789abcdef",
        5,
        30,
        true,
    )
    .await;
    signatures(
        &client,
        other,
        "bot",
        "spam.example",
        "c0ffee0000000000000000000000aaaa",
        4,
        10,
        true,
    )
    .await;
    assert_eq!(counts(&client, id).await, (25, 25));

    // The page shows where signatures come from (domains, client hashes shortened).
    let text = staff_get(&app, &cookie, &format!("/admin/petitionen/{id}"))
        .await
        .text();
    assert!(
        text.contains("spam.example") && text.contains("c0ffee000000<"),
        "{text}"
    );
    assert!(
        !text.contains("c0ffee0000000000000000000000aaaa"),
        "a whole client hash is shown"
    );

    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/ungueltig"),
        &format!("csrf={csrf}&art=domain&schluessel=nope&text=Bots"),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/ungueltig"),
        &format!(
            "csrf={csrf}&art=domain&schluessel=spam.example&text={}",
            enc("Wegwerf-Domain eines Bots")
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text()
            .contains("22 Unterschriften wurden für ungültig erklärt, davon 20 bestätigte"),
        "{}",
        r.text()
    );
    assert_eq!(counts(&client, id).await, (5, 5));
    assert_eq!(
        counts(&client, other).await,
        (4, 4),
        "another petition is untouched"
    );
    let reason: String = client
        .query_one(
            "SELECT invalid_reason FROM petitions.signatures WHERE email = 'bot1@spam.example' AND petition_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(reason, "Wegwerf-Domain eines Bots");
    let entries = audit(&client, id).await;
    assert_eq!(entries.len(), 1);
    let (action, _, _, before, after, details) = &entries[0];
    assert_eq!(action, "petition.invalidate_signatures");
    assert_eq!(details["invalidated"], 22);
    assert_eq!(details["counted"], 20);
    assert_eq!(before["signatures"], 25);
    assert_eq!(after["signatures"], 5);
    assert!(!format!("{entries:?}").contains('@'), "{entries:?}");

    // By client hash (its start), only within a window: the older ones stay.
    signatures(
        &client,
        id,
        "neu",
        "gmx.de",
        "0123456789abcdef0123456789abcdef",
        3,
        1,
        true,
    )
    .await;
    assert_eq!(counts(&client, id).await, (8, 8));
    let from: String = client
        .query_one(
            "SELECT to_char((now() - interval '10 minutes') AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD\"T\"HH24:MI')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/{id}/ungueltig"),
        &format!("csrf={csrf}&art=client&schluessel=0123456789ab&von={from}&text=Ein+Ger%C3%A4t"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("3 Unterschriften wurden"), "{}", r.text());
    assert_eq!(counts(&client, id).await, (5, 5));
    let entries = audit(&client, id).await;
    assert!(
        !format!("{:?}", entries[1]).contains("0123456789ab"),
        "client hashes stay out of the log: {entries:?}"
    );
}

#[tokio::test]
async fn one_domain_signing_far_above_the_others_raises_an_alert() {
    let (app, state, client) = app(|c| {
        c.petitions.trending_min_hour = 20;
        c.petitions.trending_factor = 5;
    })
    .await;
    let (cookie, _) = moderator(&state).await;
    let id = petition(&client, "open", "Ein Zebrastreifen vor der Grundschule").await;
    signatures(
        &client,
        id,
        "bot",
        "spam.example",
        "unbekannt",
        60,
        5,
        false,
    )
    .await;
    for (i, domain) in [
        "web.de",
        "gmx.de",
        "t-online.de",
        "example.org",
        "posteo.de",
    ]
    .iter()
    .enumerate()
    {
        let hash = format!("{i:032x}");
        signatures(&client, id, "mensch", domain, &hash, 3, 5, true).await;
    }
    // Busy but ordinary: more than the minimum, yet the others are as busy (another petition).
    let busy = petition(&client, "open", "Mehr Bäume in der Innenstadt pflanzen").await;
    for domain in ["web.de", "gmx.de", "t-online.de", "example.org"] {
        signatures(&client, busy, "viel", domain, "unbekannt", 25, 5, true).await;
    }
    // Old signatures do not count.
    signatures(
        &client,
        busy,
        "alt",
        "alt.example",
        "unbekannt",
        200,
        120,
        true,
    )
    .await;

    let alerts = stadtkarte_petitions::abuse::trending(&client, &state.config.petitions)
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].petition_id, id);
    assert_eq!(alerts[0].key, "spam.example");
    assert_eq!(alerts[0].count, 60);

    let text = staff_get(&app, &cookie, "/admin/petitionen?ansicht=trends")
        .await
        .text();
    assert!(
        text.contains("spam.example") && text.contains("Auffällige Unterschriften (1)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "/admin/petitionen/{id}?art=domain&amp;schluessel=spam.example&amp;von="
        )),
        "the prefilled form: {text}"
    );
    // The prefilled form.
    let form = staff_get(
        &app,
        &cookie,
        &format!(
            "/admin/petitionen/{id}?art=domain&schluessel=spam.example&von=2025-01-01T10%3A00"
        ),
    )
    .await
    .text();
    assert!(
        form.contains("name=\"schluessel\" value=\"spam.example\""),
        "{form}"
    );
    assert!(form.contains("value=\"2025-01-01T10:00\""), "{form}");
    // The dashboard names the worst one.
    let dashboard = staff_get(&app, &cookie, "/admin").await.text();
    assert!(dashboard.contains("spam.example: 60/h"), "{dashboard}");

    // A client hash signing far above the others alerts as well, shortened.
    signatures(
        &client,
        busy,
        "ein-geraet",
        "mail.example",
        "feedfacefeedfacefeedfacefeedface",
        40,
        2,
        false,
    )
    .await;
    let alerts = stadtkarte_petitions::abuse::trending(&client, &state.config.petitions)
        .await
        .unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.petition_id == busy && a.key == "feedfacefeed"),
        "{alerts:?}"
    );
}

#[tokio::test]
async fn a_comment_hidden_by_three_reports_is_restored() {
    let (app, state, client) = app(|_| {}).await;
    let (cookie, csrf) = moderator(&state).await;
    let id = petition(&client, "open", "Ein Zebrastreifen vor der Grundschule").await;
    let rows = client
        .query(
            "INSERT INTO petitions.comments (petition_id, author, body, reports, hidden, hidden_at)
             VALUES ($1, 'Kritiker', 'Eine deutliche, aber zulässige Meinung.', 3, true, now()),
                    ($1, '', 'Beleidigender Unsinn', 1, false, NULL)
             RETURNING id",
            &[&id],
        )
        .await
        .unwrap();
    let (hidden, reported): (i64, i64) = (rows[0].get(0), rows[1].get(0));
    client
        .execute(
            "INSERT INTO petitions.comment_reports (comment_id, client_hash)
             SELECT $1, 'h' || g FROM generate_series(1, 3) g",
            &[&hidden],
        )
        .await
        .unwrap();

    let text = staff_get(&app, &cookie, "/admin/petitionen?ansicht=kommentare")
        .await
        .text();
    assert!(
        text.contains("Eine deutliche, aber zulässige Meinung.")
            && text.contains("Beleidigender Unsinn"),
        "{text}"
    );
    assert!(text.contains("Gemeldete Kommentare (2)"), "{text}");

    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/kommentare/{hidden}/wiederherstellen"),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(r.header("location").contains("ansicht=kommentare"));
    let row = client
        .query_one(
            "SELECT hidden, reports, hidden_at IS NULL FROM petitions.comments WHERE id = $1",
            &[&hidden],
        )
        .await
        .unwrap();
    assert!(!row.get::<_, bool>(0));
    assert_eq!(row.get::<_, i32>(1), 0);
    assert!(row.get::<_, bool>(2));
    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/kommentare/{hidden}/wiederherstellen"),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 409, "restoring twice");

    let r = staff_post(
        &app,
        &cookie,
        &format!("/admin/petitionen/kommentare/{reported}/verbergen"),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 303);
    let hidden_now: bool = client
        .query_one(
            "SELECT hidden FROM petitions.comments WHERE id = $1",
            &[&reported],
        )
        .await
        .unwrap()
        .get(0);
    assert!(hidden_now);
    let entries = audit(&client, id).await;
    let seen: Vec<(&str, Option<&str>)> = entries
        .iter()
        .map(|e| (e.0.as_str(), e.2.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "petition.comment_restore",
                Some(format!("comment:{hidden}").as_str())
            ),
            (
                "petition.comment_hide",
                Some(format!("comment:{reported}").as_str())
            ),
        ]
    );
    assert_eq!(entries[0].3["reports"], 3);
    assert_eq!(entries[0].4["reports"], 0);
    let r = staff_post(
        &app,
        &cookie,
        "/admin/petitionen/kommentare/999999/verbergen",
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 404);
}
